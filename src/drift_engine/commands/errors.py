"""One format for every error a user can cause on the command line.

    error: <what is wrong> (<the key, argument, variable or file at fault>)

One line on stderr, never a traceback, and an exit code that says whose move it is:
`EXIT_USAGE` (2) when the command line, the config file or the environment is wrong
(fix the input and run again), `EXIT_REFUSED` (1) when the input was fine but the
operation was refused or could not be done (unknown vault, overdraw, database missing,
port taken, disk full).

Commands call `fail()` / `usage()` for the errors they detect themselves. `cli.py`'s
group calls `report()` on anything that escapes a command, so an error raised deep
inside (a `DriftEngineError`, a pydantic `ValidationError`, an `OSError`, a database
error) still ends as one line; anything else is a bug and keeps its traceback.

This module imports only click/typer: `drift-engine --help` must stay light, so the
database and pydantic error types are recognised through `sys.modules` (if their
package was never imported, no error of theirs can be in flight).
"""

from __future__ import annotations

import contextlib
import errno
import sys
from collections.abc import Iterator
from typing import Any, NoReturn

import typer

EXIT_REFUSED = 1
EXIT_USAGE = 2


def one_line(text: object) -> str:
    """`text` with every run of whitespace (newlines included) made one space."""
    return " ".join(str(text).split())


def format_error(message: object, where: str | None = None) -> str:
    """`error: <message> (<where>)`; `where` is left out when the message names it."""
    line = one_line(message)
    if where and where not in line:
        line = f"{line} ({where})"
    return f"error: {line}"


def fail(message: object, where: str | None = None, *, code: int = EXIT_REFUSED) -> NoReturn:
    """Print the one-line error and exit with `code` (default: a refusal, 1)."""
    typer.echo(format_error(message, where), err=True)
    raise typer.Exit(code)


def usage(message: object, where: str | None = None) -> NoReturn:
    """A bad argument, config key or variable: one line, exit code 2."""
    fail(message, where, code=EXIT_USAGE)


# --------------------------------------------------------------------------- the guard


def _click_kind(exc: BaseException, name: str) -> bool:
    """`exc` is click's `name` (ClickException, Exit, Abort, ...), from click itself or
    from the copy of click that newer typer versions carry (`typer._click`)."""
    return any(
        cls.__name__ == name and cls.__module__.split(".")[0] in ("click", "typer")
        for cls in type(exc).__mro__
    )


def _module_class(module: str, name: str) -> type | None:
    mod = sys.modules.get(module)
    return getattr(mod, name, None) if mod is not None else None


def _is(exc: BaseException, module: str, name: str) -> bool:
    cls = _module_class(module, name)
    return cls is not None and isinstance(exc, cls)


def pydantic_message(exc: Any) -> tuple[str, str]:
    """(where, message) of a pydantic ValidationError's first error."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ())) or exc.title
    return where, first.get("msg", str(exc))


def os_error_message(exc: OSError) -> str:
    """`No space left on device (path)`, without Python's `[Errno 28]` noise."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    if exc.errno == errno.ENOSPC:
        reason = f"{reason}: the disk is full"
    names = [n for n in (exc.filename, exc.filename2) if n]
    return f"{reason} ({', '.join(str(n) for n in names)})" if names else reason


def database_message(exc: Any) -> str:
    """The driver's own first line (e.g. `attempt to write a readonly database`)."""
    orig = getattr(exc, "orig", None)
    text = str(orig) if orig is not None else str(exc)
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return f"database: {first}"


def _did_you_mean(message: str) -> str:
    """click's suggestions in the one voice: `No such option: --prot (Possible options:
    --port)` -> `No such option: --prot; did you mean --port?`."""
    import re

    message = re.sub(r"\s*\(Possible options: ([^)]*)\)", r"; did you mean \1?", message)
    message = re.sub(r"\.?\s*Did you mean ([^?]*)\?", r"; did you mean \1?", message)
    return message


def describe(exc: BaseException) -> tuple[str, int] | None:
    """(one-line error, exit code) for an exception a user can cause, else None (a bug)."""
    if _click_kind(exc, "ClickException"):
        message = exc.format_message().replace("Value error, ", "")  # type: ignore[attr-defined]
        return format_error(_did_you_mean(message)), exc.exit_code  # type: ignore[attr-defined]
    if _is(exc, "drift_engine.core.errors", "DriftEngineError"):
        key_errors = (
            ("drift_engine.config", "ConfigError"),
            ("drift_engine.engine.config_file", "ConfigFileError"),
            ("drift_engine.storage.engine", "DatabaseUrlError"),
        )
        code = EXIT_USAGE if any(_is(exc, m, n) for m, n in key_errors) else EXIT_REFUSED
        return format_error(exc), code
    if _is(exc, "pydantic", "ValidationError"):
        where, message = pydantic_message(exc)
        return format_error(f"{where}: {message}"), EXIT_USAGE
    if _is(exc, "sqlalchemy.exc", "ArgumentError"):
        return format_error(f"database URL: {exc}"), EXIT_USAGE
    if _is(exc, "sqlalchemy.exc", "DBAPIError") or _is(exc, "sqlite3", "Error"):
        return format_error(database_message(exc)), EXIT_REFUSED
    if isinstance(exc, UnicodeError):
        return format_error(f"not UTF-8 text: {exc}"), EXIT_USAGE
    if isinstance(exc, OSError):
        return format_error(os_error_message(exc)), EXIT_REFUSED
    return None


def report(exc: BaseException) -> NoReturn:
    """Print `exc` as one line and exit, if a user can cause it; re-raise it otherwise."""
    described = describe(exc)
    if described is None:
        raise exc
    line, code = described
    typer.echo(line, err=True)
    raise typer.Exit(code) from None


@contextlib.contextmanager
def one_line_errors() -> Iterator[None]:
    """The CLI's guard: user errors escaping the block become one line and an exit code;
    exits already chosen, Ctrl-C, help pages and bugs pass through unchanged."""
    try:
        yield
    except Exception as exc:
        if any(_click_kind(exc, k) for k in ("Exit", "Abort", "NoArgsIsHelpError")):
            raise
        report(exc)


__all__ = [
    "EXIT_REFUSED",
    "EXIT_USAGE",
    "describe",
    "fail",
    "format_error",
    "one_line",
    "one_line_errors",
    "report",
    "usage",
]
