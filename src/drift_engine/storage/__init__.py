"""Storage: SQLAlchemy models, the engine factory, sessions, and packaged Alembic migrations.

Start-up calls `upgrade(url)` (or `Database.open(url)`, which does it) so the schema is
always current before anything reads or writes.
"""

from drift_engine.storage.database import Database
from drift_engine.storage.engine import make_engine, normalize_url
from drift_engine.storage.migrate import current_revision, downgrade, upgrade

__all__ = ["Database", "current_revision", "downgrade", "make_engine", "normalize_url", "upgrade"]
