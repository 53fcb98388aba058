"""The eight bugs of issue #18, reintroduced by hand one at a time: each must fail the
test named for the rule it breaks.

    .venv/bin/python scripts/seeded_mutants.py          # all of them
    .venv/bin/python scripts/seeded_mutants.py 3 5      # some, by number

Each mutant is applied to a scratch copy of `src/` (never the working tree), the test is
run against that copy (PYTHONPATH puts it ahead of the editable install), and the script
checks that the copy was the code imported. Exit 1 if any mutant passes its test or a
patch no longer applies (the code moved: update the patch here). See ADR 0016.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Seeded:
    bug: str
    path: str
    before: str
    after: str
    test: str


SEEDED = [
    Seeded(
        "funding payment floored instead of truncated toward zero",
        "src/drift_engine/core/funding.py",
        "    return _trunc_div(\n"
        "        _funding_payment(funding_rate_delta, base_asset_amount), "
        "AMM_TO_QUOTE_PRECISION_RATIO\n    )",
        "    return _funding_payment(funding_rate_delta, base_asset_amount) "
        "// AMM_TO_QUOTE_PRECISION_RATIO",
        "tests/money/test_funding_rules.py::"
        "test_funding_payment_truncates_toward_zero_when_the_long_pays",
    ),
    Seeded(
        "unsettled funding subtracted from a position's unrealized PnL",
        "src/drift_engine/core/program_math.py",
        "total_unrealized_pnl = unrealized_pnl + unrealized_funding",
        "total_unrealized_pnl = unrealized_pnl - unrealized_funding",
        "tests/money/test_position_value.py::test_unsettled_funding_uses_the_positions_own_side",
    ),
    Seeded(
        "taker fee rounded down",
        "src/drift_engine/core/fees.py",
        "fee = _ceil_div(quote_asset_amount * tier.fee_numerator, tier.fee_denominator)",
        "fee = quote_asset_amount * tier.fee_numerator // tier.fee_denominator",
        "tests/money/test_fee_rules.py::test_taker_fee_rounds_up",
    ),
    Seeded(
        "maker rebate rounded up",
        "src/drift_engine/core/fees.py",
        "rebate = quote_asset_amount * tier.maker_rebate_numerator "
        "// tier.maker_rebate_denominator",
        "rebate = _ceil_div(quote_asset_amount * tier.maker_rebate_numerator, "
        "tier.maker_rebate_denominator)",
        "tests/money/test_fee_rules.py::test_maker_rebate_rounds_down",
    ),
    Seeded(
        "ledger idempotency ignores the fee of a re-booked entry",
        "src/drift_engine/vaults/entries.py",
        "            and self.fee == new.fee\n",
        "",
        "tests/money/test_ledger_rules.py::"
        "test_rebooking_a_key_with_another_fee_is_a_conflict_not_a_replay",
    ),
    Seeded(
        "health floor >= turned into >",
        "src/drift_engine/risk/checks.py",
        "snap.margin.health >= self.floor",
        "snap.margin.health > self.floor",
        "tests/money/test_risk_rules.py::test_health_exactly_at_the_floor_does_not_deleverage",
    ),
    Seeded(
        "no-duplicate send forgets user order ids taken in the same send (`uid in taken`)",
        "src/drift_engine/live/client.py",
        "elif uid in open_ids or uid in taken:",
        "elif uid in open_ids:",
        "tests/money/test_order_sending.py::"
        "test_two_orders_with_one_user_order_id_in_one_send_are_refused_before_signing",
    ),
    Seeded(
        "automatic user order ids forget the ones taken in the same send",
        "src/drift_engine/live/client.py",
        "used = {o.user_order_id for o in (state.open_orders if state else ())} | set(taken)",
        "used = {o.user_order_id for o in (state.open_orders if state else ())}",
        "tests/money/test_order_sending.py::"
        "test_ids_given_to_unnumbered_orders_skip_the_ones_taken_in_the_same_send",
    ),
    Seeded(
        "kill path no longer survives a failing cancel_all",
        "src/drift_engine/engine/engine.py",
        "        try:\n"
        "            cancelled = self.venue.cancel_all(ts)\n"
        "        except Exception as exc:  # noqa: BLE001 - still try to flatten\n"
        "            cancelled = 0\n"
        '            self._log(ts, "error", f"cancel_all failed: {exc}")\n',
        "        cancelled = self.venue.cancel_all(ts)\n",
        "tests/money/test_engine_paths.py::"
        "test_kill_switch_flattens_and_halts_even_when_cancel_all_fails",
    ),
]


def check(number: int, seeded: Seeded, scratch: Path) -> bool:
    src = scratch / "src"
    if src.exists():
        shutil.rmtree(src)
    shutil.copytree(ROOT / "src", src, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    target = scratch / seeded.path
    text = target.read_text()
    if text.count(seeded.before) != 1:
        print(f"[{number}] {seeded.bug}: the patch no longer applies to {seeded.path}")
        return False
    target.write_text(text.replace(seeded.before, seeded.after))
    env = {**os.environ, "PYTHONPATH": str(src), "PYTHONDONTWRITEBYTECODE": "1"}
    where = subprocess.run(
        [sys.executable, "-c", "import drift_engine; print(drift_engine.__file__)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not where.startswith(str(src)):
        raise SystemExit(f"the scratch copy is not what Python imports ({where})")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", seeded.test],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    caught = proc.returncode == 1  # 1: tests failed (not 4/5: usage error, nothing collected)
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-200:]
    verdict = "caught" if caught else "NOT CAUGHT"
    print(f"[{number}] {verdict}: {seeded.bug}\n      {seeded.test}\n      {summary}", flush=True)
    return caught


def main(argv: list[str]) -> int:
    chosen = [int(a) for a in argv] or list(range(1, len(SEEDED) + 1))
    with tempfile.TemporaryDirectory(prefix="seeded-mutants-") as tmp:
        results = [check(n, SEEDED[n - 1], Path(tmp)) for n in chosen]
    print(f"{sum(results)} of {len(results)} seeded bugs caught")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
