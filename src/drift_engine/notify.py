"""Alerts: one notifier fan-out for the engines, the runner and the live path (STYLE.md §8).

Everything that should reach a person is a `Notice(kind, engine_id, text)`. The one
`Notifier` gives each notice its level from the config (`[notify.levels]`: a level per
kind, "off" drops it) and hands it to every sink whose `min_level` it reaches:

* `AppriseSink` — one apprise URL each (`[notify] urls`: Telegram, Discord, Slack,
  ntfy, e-mail, `json://` webhooks ... anything apprise knows);
* `CallbackSink` — a function: the dashboard's SSE wake-up is one, tests use others.

Sending never blocks the caller: each sink has its own bounded queue and worker thread,
so a sink that hangs delays neither the heartbeat nor the other sinks. A notice that
finds a sink's queue full is dropped (counted, logged once). A send is tried
`attempts` times with a short backoff and then given up: nothing retries forever. A
failing sink is logged once — and once more when it delivers again — never per notice.

Secrets: apprise URLs carry tokens and passwords. A sink is named by its scheme (and,
for plain webhooks, its host) only; every secret part of every configured URL is
registered with `drift_engine.logs` so that no log line shows it, whoever logs it
(apprise itself, urllib3 at debug level); the config holds the URLs as `SecretStr`.

`EngineNotices` turns the engine's own events (`DriftEngine.on_event`) into notices:
transitions (started, stopped, paused, reducing = health below floor, halted, failed),
an operator's kill, liquidations, fills.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

log = logging.getLogger("drift_engine.notify")


class NoticeKind(enum.StrEnum):
    STARTED = "started"
    STOPPED = "stopped"
    PAUSED = "paused"
    HALTED = "halted"
    FAILED = "failed"
    KILL = "kill"
    HEALTH_FLOOR = "health_floor"
    LIQUIDATION = "liquidation"
    VAULT_STALE = "vault_stale"
    FILL = "fill"
    DAILY_SUMMARY = "daily_summary"
    RUNNER = "runner"  # a runner started, stopped, took engines over or lost them
    CONTROL = "control"  # an operator action queued from the dashboard (SSE wake-up)


class Level(enum.IntEnum):
    """How loud a notice is; a sink gets notices at or above its `min_level`."""

    OFF = 0
    INFO = 1
    WARNING = 2
    CRITICAL = 3

    @classmethod
    def parse(cls, value: Any) -> Level:
        if isinstance(value, Level):
            return value
        if isinstance(value, str) and value.strip().upper() in cls.__members__:
            return cls[value.strip().upper()]
        raise ValueError(f"{value!r} is not a level (off, info, warning, critical)")


#: The level of each kind unless `[notify.levels]` says otherwise.
DEFAULT_LEVELS: dict[NoticeKind, Level] = {
    NoticeKind.STARTED: Level.INFO,
    NoticeKind.STOPPED: Level.INFO,
    NoticeKind.PAUSED: Level.INFO,
    NoticeKind.HALTED: Level.CRITICAL,
    NoticeKind.FAILED: Level.CRITICAL,
    NoticeKind.KILL: Level.CRITICAL,
    NoticeKind.HEALTH_FLOOR: Level.WARNING,
    NoticeKind.LIQUIDATION: Level.CRITICAL,
    NoticeKind.VAULT_STALE: Level.WARNING,
    NoticeKind.FILL: Level.OFF,
    NoticeKind.DAILY_SUMMARY: Level.INFO,
    NoticeKind.RUNNER: Level.INFO,
    NoticeKind.CONTROL: Level.OFF,
}


@dataclass(frozen=True)
class Notice:
    """Something a person should hear about. `engine_id` is None for the runner's own."""

    kind: NoticeKind
    engine_id: str | None
    text: str
    ts: int | None = None  # engine time, when it has one
    level: Level = Level.INFO  # set by the Notifier from the config
    data: Mapping[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        who = f" {self.engine_id}" if self.engine_id else ""
        return f"drift-engine{who}: {self.kind.value.replace('_', ' ')}"


class NotifyError(RuntimeError):
    """A sink could not deliver a notice (the message never holds a URL)."""


class Sink(Protocol):
    """Where notices go. `send` raises (anything) when it could not deliver."""

    name: str
    min_level: Level

    def send(self, notice: Notice) -> None: ...


# --------------------------------------------------------------------------- secrets
#: Schemes whose host is an address, not a token (the host may be shown).
WEBHOOK_SCHEMES = frozenset({"json", "jsons", "xml", "xmls", "form", "forms"})
#: Shorter parts of a URL are not treated as secrets (they would blank ordinary words).
MIN_SECRET_LEN = 6


def describe_url(url: str) -> str:
    """A name for an apprise URL that holds none of its secrets: the scheme, and the host
    for plain webhooks (`json://127.0.0.1:8080`); e.g. `tgram://…` for Telegram."""
    parts = urlsplit(url.strip())
    scheme = (parts.scheme or "?").lower()
    if scheme in WEBHOOK_SCHEMES:
        try:
            host = parts.hostname or ""
            port = f":{parts.port}" if parts.port else ""
        except ValueError:
            host, port = "", ""
        if host:
            return f"{scheme}://{host}{port}"
    return f"{scheme}://…"


def url_secrets(url: str) -> set[str]:
    """The parts of an apprise URL that may be secret: user and password, every path
    segment and query value, and (but for plain webhooks) the host, each as written and
    URL-decoded."""
    parts = urlsplit(url.strip())
    scheme = (parts.scheme or "").lower()
    found: set[str] = set()
    netloc = parts.netloc
    userinfo, _, hostport = netloc.rpartition("@")
    if userinfo:
        found.update(userinfo.split(":", 1))
    if scheme not in WEBHOOK_SCHEMES:
        found.update(hostport.split(":"))
        found.add(hostport)
    found.update(parts.path.split("/"))
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        found.add(value)
        if key.startswith(("+", "-", ":")):  # header / payload values keyed by name
            found.add(key[1:])
    found.update(x.split("=", 1)[-1] for x in parts.fragment.split("&"))
    out = set()
    for part in found:
        for value in (part, unquote(part)):
            if len(value) >= MIN_SECRET_LEN:
                out.add(value)
    return out


# --------------------------------------------------------------------------- config
class NotifyUrlConfig(BaseModel):
    """An apprise URL with its own minimum level, e.g. a phone only for critical."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: SecretStr
    min_level: str = "info"

    @field_validator("url")
    @classmethod
    def _usable(cls, v: SecretStr) -> SecretStr:
        if instantiate(v.get_secret_value()) is None:
            raise ValueError(f"{describe_url(v.get_secret_value())} is not a URL apprise can use")
        return v

    @field_validator("min_level")
    @classmethod
    def _level(cls, v: str) -> str:
        Level.parse(v)
        return v.lower()


def instantiate(url: str) -> Any:
    """apprise's plugin for `url`, or None; apprise's own log lines about a bad URL (which
    would quote it) are silenced."""
    import apprise

    logger = logging.getLogger("apprise")
    was = logger.disabled
    logger.disabled = True
    try:
        return apprise.Apprise.instantiate(url.strip(), suppress_exceptions=True)
    finally:
        logger.disabled = was


class NotifyConfig(BaseModel):
    """`[notify]`: where alerts go and how loud each kind is.

    [notify]
    urls = ["ntfy://my-topic", {url = "tgram://TOKEN/CHAT", min_level = "critical"}]
    [notify.levels]
    fill = "info"       # off | info | warning | critical
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    urls: list[NotifyUrlConfig] = Field(
        default_factory=list,
        description="apprise URLs, or tables {url, min_level} (secrets: never logged or shown)",
    )
    levels: dict[str, str] = Field(
        default_factory=dict, description="level per notice kind: off, info, warning, critical"
    )
    timeout_s: float = Field(10.0, gt=0, le=120, description="One send's connect/read timeout")
    attempts: int = Field(3, ge=1, le=10, description="Tries per notice before giving it up")
    queue_size: int = Field(200, ge=1, le=100_000, description="Notices waiting per sink")

    @field_validator("urls", mode="before")
    @classmethod
    def _plain_strings(cls, v: Any) -> Any:
        if isinstance(v, list):
            return [{"url": item} if isinstance(item, str) else item for item in v]
        return v

    @field_validator("levels")
    @classmethod
    def _levels(cls, v: dict[str, str]) -> dict[str, str]:
        kinds = {k.value for k in NoticeKind}
        for kind, level in v.items():
            if kind not in kinds:
                raise ValueError(
                    f"unknown notice kind {kind!r} (one of {', '.join(sorted(kinds))})"
                )
            Level.parse(level)
        return v

    def level_map(self) -> dict[NoticeKind, Level]:
        out = dict(DEFAULT_LEVELS)
        out.update({NoticeKind(k): Level.parse(v) for k, v in self.levels.items()})
        return out

    def entries(self) -> list[tuple[str, Level]]:
        """(url, min_level) of every configured URL (the URL in clear: handle with care)."""
        return [(u.url.get_secret_value(), Level.parse(u.min_level)) for u in self.urls]


# --------------------------------------------------------------------------- sinks
class AppriseSink:
    """One apprise URL. The URL is kept only inside apprise's plugin object."""

    def __init__(self, url: str, *, min_level: Level = Level.INFO, timeout_s: float = 10.0):
        from drift_engine.logs import register_secrets

        register_secrets(url_secrets(url))
        plugin = instantiate(url)
        if plugin is None:
            raise NotifyError(f"{describe_url(url)}: not an apprise URL apprise can use")
        for attr in ("socket_connect_timeout", "socket_read_timeout"):
            if hasattr(plugin, attr):
                setattr(plugin, attr, float(timeout_s))
        self._plugin = plugin
        self.name = describe_url(url)
        self.min_level = min_level

    def send(self, notice: Notice) -> None:
        import apprise

        kind = {
            Level.INFO: apprise.NotifyType.INFO,
            Level.WARNING: apprise.NotifyType.WARNING,
            Level.CRITICAL: apprise.NotifyType.FAILURE,
        }.get(notice.level, apprise.NotifyType.INFO)
        if not self._plugin.notify(body=notice.text, title=notice.title, notify_type=kind):
            raise NotifyError(f"{self.name} did not accept the notice")

    def __repr__(self) -> str:
        return f"AppriseSink({self.name})"


class CallbackSink:
    """A function as a sink (the dashboard's SSE wake-up; tests)."""

    def __init__(
        self, name: str, fn: Callable[[Notice], Any], *, min_level: Level = Level.OFF
    ) -> None:
        self.name = name
        self.min_level = min_level
        self._fn = fn

    def send(self, notice: Notice) -> None:
        self._fn(notice)


# --------------------------------------------------------------------------- fan-out
_STOP = object()


class _Worker:
    """One sink's queue and thread: sends in order, a bounded number of tries each."""

    def __init__(self, sink: Sink, *, queue_size: int, attempts: int, backoff_s: float) -> None:
        self.sink = sink
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self.stats = {"sent": 0, "failed": 0, "dropped": 0}
        self.failing = False  # logged once when it starts failing, once when it recovers
        self._full_logged = False
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"notify-{sink.name}", daemon=True)
        self.thread.start()

    def offer(self, notice: Notice) -> bool:
        try:
            self.queue.put_nowait(notice)
        except queue.Full:
            self.stats["dropped"] += 1
            if not self._full_logged:
                self._full_logged = True
                log.warning(
                    "notifier %s is behind (%d notices waiting): new notices to it are "
                    "dropped until it catches up",
                    self.sink.name,
                    self.queue.maxsize,
                )
            return False
        return True

    def _run(self) -> None:
        while True:
            item = self.queue.get()
            if item is _STOP:
                return
            self._deliver(item)
            if self.queue.empty():
                self._full_logged = False

    def _deliver(self, notice: Notice) -> None:
        error = ""
        for attempt in range(1, self.attempts + 1):
            try:
                self.sink.send(notice)
            except Exception as exc:  # noqa: BLE001 - a sink's failure is its own
                # the type only: a message might quote a URL
                error = type(exc).__name__ if not isinstance(exc, NotifyError) else str(exc)
                if attempt < self.attempts and self._stop.wait(self.backoff_s * attempt):
                    break  # closing: no more tries
                continue
            self.stats["sent"] += 1
            if self.failing:
                self.failing = False
                log.warning("notifier %s delivers again", self.sink.name)
            return
        self.stats["failed"] += 1
        if not self.failing:
            self.failing = True
            log.warning(
                "notifier %s failed to deliver a %s notice after %d tries (%s); further "
                "failures are not logged until it delivers again",
                self.sink.name,
                notice.kind.value,
                self.attempts,
                error,
            )

    def close(self, deadline: float) -> int:
        """Stop after what is queued, waiting until `deadline` (monotonic); returns the
        notices left undelivered."""
        with contextlib.suppress(queue.Full):
            self.queue.put(_STOP, timeout=max(0.0, deadline - time.monotonic()))
        self.thread.join(max(0.0, deadline - time.monotonic()))
        if self.thread.is_alive():
            self._stop.set()  # cut retries short; a send in progress finishes on its own
            return self.queue.qsize()
        return 0


