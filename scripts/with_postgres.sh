#!/usr/bin/env bash
# Runs the vault and storage tests against a throwaway PostgreSQL cluster on 127.0.0.1
# (installs Debian's postgresql if missing; the cluster is deleted afterwards).
# scripts/test.sh (and so CI) runs it with `-k postgresql` after the SQLite suite, so the
# PostgreSQL variants that skip without DATABASE_URL run too. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
PORT=${PG_TEST_PORT:-54329}

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
PGBIN=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")
"$PY" -c "import psycopg" 2>/dev/null || "$PY" -m pip install -q 'psycopg[binary]>=3.1'

WORK=$(mktemp -d)
as_pg() {  # the server refuses to run as root
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
[ "$(id -u)" = 0 ] && chown postgres "$WORK"
cleanup() {
    as_pg "$PGBIN/pg_ctl" -D "$WORK/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

as_pg "$PGBIN/initdb" -D "$WORK/data" -U postgres --auth=trust -E UTF8 >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$WORK/data" -l "$WORK/server.log" -w \
    -o "-h 127.0.0.1 -p $PORT -k $WORK -c fsync=off" start >/dev/null
"$PGBIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres drift_engine_test

DATABASE_URL="postgresql://postgres@127.0.0.1:$PORT/drift_engine_test" \
    "$PY" -m pytest tests/vaults tests/storage -q "$@"
