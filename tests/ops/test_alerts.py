"""Alerts reach a local webhook (apprise `json://127.0.0.1:PORT`) during a real paper run:
"halted" with its reason when the engine's health falls below its hard floor; and a
webhook that hangs forever delays no tick (the run finishes while it still hangs).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from tests.engine.run_helpers import clean_env, open_db, run_cmd, write_config


class Receiver:
    """A webhook on 127.0.0.1 (port 0: the kernel picks), recording each POST with the
    wall time it arrived; `hang` holds every request until `release` is set."""

    def __init__(self, *, hang: bool = False) -> None:
        self.posts: list[tuple[float, dict[str, Any]]] = []
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.posts.append((datetime.now().timestamp(), json.loads(body)))
                if hang:
                    receiver.release.wait(300)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def messages(self) -> list[str]:
        return [p["message"] for _, p in self.posts]


@pytest.fixture
def receivers() -> Iterator[tuple[Receiver, Receiver]]:
    with Receiver() as good, Receiver(hang=True) as hanging:
        yield good, hanging


def test_halted_by_the_health_floor_reaches_the_webhook_and_a_hung_one_delays_no_tick(
    database_url, tmp_path, receivers
):
    good, hanging = receivers
    # 6 simulated hours a wall second: the heartbeat records a row (with its wall time)
    # once a wall second, about 9 over the run
    config = write_config(tmp_path, speed=6 * 3600)
    # the hard floor just under a healthy carry's health: the engine halts once it enters
    config.write_text(
        config.read_text()
        + "[engines.risk]\nhealth_floor = 99\ntarget_health = 100\nhalt_health = 98\n\n"
        + "[notify]\n"
        + f'urls = ["json://127.0.0.1:{good.port}/hook", "json://127.0.0.1:{hanging.port}/"]\n'
        + "timeout_s = 120\nattempts = 1\n"
    )
    env = clean_env(database_url)
    r = run_cmd(env, "run", "--config", str(config), "--hours", "48", timeout=240)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]

    halted = [m for m in good.messages() if "halted" in m]
    assert len(halted) == 1, good.messages()
    assert halted[0].startswith("dn-sol halted: health ")
    assert "below the halt floor 98" in halted[0] and "positions flattened" in halted[0]
    assert any("started" in m for m in good.messages())
    # the hung webhook got its first notice and never answered while the run went on
    assert hanging.posts, "the hanging webhook was never called"
    first_hang = hanging.posts[0][0]
    assert not hanging.release.is_set()

    db = open_db(database_url)
    try:
        from drift_engine.storage.models import HeartbeatRow

        with db.read() as s:
            rows = s.execute(select(HeartbeatRow.ts, HeartbeatRow.recorded_at)).all()
    finally:
        db.dispose()
    ticks = sorted(rows)
    stamps = [datetime.fromisoformat(at).timestamp() for _, at in ticks]
    # the recorded ticks are on the 5-minute grid, in order, through the 48 hours ...
    assert all((ts - ticks[0][0]) % 300 == 0 for ts, _ in ticks)
    assert ticks[-1][0] - ticks[0][0] >= 40 * 3600
    assert stamps == sorted(stamps)
    # ... and those after the webhook started hanging were recorded while it hung: the
    # run went on and finished (above) with the request still unanswered
    after = [ts for (ts, _), at in zip(ticks, stamps, strict=True) if at > first_hang]
    assert len(after) >= 5, (after, ticks, first_hang)
    assert after[-1] == ticks[-1][0]
