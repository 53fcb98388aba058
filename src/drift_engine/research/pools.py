"""Where runs execute: in this process, on a local process pool, or on a Ray cluster.

All three have one small interface (`RunPool`): `submit(spec)`, `next_result()` (the
next run to finish, whichever it is), `pending`, `close()`. Sweeps and Optuna studies
drive it the same way; the scheduling is the pool's own (concurrent.futures, Ray), not
ours.

Data travels once: the local pool hands `MarketData` to each worker process through its
initializer (workers come from a fork server that imported the backtest path once, so a
worker's start costs a fork, not a fresh import); the Ray pool puts it in Ray's object
store once and each Ray worker process fetches it on its first run and keeps it.

A run that raises is reported by `runs.execute` itself. A worker process that dies
(killed, out of memory) breaks a process pool: the pool is rebuilt, and each run that
was in flight runs once more alone in a pool of its own, so a run that only shared the
pool with the culprit completes and the culprit is reported failed with its parameters.
Ray retries a task whose worker died on its own (`max_retries`); if it still fails, the
error comes back as that run's result.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

from drift_engine.research.runs import RunResult, RunSpec, execute, failed

#: Imported once by the fork server, before any worker forks from it.
WORKER_PRELOAD = [
    "drift_engine.research.pools",
    "drift_engine.research.runs",
    "drift_engine.backtest.runner",
    "drift_engine.engine.paper",
    "drift_engine.sim.simulator",
    "drift_engine.storage.database",
]

#: Environment variable naming a Ray cluster (`ray://host:10001`) for `--ray`.
RAY_ADDRESS_ENV = "DRIFT_ENGINE_RAY_ADDRESS"


class RunPool(Protocol):
    workers: int

    def submit(self, spec: RunSpec) -> None: ...

    def next_result(self) -> RunResult: ...

    @property
    def pending(self) -> int: ...

    def close(self) -> None: ...


def local_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


# --------------------------------------------------------------------------- in-process


class InProcessPool:
    """Runs each job in this process when asked for its result (one worker)."""

    workers = 1

    def __init__(self, data: Any) -> None:
        self.data = data
        self._queue: deque[RunSpec] = deque()

    def submit(self, spec: RunSpec) -> None:
        self._queue.append(spec)

    def next_result(self) -> RunResult:
        return execute(self._queue.popleft(), self.data)

    @property
    def pending(self) -> int:
        return len(self._queue)

    def close(self) -> None:
        self._queue.clear()

    def __enter__(self) -> InProcessPool:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# --------------------------------------------------------------------------- processes

_WORKER_DATA: Any = None


def _init_worker(data: Any) -> None:
    global _WORKER_DATA
    _WORKER_DATA = data


def _run_in_worker(spec: RunSpec) -> RunResult:
    return execute(spec, _WORKER_DATA)


class ProcessPool:
    """A local process pool (`concurrent.futures`) of `workers` processes."""

    def __init__(self, data: Any, workers: int | None = None) -> None:
        self.data = data
        self.workers = workers or local_cores()
        self._futures: dict[Future[RunResult], RunSpec] = {}
        self._ready: deque[RunResult] = deque()
        self._executor = self._start()

    def _start(self) -> ProcessPoolExecutor:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(WORKER_PRELOAD)
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=ctx,
            initializer=_init_worker,
            initargs=(self.data,),
        )

    def submit(self, spec: RunSpec) -> None:
        self._futures[self._executor.submit(_run_in_worker, spec)] = spec

    @property
    def pending(self) -> int:
        return len(self._futures) + len(self._ready)

    def next_result(self) -> RunResult:
        while not self._ready:
            if not self._futures:
                raise RuntimeError("no run pending")
            done, _ = wait(list(self._futures), return_when=FIRST_COMPLETED)
            broken: list[RunSpec] = []
            for fut in done:
                spec = self._futures.pop(fut)
                try:
                    self._ready.append(fut.result())
                except BrokenProcessPool:
                    broken.append(spec)
                except Exception as exc:  # noqa: BLE001 - e.g. a result that cannot pickle
                    self._ready.append(failed(spec, f"{type(exc).__name__}: {exc}"))
            if broken:
                self._recover(broken)
        return self._ready.popleft()

    def _recover(self, broken: list[RunSpec]) -> None:
        """A worker died: every in-flight run lost its pool, and which one killed it is
        unknown. Rebuild the pool for the runs still to come, and run each lost run once
        more alone, in a pool of its own: a death then is that run's own result, and a run
        that merely shared the pool with it completes."""
        lost = broken + list(self._futures.values())
        self._futures.clear()
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._executor = self._start()
        for spec in lost:
            self._ready.append(self._run_alone(spec))

    def _run_alone(self, spec: RunSpec) -> RunResult:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(WORKER_PRELOAD)
        with ProcessPoolExecutor(
            max_workers=1, mp_context=ctx, initializer=_init_worker, initargs=(self.data,)
        ) as alone:
            try:
                return alone.submit(_run_in_worker, spec).result()
            except BrokenProcessPool:
                return failed(spec, "its worker process died (run again alone: died again)")
            except Exception as exc:  # noqa: BLE001 - e.g. a result that cannot pickle
                return failed(spec, f"{type(exc).__name__}: {exc}")

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._futures.clear()

    def __enter__(self) -> ProcessPool:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# --------------------------------------------------------------------------- Ray

_RAY_DATA: dict[str, Any] = {}


def _ray_run(data_box: list[Any], spec: RunSpec) -> RunResult:
    """A Ray task: the data reference comes boxed (so Ray does not fetch it for every
    task); the worker process fetches it once and keeps it for the next runs."""
    import ray

    ref = data_box[0]
    key = ref.hex()
    if key not in _RAY_DATA:
        _RAY_DATA.clear()
        _RAY_DATA[key] = ray.get(ref)
    return execute(spec, _RAY_DATA[key])


def ray_address(flag: bool, address: str | None = None) -> str | None:
    """The cluster to use: `address`, else $DRIFT_ENGINE_RAY_ADDRESS, else "local" when
    `--ray` was given (a new single-machine cluster on 127.0.0.1); None: no Ray."""
    address = address or os.environ.get(RAY_ADDRESS_ENV) or None
    if address:
        return address
    return "local" if flag else None


class RayPool:
    """Runs on a Ray cluster: `address` "local" starts one on this machine (127.0.0.1,
    no dashboard, no usage reporting) and stops it on close; any other address
    (`ray://host:10001`) connects to a running cluster whose nodes have drift-engine
    installed."""

    def __init__(self, data: Any, address: str = "local", workers: int | None = None) -> None:
        try:
            import ray
        except ImportError:
            raise RuntimeError(
                "Ray is not installed: pip install 'drift-engine[ray]' (Ray < 2.53: later "
                "releases need packaging>=24.2, which driftpy's packaging==23.1 excludes)"
            ) from None
        self._ray = ray
        self._owns = False
        if not ray.is_initialized():
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no phone-home
            os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
            os.environ.setdefault("RAY_enable_metrics_collection", "0")  # no metrics agent
            kwargs: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
            if address == "local":
                # Ray starts its workers at nice 15 (its `worker_niceness`); on a machine
                # that also runs other work a local sweep then crawls (measured 5-7x
                # slower than the process pool, bench/sweep_scale.py). Same priority as
                # the process pool's workers, as Ray's own job manager does (env wins).
                os.environ.setdefault("RAY_worker_niceness", "0")
                kwargs.update(
                    address="local",
                    include_dashboard=False,
                    _node_ip_address="127.0.0.1",
                    num_cpus=workers,
                )
            else:
                kwargs["address"] = address
            ray.init(**kwargs)
            self._owns = True
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.workers = workers or max(1, cpus)
        self._data_box = [ray.put(data)]  # shipped once to the object store
        self._task = ray.remote(num_cpus=1, max_retries=1)(_ray_run)
        self._refs: dict[Any, RunSpec] = {}

    def submit(self, spec: RunSpec) -> None:
        self._refs[self._task.remote(self._data_box, spec)] = spec

    @property
    def pending(self) -> int:
        return len(self._refs)

    def next_result(self) -> RunResult:
        if not self._refs:
            raise RuntimeError("no run pending")
        done, _ = self._ray.wait(list(self._refs), num_returns=1)
        ref = done[0]
        spec = self._refs.pop(ref)
        try:
            return self._ray.get(ref)
        except Exception as exc:  # noqa: BLE001 - a task or worker failure is one run's
            text = str(exc).strip().splitlines()
            return failed(spec, f"{type(exc).__name__}: {text[-1] if text else ''}")

    def close(self) -> None:
        for ref in list(self._refs):
            self._ray.cancel(ref, force=True)
        self._refs.clear()
        self._data_box = []
        if self._owns:
            self._ray.shutdown()

    def __enter__(self) -> RayPool:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def open_pool(data: Any, *, workers: int | None = None, ray: str | None = None) -> Any:
    """Ray when `ray` names a cluster ("local" or an address), else local processes
    (in-process for one worker)."""
    if ray:
        return RayPool(data, ray, workers)
    workers = workers or local_cores()
    if workers <= 1:
        return InProcessPool(data)
    return ProcessPool(data, workers)


__all__ = [
    "RAY_ADDRESS_ENV",
    "InProcessPool",
    "ProcessPool",
    "RayPool",
    "RunPool",
    "local_cores",
    "open_pool",
    "ray_address",
]