class Notifier:
    """The fan-out: `notify(notice)` returns at once; each sink delivers on its own."""

    def __init__(
        self,
        sinks: Iterable[Sink] = (),
        *,
        levels: Mapping[NoticeKind, Level] | None = None,
        queue_size: int = 200,
        attempts: int = 3,
        backoff_s: float = 1.0,
    ) -> None:
        self.levels = dict(DEFAULT_LEVELS)
        self.levels.update(levels or {})
        self.queue_size = queue_size
        self.attempts = attempts
        self.backoff_s = backoff_s
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()
        self.closed = False
        for sink in sinks:
            self.add(sink)

    @classmethod
    def from_config(cls, config: NotifyConfig | None, **kw: Any) -> Notifier:
        """The fan-out with one `AppriseSink` per configured URL. A URL apprise cannot use
        is logged (by scheme only) and left out; the others still work."""
        if config is None:
            return cls(**kw)
        out = cls(
            levels=config.level_map(),
            queue_size=config.queue_size,
            attempts=config.attempts,
            **kw,
        )
        for url, min_level in config.entries():
            try:
                out.add(AppriseSink(url, min_level=min_level, timeout_s=config.timeout_s))
            except NotifyError as exc:
                log.warning("notify: %s", exc)
        return out

    def add(self, sink: Sink) -> Sink:
        worker = _Worker(
            sink, queue_size=self.queue_size, attempts=self.attempts, backoff_s=self.backoff_s
        )
        with self._lock:
            self._workers = [*self._workers, worker]
        return sink

    @property
    def sinks(self) -> list[Sink]:
        return [w.sink for w in self._workers]

    def level_of(self, kind: NoticeKind) -> Level:
        return self.levels.get(kind, Level.INFO)

    def notify(self, notice: Notice) -> Notice:
        """Give `notice` its level and queue it for every sink that wants it. Never
        blocks, never raises."""
        level = self.level_of(notice.kind)
        if notice.level != level:
            notice = dataclasses.replace(notice, level=level)
        if self.closed:
            return notice
        for worker in self._workers:
            if level >= worker.sink.min_level:  # an OFF notice reaches OFF sinks only
                worker.offer(notice)
        return notice

    def send(self, kind: NoticeKind, engine_id: str | None, text: str, **kw: Any) -> Notice:
        return self.notify(Notice(kind, engine_id, text, **kw))

    def stats(self) -> dict[str, dict[str, int]]:
        """Per sink name: notices sent, failed (all tries), dropped (queue full)."""
        out: dict[str, dict[str, int]] = {}
        for w in self._workers:
            mine = out.setdefault(w.sink.name, {"sent": 0, "failed": 0, "dropped": 0})
            for k, v in w.stats.items():
                mine[k] += v
        return out

    def failing(self) -> list[str]:
        return [w.sink.name for w in self._workers if w.failing]

    def close(self, timeout_s: float = 5.0) -> int:
        """Deliver what is queued for up to `timeout_s`, then stop; returns how many
        notices were left undelivered (their threads are daemons: exit never waits)."""
        self.closed = True
        deadline = time.monotonic() + timeout_s
        left = sum(w.close(deadline) for w in self._workers)
        if left:
            log.warning("notify: %d notice(s) not delivered before exit", left)
        return left


