"""``unleak sweep``: the paper's tables over data sets x models x methods x forget sets x seeds.

A sweep config (YAML, validated) expands into runs. A run is one model to attack: an unlearned
model (data set, model, seed, method, forget set) or a null model (nothing forgotten). Every trained
model is cached by a key of everything that defines it (``ModelCache``): an original is trained
once per data set, model and seed, and shared by every run that needs it.

Results go to ``results.sqlite`` in the sweep directory (``sweep_store.ResultStore``), one
transaction per run, so a sweep killed at any moment loses at most the runs in flight and never
records one twice; ``resume`` skips finished runs.

Executors: ``local`` (``workers`` processes) and ``ray`` (each run a Ray task, results streamed
back into the store as they finish), so the same sweep runs on a laptop or a cluster.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
import yaml

from unleak import data as data_mod
from unleak import models
from unleak._io import atomic_write_text, check_output
from unleak.data.core import Dataset
from unleak.defences import build_defence
from unleak.errors import ConfigError
from unleak.evaluation.results import ResultRow, Results
from unleak.experiments.cases import defended_case, null_case, original_of, unlearned_case
from unleak.experiments.harness import AttackContext, attack_case
from unleak.experiments.model_cache import ModelCache, train_config_for
from unleak.experiments.sweep_executors import run_pool, run_ray
from unleak.experiments.sweep_grid import RunSpec, SweepConfig, expand, load_sweep_config
from unleak.experiments.sweep_store import ResultStore
from unleak.report.tables import sweep_report
from unleak.unlearning import method_names

log = logging.getLogger(__name__)

__all__ = [
    "RunSpec",
    "SweepConfig",
    "SweepOutcome",
    "check_sweep",
    "expand",
    "load_results",
    "load_sweep_config",
    "report",
    "run_sweep",
]


def execute_run(
    config_json: str, run: RunSpec, cache_root: str | None
) -> tuple[str, list[ResultRow], float, str | None]:
    """Train what is missing (from the cache if present), unlearn or build the null, attack.

    Top-level and pure-data in and out, so that process pools and Ray can ship it.
    """
    config = SweepConfig.model_validate_json(config_json)
    with torch_threads(config.threads):
        return _execute_run(config, run, cache_root)


def _execute_run(
    config: SweepConfig, run: RunSpec, cache_root: str | None
) -> tuple[str, list[ResultRow], float, str | None]:
    start = time.perf_counter()
    try:
        data = _data(run.dataset, config.data_root)
        cache = ModelCache(cache_root)
        original = _original(config, cache, data, run.model, run.seed)
        if run.kind == "null":
            case = null_case(cache, original, data, run.method, run.seed + 2)
        else:
            case = unlearned_case(
                cache,
                original,
                data,
                run.method,
                run.forget,
                run.seed + 1,
                overrides=config.unlearn.get(run.method),
                rt_overrides=config.unlearn.get("rt"),
            )
        if run.defence:
            settings = config.defence_settings.get(run.defence, {})
            case = defended_case(case, build_defence(run.defence, **settings), data, run.seed + 3)
        ctx = AttackContext.of(
            config,
            data,
            run.model,
            run.seed,
            original.model,
            shadow_options={"cache_root": cache_root},
        )
        rows, _ = attack_case(case, config.all_specs(), ctx)
        for r in rows:
            r.run_key = run.key
            if r.attack == "bb-genetic":
                r.query_budget = r.queries
        return run.key, list(rows), time.perf_counter() - start, None
    except Exception as exc:  # recorded as a failed run; the sweep goes on
        log.warning("run %s failed: %s", run.describe(), exc)
        return run.key, [], time.perf_counter() - start, f"{type(exc).__name__}: {exc}"


_DATA: dict[tuple[str, str | None], Dataset] = {}


def _data(name: str, root: str | None) -> Dataset:
    key = (name, root)
    if key not in _DATA:
        _DATA[key] = data_mod.load(name, root)
    return _DATA[key]


def check_sweep(config: SweepConfig, out: str | os.PathLike[str] | None = None) -> list[RunSpec]:
    """Every run of the grid, after checking every name, recipe, forget set and architecture,
    and that a store already in ``out`` is one of ours: nothing is written before this passes."""
    if out is not None and (Path(out) / "results.sqlite").exists():
        ResultStore(Path(out) / "results.sqlite", create=False).close()
    runs = expand(config)
    for dataset, model in sorted({(r.dataset, r.model) for r in runs}):
        data = _data(dataset, config.data_root)
        models.build(model, data, seed=0)
        # the resolved training recipe with the grid's overrides (refused here, not mid-sweep)
        train_config_for(data, model, 0, {**config.train.get(dataset, {}), "device": config.device})
    return runs


def _original(config: SweepConfig, cache: ModelCache, data: Dataset, model: str, seed: int) -> Any:
    overrides = {**config.train.get(data.name, {}), "device": config.device}
    methods = [*config.methods, *config.null_models]
    methods = [m for m in methods if m in method_names(variants=True)]
    return original_of(cache, data, model, seed, methods=methods, overrides=overrides)


def _train_original(
    config_json: str, dataset: str, model: str, seed: int, cache_root: str | None
) -> str:
    config = SweepConfig.model_validate_json(config_json)
    with torch_threads(config.threads):
        _original(config, ModelCache(cache_root), _data(dataset, config.data_root), model, seed)
    return f"{dataset}/{model}/{seed}"


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run with ``n`` torch threads, then restore the previous number."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass
class SweepOutcome:
    total: int
    skipped: int
    finished: int
    failed: int
    seconds: float
    out: Path


def run_sweep(
    config: SweepConfig,
    out: str | os.PathLike[str],
    *,
    executor: Literal["local", "ray"] = "local",
    workers: int = 1,
    resume: bool = False,
    address: str | None = None,
    cache_root: str | os.PathLike[str] | None = None,
    on_run: Callable[[RunSpec, str | None], None] | None = None,
    limit: int | None = None,
) -> SweepOutcome:
    """Run every run of ``config`` not yet in ``out/results.sqlite``.

    Without ``resume`` a directory that already holds results is refused (so nothing is mixed by
    accident); with it, finished runs are skipped. ``cache_root`` defaults to ``out/cache``.
    """
    out = check_output(out, "dir", "--out")
    runs = check_sweep(config, out)
    out.mkdir(parents=True, exist_ok=True)
    cache = str(cache_root) if cache_root is not None else str(out / "cache")
    resolved = yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
    cfg_path = out / "config.yaml"
    store = ResultStore(out / "results.sqlite")
    done = store.done()
    if done and not resume:
        store.close()
        raise ConfigError(
            f"{out} already holds {len(done)} finished runs", "pass --resume or use a new directory"
        )
    if (
        resume
        and cfg_path.is_file()
        and yaml.safe_load(cfg_path.read_text()) != yaml.safe_load(resolved)
    ):
        store.close()
        raise ConfigError(
            f"{out} was started with a different configuration", "resume with the same config"
        )
    atomic_write_text(cfg_path, resolved)
    todo = [r for r in runs if r.key not in done][:limit]
    config_json = config.model_dump_json()
    start = time.perf_counter()
    finished = failed = 0

    def record(result: tuple[str, list[ResultRow], float, str | None], run: RunSpec) -> None:
        nonlocal finished, failed
        _key, rows, seconds, error = result
        if store.save(run, rows, seconds, error):
            finished += 1
            failed += error is not None
        if on_run:
            on_run(run, error)

    originals = sorted({(r.dataset, r.model, r.seed) for r in todo})
    try:
        if executor == "ray":
            run_ray(
                _train_original, execute_run, config_json, todo, originals, cache, address, record
            )
        elif workers <= 1:
            for d, m, s in originals:
                _train_original(config_json, d, m, s, cache)
            for run in todo:
                record(execute_run(config_json, run, cache), run)
        else:
            run_pool(
                _train_original, execute_run, config_json, todo, originals, cache, workers, record
            )
    finally:
        store.close()
    return SweepOutcome(
        len(runs), len(runs) - len(todo), finished, failed, time.perf_counter() - start, out
    )


def load_results(out: str | os.PathLike[str]) -> Results:
    """Every result row of the sweep in ``out``."""
    store = ResultStore(Path(out) / "results.sqlite", create=False)
    try:
        return store.rows()
    finally:
        store.close()


def report(out: str | os.PathLike[str]) -> dict[str, Path]:
    """Write ``out/report/`` (Markdown, CSV, figures) from the results of the sweep in ``out``."""
    out = Path(out)
    if not (out / "results.sqlite").is_file():
        raise ConfigError(
            f"{out} holds no results.sqlite", "point at a directory written by unleak sweep"
        )
    return sweep_report(load_results(out), out / "report", out.name)
