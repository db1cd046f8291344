"""Sweep executors: local worker processes, or Ray tasks on one machine or a cluster.

Each takes the runs still to do and a ``record`` callback that stores a finished run; the work of
a run (``sweep.execute_run``) is passed in, so this module knows nothing of what a run does.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from unleak.errors import ConfigError, UnleakError

Job = Callable[..., Any]


def run_pool(
    train: Job,
    execute: Job,
    config_json: str,
    todo: list[Any],
    originals: list[tuple[str, str, int]],
    cache: str,
    workers: int,
    record: Callable[..., None],
) -> None:
    # each run sets its own torch threads (sweep.torch_threads), whatever the worker count
    ctx = mp.get_context("spawn")  # fork after torch has started threads can deadlock
    try:
        with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
            for f in as_completed(
                [pool.submit(train, config_json, d, m, s, cache) for d, m, s in originals]
            ):
                f.result()
            futures = {pool.submit(execute, config_json, run, cache): run for run in todo}
            for f in as_completed(futures):
                record(f.result(), futures[f])
    except BrokenProcessPool:
        raise UnleakError(
            "a worker process died (killed, or out of memory); every finished run is saved",
            "rerun with --resume (and fewer --workers if memory is short)",
        ) from None


def run_ray(
    train: Job,
    execute: Job,
    config_json: str,
    todo: list[Any],
    originals: list[tuple[str, str, int]],
    cache: str,
    address: str | None,
    record: Callable[..., None],
) -> None:
    try:
        import ray
    except ImportError:
        raise ConfigError("the ray executor needs Ray", "pip install 'unleak[ray]'") from None
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(
            address=address, ignore_reinit_error=True, log_to_driver=False, include_dashboard=False
        )
    try:
        train_remote = ray.remote(num_cpus=1)(train)
        run_one = ray.remote(num_cpus=1)(execute)
        ray.get([train_remote.remote(config_json, d, m, s, cache) for d, m, s in originals])
        pending = {run_one.remote(config_json, run, cache): run for run in todo}
        while pending:  # stream results into the store as they arrive
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                record(ray.get(ref), pending.pop(ref))
    finally:
        if started_here:
            ray.shutdown()
