#!/usr/bin/env python3
"""Serve the drift-engine dashboard over an existing database (same as `drift-engine dashboard`).

python run_dashboard.py [--host 127.0.0.1] [--port 8000] [--database-url URL]
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

try:
    from drift_engine.commands.dashboard import dashboard
except ModuleNotFoundError:  # a checkout that was not installed
    sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))
    from drift_engine.commands.dashboard import dashboard

if __name__ == "__main__":
    typer.run(dashboard)
