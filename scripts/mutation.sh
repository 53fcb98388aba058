#!/usr/bin/env bash
# Mutation testing of the money-critical modules (mutation/modules.toml) with mutmut.
#
#   bash scripts/mutation.sh                      # every module; report + surviving list
#   bash scripts/mutation.sh src/drift_engine/sim/rules.py   # some modules (globs work)
#   bash scripts/mutation.sh --recheck [paths]    # after adding tests: re-run what survived
#   bash scripts/mutation.sh --report [paths]     # run nothing: report the kept runs
#   bash scripts/mutation.sh --ci [--base REF]    # functions changed since REF + the fixed
#                                                 # sample; exit 1 on a new surviving mutant
#
# CPU-heavy: runs niced, MUTATION_JOBS (default 2) mutants at a time. Scratch copies and
# logs go to var/mutation/ (MUTATION_WORKDIR; report: report.txt there). See ADR 0016.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || { echo "no .venv: run bash scripts/test.sh first" >&2; exit 2; }
exec nice -n "${MUTATION_NICE:-10}" .venv/bin/python scripts/mutation.py "$@"