# --------------------------------------------------------------------------- engines
def _money(micro: Any) -> str:
    try:
        return f"{int(micro) / 1e6:,.2f} USDC"
    except (TypeError, ValueError):
        return str(micro)


class EngineNotices:
    """`DriftEngine.on_event` -> notices (set `engine.on_event = EngineNotices(n)`).

    A transition is the one notice of a state change: to RUNNING from a stop, pause or
    halt ("started"), STOPPED, PAUSED, REDUCING ("health below floor", with the risk
    check's reason), HALTED ("halted" with its reason; "failed" when the heartbeat
    isolated an engine that raised). An operator's kill is "kill" (its transition to
    HALTED is not told twice); a risk halt (drawdown, hard health floor) is "halted".
    Liquidations and fills (the latter off by default) come from their own events."""

    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier

    def __call__(self, engine_id: str, ts: int, kind: str, message: str, data: Any) -> None:
        try:
            for notice in self.notices(engine_id, ts, kind, message, data or {}):
                self.notifier.notify(notice)
        except Exception:  # noqa: BLE001 - an alert must never break a tick
            log.exception("could not turn engine event %s into a notice", kind)

    @staticmethod
    def notices(
        engine_id: str, ts: int, kind: str, message: str, data: Mapping[str, Any]
    ) -> list[Notice]:
        def one(k: NoticeKind, text: str, **extra: Any) -> list[Notice]:
            return [Notice(k, engine_id, f"{engine_id} {text}", ts, data=extra)]

        if kind == "transition":
            old, new, reason = data.get("from"), data.get("to"), str(data.get("reason", ""))
            if new == "running" and old in ("stopped", "paused", "halted", None):
                return one(NoticeKind.STARTED, f"started ({reason})")
            if new == "stopped":
                return one(NoticeKind.STOPPED, f"stopped: {reason}")
            if new == "paused":
                return one(NoticeKind.PAUSED, f"paused: {reason}")
            if new == "reducing":
                return one(NoticeKind.HEALTH_FLOOR, f"health below its floor, reducing: {reason}")
            if new != "halted" or reason == "operator kill":  # a kill is told by its event
                return []
            if reason.startswith("failed:"):
                error = reason.removeprefix("failed:").strip()
                return one(NoticeKind.FAILED, f"failed and is halted: {error}", reason=error)
            return one(NoticeKind.HALTED, f"halted: {reason} (positions flattened)", reason=reason)
        if kind == "kill" and message == "operator kill":
            text = "kill switch pulled by the operator: orders cancelled, positions flattened"
            return one(NoticeKind.KILL, text, reason=message)
        if kind == "liquidation":
            return one(NoticeKind.LIQUIDATION, f"LIQUIDATED: {message}", **dict(data))
        if kind == "orders" and int(data.get("fills", 0) or 0) > 0:
            return one(NoticeKind.FILL, message)
        return []


def daily_summary(rows: Iterable[Mapping[str, Any]], day: str) -> Notice:
    """The daily summary notice from per-engine figures (`engine`, `state`, `equity`,
    `pnl`, `funding`, `health`; money micro-USDC)."""
    lines = [f"drift-engine daily summary {day}"]
    for r in rows:
        health = r.get("health")
        lines.append(
            f"{r['engine']}: {str(r.get('state', '?')).upper()} equity {_money(r.get('equity'))}, "
            f"PnL {_money(r.get('pnl'))}, funding {_money(r.get('funding'))}"
            + (f", health {health}" if health is not None else "")
        )
    return Notice(NoticeKind.DAILY_SUMMARY, None, "\n".join(lines))


__all__ = [
    "DEFAULT_LEVELS",
    "AppriseSink",
    "CallbackSink",
    "EngineNotices",
    "Level",
    "Notice",
    "NoticeKind",
    "NotifyConfig",
    "NotifyError",
    "NotifyUrlConfig",
    "Notifier",
    "Sink",
    "daily_summary",
    "describe_url",
    "url_secrets",
]
