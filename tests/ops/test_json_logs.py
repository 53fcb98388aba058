"""`run --log-format json`: one JSON object a line on stderr, with the engine and vault
where they apply; a notifier URL's secret never appears in any output, and a notifier
that cannot deliver is logged once, not per notice."""

from __future__ import annotations

import json

from tests.engine.run_helpers import clean_env, run_cmd, write_config

SECRET = "s3cr3t-Pa55word"


def test_json_lines_with_engine_context_and_no_secret(tmp_path):
    config = write_config(tmp_path)
    # port 9 (discard) on loopback: nothing listens, every send fails
    config.write_text(
        config.read_text()
        + f'[notify]\nurls = ["json://ops:{SECRET}@127.0.0.1:9/hook"]\n'
        + "attempts = 1\ntimeout_s = 2\n"
    )
    env = clean_env(f"sqlite:///{tmp_path / 'db.sqlite'}")
    r = run_cmd(env, "run", "--config", str(config), "--hours", "24", "--log-format", "json")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert SECRET not in r.stdout + r.stderr
    lines = [json.loads(line) for line in r.stderr.splitlines() if line.strip()]
    assert lines and all({"ts", "level", "logger", "message"} <= set(x) for x in lines)
    engine_lines = [x for x in lines if x.get("engine") == "dn-sol"]
    assert engine_lines and all(x.get("vault") for x in engine_lines)
    failing = [x for x in lines if "failed to deliver" in x["message"]]
    assert len(failing) == 1, failing  # once, though many notices failed
    assert "json://127.0.0.1:9" in failing[0]["message"]
