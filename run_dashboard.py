#!/usr/bin/env python3
"""Serve the drift-engine dashboard over an existing database (same as `drift-engine dashboard`).

python run_dashboard.py [--host 127.0.0.1] [--port 8000] [--database-url URL]
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    from drift_engine.cli import app
except ModuleNotFoundError:  # a checkout that was not installed
    sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))
    from drift_engine.cli import app

if __name__ == "__main__":
    # through the main CLI, so errors get its one-line format (commands/errors.py)
    app(args=["dashboard", *sys.argv[1:]], prog_name="drift-engine")
