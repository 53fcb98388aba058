"""`check_live_allowed`: LIVE only with `live = true` and a private keypair file; errors
name the setting and the file and never carry the key's bytes."""

from __future__ import annotations

import json
import os

import base58
import pytest
from solders.keypair import Keypair

from drift_engine.config import load_settings
from drift_engine.live.client import DriftClient, KeypairFileError
from drift_engine.live.start import LiveNotAllowedError, check_live_allowed
from tests.live.conftest import fast_config


def _secret_forms(kp: Keypair) -> list[str]:
    secret = bytes(kp)
    return [
        base58.b58encode(secret).decode(),
        base58.b58encode(secret[:32]).decode(),
        json.dumps(list(secret)),
        json.dumps(list(secret), separators=(",", ":")),
        secret.hex(),
    ]


def _no_secret(text: str, kp: Keypair) -> None:
    for form in _secret_forms(kp):
        assert form not in text


def test_allowed_with_live_true_and_a_0600_file(keypair_file):
    assert check_live_allowed(True, keypair_file) == keypair_file
    keypair_file.chmod(0o400)
    assert check_live_allowed(True, str(keypair_file)) == keypair_file


class _Cfg:
    def __init__(self, live):
        self.live = live


@pytest.mark.parametrize("flag", [False, None, "true", 1, _Cfg(False), _Cfg(None)])
def test_refused_unless_config_says_live_true(keypair_file, flag):
    with pytest.raises(LiveNotAllowedError) as err:
        check_live_allowed(flag, keypair_file)
    assert err.value.key == "live" and "live = true" in str(err.value)


def test_a_config_object_with_live_true_is_accepted(keypair_file):
    assert check_live_allowed(_Cfg(True), keypair_file) == keypair_file


def test_settings_without_a_live_flag_are_refused(keypair_file):
    settings = load_settings(keypair_path=keypair_file)
    with pytest.raises(LiveNotAllowedError, match="live"):
        check_live_allowed(settings, settings.keypair_path)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o700 | 0o004, 0o620])
def test_refused_when_group_or_other_can_access_the_key(keypair_file, keypair, mode):
    keypair_file.chmod(mode)
    with pytest.raises(LiveNotAllowedError) as err:
        check_live_allowed(True, keypair_file)
    text = str(err.value)
    assert err.value.key == "keypair_path"
    assert str(keypair_file) in text and "chmod 600" in text and f"{mode:04o}" in text
    _no_secret(text + repr(err.value), keypair)


def test_refused_when_the_file_is_missing_or_not_a_file(tmp_path):
    missing = tmp_path / "nope.json"
    with pytest.raises(LiveNotAllowedError, match="does not exist") as err:
        check_live_allowed(True, missing)
    assert err.value.key == "keypair_path" and str(missing) in str(err.value)
    with pytest.raises(LiveNotAllowedError, match="not a regular file"):
        check_live_allowed(True, tmp_path)
    with pytest.raises(LiveNotAllowedError, match="keypair file path"):
        check_live_allowed(True, None)


def test_errors_on_bad_key_files_never_quote_the_content(tmp_path, keypair):
    # a file holding the secret in base58 (not the CLI's JSON form) must not be echoed
    bad = tmp_path / "id.txt"
    bad.write_text(base58.b58encode(bytes(keypair)).decode())
    bad.chmod(0o600)
    check_live_allowed(True, bad)  # permissions are fine; the format is checked on load
    with pytest.raises(KeypairFileError) as err:
        DriftClient.from_keypair_file(fast_config("http://127.0.0.1:1"), bad)
    _no_secret(str(err.value) + repr(err.value), keypair)
    # 63 of the 64 bytes: not a keypair; the message names the file only
    short = tmp_path / "short.json"
    short.write_text(json.dumps(list(bytes(keypair))[:63]))
    with pytest.raises(KeypairFileError) as err:
        DriftClient.from_keypair_file(fast_config("http://127.0.0.1:1"), short)
    assert str(short) in str(err.value)
    _no_secret(str(err.value), keypair)


def test_client_and_venue_reprs_show_the_public_key_only(keypair_file, keypair):
    from drift_engine.venues.live import LiveVenue

    client = DriftClient.from_keypair_file(fast_config("http://127.0.0.1:1"), keypair_file)
    venue = LiveVenue(client)
    text = repr(client) + str(client) + repr(client._signer) + repr(vars(venue))
    assert str(keypair.pubkey()) in text
    _no_secret(text, keypair)
    assert os.stat(keypair_file).st_mode & 0o077 == 0
