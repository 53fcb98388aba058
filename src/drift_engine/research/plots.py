"""Sweep charts as PNG (matplotlib's Agg backend, no display, no pyplot state).

- one swept parameter: the objective against it;
- two: a heat-map of the objective over the grid (values written in the cells; a cell
  with no successful run is blank);
- three or more, or an Optuna study: parallel coordinates, one line per run, coloured
  by the objective;
- walk-forward: in-sample and out-of-sample objective per window, side by side.
"""

from __future__ import annotations

from typing import Any

from drift_engine.research.stats import objective_value

SIZE = (10.0, 6.5)
DPI = 100


def _figure(size: tuple[float, float] = SIZE) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _fmt(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _title(sweep: Any) -> str:
    t, s = sweep.task, sweep.summary
    return (
        f"{t.strategy.spec} on {t.market}: {t.objective} over {s['configurations_tried']} "
        f"configurations ({s['failed']} failed, {s['skipped_invalid']} invalid skipped)"
    )


def write_sweep_plot(sweep: Any, path: str) -> str:
    """Write the sweep's chart to `path` (.png); returns the kind drawn."""
    if not path.endswith(".png"):
        raise ValueError("--plot needs a .png file name")
    dims = sweep.task.space.dimensions
    obj = sweep.task.objective
    ok = [r for r in sweep.results if r.ok]
    fig = _figure()
    ax = fig.subplots()
    if len(dims) == 1 and sweep.mode == "grid":
        kind = "line"
        d = dims[0]
        pts = sorted((r.params[d.name], objective_value(r.metrics, obj)) for r in ok)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o")
        ax.set_xlabel(d.name)
        ax.set_ylabel(obj)
        ax.grid(True, color="#eeeeee")
    elif len(dims) == 2 and sweep.mode == "grid":
        kind = "heatmap"
        import numpy as np

        dx, dy = dims[1], dims[0]
        grid = np.full((len(dy.values), len(dx.values)), np.nan)
        for r in ok:
            i = dy.values.index(r.params[dy.name])
            j = dx.values.index(r.params[dx.name])
            grid[i, j] = objective_value(r.metrics, obj)
        im = ax.imshow(grid, origin="lower", aspect="auto", cmap="RdYlGn")
        ax.set_xticks(range(len(dx.values)), [_fmt(v) for v in dx.values], rotation=45)
        ax.set_yticks(range(len(dy.values)), [_fmt(v) for v in dy.values])
        ax.set_xlabel(dx.name)
        ax.set_ylabel(dy.name)
        if grid.size <= 400:
            for i in range(grid.shape[0]):
                for j in range(grid.shape[1]):
                    if not np.isnan(grid[i, j]):
                        ax.text(j, i, f"{grid[i, j]:.3g}", ha="center", va="center", fontsize=7)
        fig.colorbar(im, ax=ax, label=obj)
    else:
        kind = "parallel-coordinates"
        _parallel(fig, ax, [d.name for d in dims], ok, obj)
    ax.set_title(_title(sweep), fontsize=9)
    fig.savefig(path, format="png", dpi=DPI)
    return kind


def _parallel(fig: Any, ax: Any, names: list[str], runs: list[Any], obj: str) -> None:
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    axes = [*names, obj]
    cols: list[list[float]] = []
    labels: list[tuple[str, str]] = []
    for name in axes:
        raw = [objective_value(r.metrics, obj) if name == obj else r.params.get(name) for r in runs]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw):
            vals = [float(v) for v in raw]
            lo, hi = (min(vals), max(vals)) if vals else (0.0, 1.0)
        else:  # categorical: evenly spaced
            cats = sorted({str(v) for v in raw})
            vals = [float(cats.index(str(v))) for v in raw]
            lo, hi = 0.0, float(max(1, len(cats) - 1))
        span = (hi - lo) or 1.0
        cols.append([(v - lo) / span for v in vals])
        labels.append((_fmt(lo), _fmt(hi)))
    scores = [objective_value(r.metrics, obj) for r in runs]
    norm = Normalize(min(scores, default=0), max(scores, default=1))
    cmap = colormaps["viridis"]
    xs = list(range(len(axes)))
    order = sorted(range(len(runs)), key=lambda i: scores[i])  # best drawn last (on top)
    for i in order:
        ax.plot(xs, [c[i] for c in cols], color=cmap(norm(scores[i])), alpha=0.7, lw=1)
    for x, (lo, hi) in zip(xs, labels, strict=True):
        ax.axvline(x, color="#999999", lw=0.8)
        ax.text(x, -0.04, lo, ha="center", va="top", fontsize=7)
        ax.text(x, 1.04, hi, ha="center", va="bottom", fontsize=7)
    ax.set_xticks(xs, axes)
    ax.set_yticks([])
    ax.set_ylim(-0.12, 1.12)
    fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=obj)


def write_walk_forward_plot(wf: Any, path: str) -> None:
    if not path.endswith(".png"):
        raise ValueError("--plot needs a .png file name")
    obj = wf.task.objective
    rows = [w.to_json_dict(obj) for w in wf.windows]
    fig = _figure()
    ax = fig.subplots()
    xs = list(range(len(rows)))
    ins = [r["in_sample_objective"] or 0.0 for r in rows]
    oos = [r["out_of_sample_objective"] or 0.0 for r in rows]
    ax.bar([x - 0.2 for x in xs], ins, width=0.4, label="in-sample (tuned)", color="#9ecae1")
    ax.bar([x + 0.2 for x in xs], oos, width=0.4, label="out-of-sample", color="#3182bd")
    ax.axhline(0, color="#999999", lw=0.8)
    ax.set_xticks(xs, [f"w{r['window']}" for r in rows])
    ax.set_ylabel(obj)
    ax.legend()
    ax.set_title(f"walk-forward {wf.task.strategy.spec} on {wf.task.market}: {obj}", fontsize=9)
    fig.savefig(path, format="png", dpi=DPI)


__all__ = ["write_sweep_plot", "write_walk_forward_plot"]
