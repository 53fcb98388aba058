"""Log output: human lines by default, one JSON object per line for log shippers.

`configure_logging(fmt, level)` sets up the root logger once per process (the `run`
and `dashboard` commands call it from `--log-format` / `--log-level`):

* `human` (default): `2026-01-10 12:00:00 WARNING drift_engine.engine [dn-sol] ...`;
* `json`: `{"ts": "...Z", "level": "info", "logger": "...", "message": "...",
  "engine": "dn-sol", "vault": "dn-sol", "market": "SOL-PERP", "user_order_id": 17}` —
  the context fields appear when the code that logged gave them (`extra={"engine": ...}`)
  and are left out otherwise; an exception adds `"exc"` with its traceback text.

Every handler it installs redacts registered secrets (apprise URL tokens, see
`drift_engine.notify`) from the formatted line, whoever logged it; and the chatty
third-party loggers that could print a request URL (apprise, urllib3, httpx, requests)
are held at WARNING whatever `--log-level` says.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import IO, Any, Literal

LogFormat = Literal["human", "json"]
FORMATS: tuple[str, ...] = ("human", "json")
LEVELS: tuple[str, ...] = ("debug", "info", "warning", "error")

#: `extra=` keys a JSON line carries when present (engine, vault, market, order ...).
CONTEXT_FIELDS = ("engine", "vault", "market", "user_order_id", "order_id", "event", "runner")

#: Loggers that may print URLs (with tokens) at debug/info level.
QUIET_LOGGERS = ("apprise", "urllib3", "httpx", "httpcore", "requests", "requests_oauthlib")

_secrets: set[str] = set()
_secrets_lock = threading.Lock()
_MARK = "_drift_engine_handler"


def register_secrets(values: Iterable[str]) -> None:
    """Strings no log line may show (replaced by `***`), longest first."""
    global _sorted
    with _secrets_lock:
        _secrets.update(v for v in values if v)
        _sorted = sorted(_secrets, key=len, reverse=True)


_sorted: list[str] = []


def redact(text: str) -> str:
    for secret in _sorted:
        if secret in text:
            text = text.replace(secret, "***")
    return text


class _Redacting(logging.Formatter):
    """Wraps a formatter: the formatted line, traceback included, is redacted."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        return redact(self.inner.format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per record (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                out[name] = value if isinstance(value, int | float | bool) else str(value)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exc"] = record.exc_text
        return json.dumps(out, ensure_ascii=False, separators=(",", ":"), default=str)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is when a record is emitted (a test runner may
    swap it between calls)."""

    def __init__(self) -> None:
        super().__init__()

    @property  # type: ignore[override]
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, _value: IO[str]) -> None:
        pass


class HumanFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")


def configure_logging(
    fmt: str = "human", level: str | None = None, *, stream: IO[str] | None = None
) -> logging.Handler:
    """Install the one drift-engine handler on the root logger (replacing an earlier
    one), in `fmt` at `level` (default: warning for human, info for json)."""
    if fmt not in FORMATS:
        raise ValueError(f"log format {fmt!r}: use one of {', '.join(FORMATS)}")
    level = level or ("info" if fmt == "json" else "warning")
    if level.lower() not in LEVELS:
        raise ValueError(f"log level {level!r}: use one of {', '.join(LEVELS)}")
    handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    inner: logging.Formatter = JsonFormatter() if fmt == "json" else HumanFormatter()
    handler.setFormatter(_Redacting(inner))
    setattr(handler, _MARK, True)
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, _MARK, False):
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    return handler


__all__ = [
    "CONTEXT_FIELDS",
    "FORMATS",
    "LEVELS",
    "JsonFormatter",
    "configure_logging",
    "redact",
    "register_secrets",
]
