#!/usr/bin/env bash
# Installs everything the test suite needs into ./.venv and runs the whole suite.
# This is the README's test command and the only thing .ci/run calls.
#
# With no arguments: lint, the whole suite (SQLite), then the vault/storage suite's
# PostgreSQL variants against a throwaway cluster on 127.0.0.1 (scripts/with_postgres.sh
# installs Debian's postgresql when missing), then the focused mutation run over the
# money-critical code (scripts/mutation.sh --ci: the functions changed since
# MUTATION_BASE, default HEAD~1, plus a fixed sample; fails on a new surviving mutant).
# With arguments: lint, then pytest with them.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
# The dashboard's browser tests drive Debian's chromium (Playwright never downloads one).
command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)
.venv/bin/ruff check src tests bench scripts run_dashboard.py
if [ "$#" -gt 0 ]; then
    exec .venv/bin/python -m pytest -q "$@"
fi
.venv/bin/python -m pytest -q
PYTHON=.venv/bin/python bash scripts/with_postgres.sh -k postgresql tests/money/test_ledger_rules.py
bash scripts/mutation.sh --ci
