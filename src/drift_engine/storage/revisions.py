"""Where the shipped migrations are and which one is newest, without SQLAlchemy or
Alembic: the read-only commands' fast path (`storage/quick.py`) decides from this alone
whether a database is current."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

STORAGE_DIR = Path(__file__).resolve().parent
MIGRATIONS_DIR = STORAGE_DIR / "migrations"
ALEMBIC_INI = STORAGE_DIR / "alembic.ini"

_REVISION = re.compile(r'^revision(?:: [^=]+)? = "([^"]+)"$', re.M)
_DOWN = re.compile(r'^down_revision(?:: [^=]+)? = (None|"[^"]+")$', re.M)


@cache
def shipped_head() -> str | None:
    """The newest shipped migration, read from the files' `revision` / `down_revision`
    lines without importing Alembic (the read-only commands' fast path). None when the
    files do not form one simple chain; callers then ask Alembic (`head_revision`)."""
    revisions: dict[str, str | None] = {}
    for path in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        rev, down = _REVISION.search(text), _DOWN.search(text)
        if rev is None or down is None:
            return None
        revisions[rev.group(1)] = None if down.group(1) == "None" else down.group(1).strip('"')
    parents = {d for d in revisions.values() if d is not None}
    heads = [r for r in revisions if r not in parents]
    return heads[0] if len(heads) == 1 and parents <= set(revisions) else None
