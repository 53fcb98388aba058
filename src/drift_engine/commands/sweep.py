"""`drift-engine sweep`: a grid, an Optuna study or a walk-forward test of a strategy,
on all local cores or on a Ray cluster (drift_engine/research)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from drift_engine.commands.errors import format_error
from drift_engine.commands.params import MAX_SEED, parse_usdc


def _fail(err: Console, message: str) -> typer.Exit:
    typer.echo(format_error(message), err=True)  # the CLI's one format (commands/errors.py)
    return typer.Exit(code=2)


def _day(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def _pct(v: Any) -> str:
    return "-" if v is None else f"{v:.2%}"


def _num(v: Any) -> str:
    return "-" if v is None else f"{v:.3g}"


def _objective_text(objective: str, v: Any) -> str:
    return _pct(v) if objective == "net_apr" else _num(v)


def _usdc(micro: Any) -> str:
    return "-" if micro is None else f"{micro / 1e6:,.2f}"


def sweep(
    strategy: str = typer.Option(
        "delta-neutral", "--strategy", help="A name, module:Class or path/to/file.py:Class."
    ),
    market: str = typer.Option("SOL-PERP", "--market", help="Perp market, e.g. SOL-PERP."),
    start: str = typer.Option(..., "--start", help="Start date (UTC), e.g. 2026-01-10."),
    end: str = typer.Option(..., "--end", help="End date (UTC, exclusive)."),
    grid: list[str] = typer.Option(
        [], "--grid", help="Swept parameter: name=lo:hi:step (inclusive) or name=a,b,c."
    ),
    param: list[str] = typer.Option([], "--param", help="Fixed parameter key=value."),
    optimize: int | None = typer.Option(
        None, "--optimize", min=1, help="Run an Optuna study of N trials over the grid's space."
    ),
    objective: str = typer.Option("net_apr", "--objective", help="net_apr, sharpe or calmar."),
    walk_forward: str | None = typer.Option(
        None, "--walk-forward", help="TRAIN:TEST windows, e.g. 90d:30d (d, h or w)."
    ),
    study: str | None = typer.Option(
        None, "--study", help="Optuna study name (default: derived from the question)."
    ),
    seed: int = typer.Option(0, "--seed", min=0, max=MAX_SEED, help="Seed of Optuna's sampler."),
    source: str = typer.Option("auto", "--source", help="bundled, synthetic, or auto."),
    data_seed: int = typer.Option(
        7, "--data-seed", min=0, max=MAX_SEED, help="Seed of synthetic prices/funding."
    ),
    capital: Any = typer.Option(
        "10000", "--capital", parser=parse_usdc, metavar="USDC", help="Starting USDC of each run."
    ),
    interval: int = typer.Option(
        60, "--interval", min=1, max=86_400, help="Engine tick, seconds of data time."
    ),
    workers: int | None = typer.Option(
        None, "--workers", min=1, help="Parallel runs (default: all local cores)."
    ),
    ray: bool = typer.Option(
        False, "--ray", help="Run on Ray (DRIFT_ENGINE_RAY_ADDRESS, else a local cluster)."
    ),
    ray_address: str | None = typer.Option(
        None, "--ray-address", help="Ray cluster address, e.g. ray://host:10001."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the results as one JSON object."),
    output: Path | None = typer.Option(None, "--output", help="Also write the JSON to FILE."),
    plot: str | None = typer.Option(None, "--plot", help="Write a chart: FILE.png."),
    top: int = typer.Option(15, "--top", min=1, help="Rows of the results table."),
) -> None:
    """Sweep a strategy's parameters: every grid point, an Optuna study (--optimize N) or
    walk-forward (--walk-forward TRAIN:TEST), in parallel, with honest statistics."""
    from drift_engine.backtest.runner import parse_date
    from drift_engine.commands.backtest import _window, parse_params
    from drift_engine.engine.admission import AdmissionError, check_capital, check_perp
    from drift_engine.research.space import SearchSpace, SpaceError, check_space
    from drift_engine.research.stats import OBJECTIVES
    from drift_engine.research.walkforward import parse_walk_forward, windows
    from drift_engine.strategies.loading import StrategyLoadError, StrategyRef

    err = Console(stderr=True)
    t0, t1 = _window(parse_date, start, end)  # ISO dates, 2000-2100, end after start
    if 86_400 % interval:
        raise _fail(err, f"--interval: {interval} does not divide a day (86400 s)")
    try:
        check_perp(market, source="synthetic" if source == "auto" else source)
        capital_micro = check_capital(capital, market)
    except AdmissionError as exc:
        raise _fail(err, f"--market/--capital: {exc}") from None
    if objective not in OBJECTIVES:
        raise _fail(err, f"--objective {objective!r}: one of {', '.join(OBJECTIVES)}")
    if plot and not plot.endswith(".png"):
        raise _fail(err, f"--plot {plot}: needs a .png file name")
    if not grid:
        raise _fail(err, "--grid: give at least one swept parameter, e.g. entry_apr=0.02:0.1:0.01")
    try:
        ref = StrategyRef.of(strategy)
        cls = ref.load()
    except StrategyLoadError as exc:
        raise _fail(err, f"--strategy: {exc}") from None
    try:
        fixed = parse_params(param)
    except typer.BadParameter as exc:
        raise _fail(err, f"--param: {exc.message}") from None
    try:
        space = SearchSpace.parse(grid)
        check_space(cls, space, fixed)
    except SpaceError as exc:
        raise _fail(err, str(exc)) from None
    wins = None
    if walk_forward:
        try:
            train_s, test_s = parse_walk_forward(walk_forward)
            wins = windows(t0, t1, train_s, test_s)
        except ValueError as exc:
            raise _fail(err, f"--walk-forward: {exc}") from None

    from drift_engine.research.sweep import SweepTask, planned_runs

    task = SweepTask(ref, market, t0, t1, space, fixed, objective, capital_micro, interval)
    markets = _markets(task, cls)
    storage = name = where = None
    if optimize:
        storage, name, where = _study(err, task, study, source, data_seed, walk_forward)
    from drift_engine.research.data import load_market_data, resolve_source

    try:
        data = load_market_data(resolve_source(source, market, t0, t1), markets, t0, t1, data_seed)
    except (ValueError, KeyError) as exc:
        raise _fail(err, f"--source/--start/--end: {exc}") from None

    from drift_engine.research.pools import open_pool
    from drift_engine.research.pools import ray_address as pick_ray

    if wins is not None:
        per_window = optimize or planned_runs(task)
        total = len(wins) * (per_window + 1)
    elif optimize:
        from drift_engine.research.sweep import finished_trials

        total = max(0, optimize - finished_trials(storage, name))  # a resumed study
    else:
        total = planned_runs(task)
    address = pick_ray(ray, ray_address)
    try:
        pool = open_pool(data, workers=workers, ray=address)
    except RuntimeError as exc:
        raise _fail(err, f"--ray: {exc}") from None
    where_runs = f"Ray ({address})" if address else f"{pool.workers} local worker(s)"
    err.print(
        f"sweep {ref.spec} on {', '.join(markets)} {_day(t0)} -> {_day(t1)}: {total} runs on "
        f"{where_runs}; data: {data.label}"
        + (f"; Optuna study {name!r} in {where}" if name else ""),
        highlight=False,
    )
    try:
        result = _run(task, pool, wins, optimize, storage, name, seed, total, err, as_json)
    finally:
        pool.close()

    doc = result.to_json_dict()
    doc["data_label"] = data.label
    if output is not None:
        output.write_text(json.dumps(doc, default=str, indent=1))
    if plot:
        from drift_engine.research.plots import write_sweep_plot, write_walk_forward_plot

        if wins is not None:
            write_walk_forward_plot(result, plot)
        else:
            write_sweep_plot(result, plot)
    if as_json:
        sys.stdout.write(json.dumps(doc, default=str) + "\n")
        return
    console = Console()
    if wins is not None:
        _print_walk_forward(console, result)
    else:
        _print_sweep(console, result, top)
    console.print(f"data: {data.label}", highlight=False)
    if output is not None:
        console.print(f"results written to {output}")
    if plot:
        console.print(f"chart written to {plot}")


def _markets(task: Any, cls: Any) -> list[str]:
    """Every perp any configuration of the sweep trades (loaded once for all runs)."""
    from drift_engine.research.space import invalid_reason

    out: list[str] = []
    for point in task.space.grid()[:10_000]:
        params = task.params(point)
        if invalid_reason(cls, params) is None:
            out += cls(params).markets() or [task.market]
    return list(dict.fromkeys(out or [task.market]))


def _study(err: Console, task: Any, study: str | None, source: str, data_seed: int,
           walk_forward: str | None) -> tuple[Any, str, str]:  # fmt: skip
    from drift_engine.config import ConfigError, load_settings
    from drift_engine.research.study import open_storage, study_name

    try:
        url = load_settings().resolved_database_url
        storage, where = open_storage(url)
    except (ConfigError, ValueError) as exc:
        raise _fail(err, str(exc)) from None
    definition = {
        "strategy": task.strategy.load().name or task.strategy.spec,
        "spec": task.strategy.spec,
        "source_digest": hash_text(task.strategy.source) if task.strategy.source else None,
        "market": task.market,
        "start": task.start,
        "end": task.end,
        "space": {d.name: list(d.values) for d in task.space.dimensions},
        "fixed": task.fixed,
        "objective": task.objective,
        "capital": task.capital,
        "interval": task.interval_s,
        "source": source,
        "data_seed": data_seed,
        "walk_forward": walk_forward,
    }
    return storage, study or study_name(definition), where


def hash_text(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _run(task, pool, wins, optimize, storage, name, seed, total, err, quiet) -> Any:  # noqa: ANN001
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from drift_engine.research.sweep import run_grid, run_optuna
    from drift_engine.research.walkforward import run_walk_forward_grid, run_walk_forward_optuna

    with Progress(
        TextColumn("[bold]sweep[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"),
        TimeElapsedColumn(),
        console=err,
        transient=quiet,
    ) as bar:
        bar_task = bar.add_task("runs", total=total, failed=0)
        failures = {"n": 0}

        def progress(result: Any) -> None:
            if not result.ok:
                failures["n"] += 1
                bar.console.print(
                    f"[yellow]run {result.run_id} failed[/] {json.dumps(result.params)}: "
                    f"{result.error}",
                    highlight=False,
                )
            bar.update(bar_task, advance=1, failed=failures["n"])

        if wins is not None and optimize:
            return run_walk_forward_optuna(
                task, pool, wins, optimize, storage=storage, name=name, seed=seed,
                progress=progress,
            )  # fmt: skip
        if wins is not None:
            return run_walk_forward_grid(task, pool, wins, progress=progress)
        if optimize:
            return run_optuna(
                task, pool, optimize, storage=storage, name=name, seed=seed, progress=progress
            )
        return run_grid(task, pool, progress=progress)


def _print_sweep(console: Console, result: Any, top: int) -> None:
    task, s = result.task, result.summary
    names = task.space.names
    obj = task.objective
    table = Table(
        "#", *names, obj, "net APR", "Sharpe", "Calmar", "max DD", "funding", "fees", "trades",
        title=f"Sweep ({result.mode}): best {min(top, s['succeeded'])} of "
        f"{s['succeeded']} by {obj}",
    )  # fmt: skip
    for rank, r in enumerate(result.ranked()[:top], 1):
        if not r.ok:
            break
        m = r.metrics
        table.add_row(
            str(rank), *(str(r.params.get(n)) for n in names),
            _objective_text(obj, m[obj]), _pct(m["net_apr"]), _num(m["sharpe"]),
            _num(m["calmar"]), _pct(m["max_drawdown"]), _usdc(m["funding"]), _usdc(m["fees"]),
            str(m["trades"]),
        )  # fmt: skip
    console.print(table)
    failed = [r for r in result.results if not r.ok]
    for r in failed[:20]:
        console.print(f"[yellow]failed[/] {json.dumps(r.params)}: {r.error}", highlight=False)
    sp = s["spread"]
    console.print(
        f"configurations tried: {s['configurations_tried']} ({s['succeeded']} ok, "
        f"{s['failed']} failed; {s['skipped_invalid']} invalid combinations skipped)",
        highlight=False,
    )
    if sp["n"]:
        f = lambda v: _objective_text(obj, v)  # noqa: E731
        console.print(
            f"{obj} spread: min {f(sp['min'])}  p25 {f(sp['p25'])}  median {f(sp['median'])}  "
            f"p75 {f(sp['p75'])}  max {f(sp['max'])}  (mean {f(sp['mean'])}, std {f(sp['std'])})",
            highlight=False,
        )
    d = s["deflated_sharpe"]
    if d:
        dsr = "n/a" if d["dsr"] is None else f"{d['dsr']:.1%}"
        psr = "n/a" if d["psr"] is None else f"{d['psr']:.1%}"
        console.print(
            f"best {json.dumps({k: s['best']['params'][k] for k in names})}: "
            f"Sharpe {d['sharpe_annualised']:.2f} "
            f"(annualised); the best of {d['trials']} no-edge trials would show "
            f"{d['expected_max_sharpe_annualised']:.2f}; deflated Sharpe ratio {dsr} "
            f"(probability the edge is real after trying {d['trials']}; without deflation "
            f"{psr})",
            highlight=False,
        )
    if result.study:
        st = result.study
        console.print(
            f"Optuna study {st['name']!r}: {st['trials']} trials stored "
            f"({st['resumed_trials']} from earlier runs)",
            highlight=False,
        )


def _print_walk_forward(console: Console, wf: Any) -> None:
    obj = wf.task.objective
    table = Table(
        "window", "train", "test", "best params", f"in-sample {obj}", f"out-of-sample {obj}",
        "OOS net APR", "OOS max DD", title=f"Walk-forward ({wf.mode})",
    )  # fmt: skip
    for w in wf.windows:
        d = w.to_json_dict(obj)
        oos = d["out_of_sample"]
        table.add_row(
            f"w{d['window']}",
            f"{_day(d['train'][0])} -> {_day(d['train'][1])}",
            f"{_day(d['test'][0])} -> {_day(d['test'][1])}",
            json.dumps({k: d["best_params"][k] for k in wf.task.space.names})
            if d["best_params"]
            else "-",
            _objective_text(obj, d["in_sample_objective"]),
            _objective_text(obj, d["out_of_sample_objective"])
            if oos
            else (d["out_of_sample_error"] or "-"),
            _pct(oos["net_apr"]) if oos else "-",
            _pct(oos["max_drawdown"]) if oos else "-",
        )
    console.print(table)
    s = wf.summary()
    f = lambda v: _objective_text(obj, v)  # noqa: E731
    console.print(
        f"{s['windows']} windows x {s['configurations_per_window']} configurations; "
        f"in-sample {obj} mean {f(s['in_sample']['mean'])}, out-of-sample mean "
        f"{f(s['out_of_sample']['mean'])}"
        + (f" (efficiency {s['efficiency']:.2f})" if s["efficiency"] is not None else ""),
        highlight=False,
    )
