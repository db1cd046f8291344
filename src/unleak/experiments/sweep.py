"""``unleak sweep``: the paper's tables over data sets x models x methods x forget sets x seeds.

A sweep config (YAML, validated) expands into runs. A run is one model to attack: an unlearned
model (data set, model, seed, method, forget set) or a null model (nothing forgotten). Every trained
model is cached by a key of everything that defines it (``ModelStore``): an original is trained
once per data set, model and seed, and shared by every run that needs it.

Results go to ``results.sqlite`` in the sweep directory, one transaction per run (the run's row in
``runs`` and all its result rows together), so a sweep killed at any moment loses at most the runs
in flight and never records one twice; ``resume`` skips finished runs.

Executors: ``local`` (``workers`` processes) and ``ray`` (each run a Ray task, results streamed
back into the store as they finish), so the same sweep runs on a laptop or a cluster.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, field_validator, model_validator

from unleak import __version__
from unleak._io import atomic_write_text
from unleak.cache import key_of
from unleak.errors import ConfigError, UnleakError
from unleak.experiments.config import ExperimentConfig, load_config_file
from unleak.experiments.runner import AttackSpec

log = logging.getLogger(__name__)


class SweepConfig(ExperimentConfig):
    """A grid of experiments. Unknown keys and bad values are refused."""

    name: str = "sweep"
    datasets: list[str] = Field(default_factory=lambda: ["digits"], min_length=1)
    models: list[str | None] = Field(
        default_factory=lambda: [None], description="None: per data set"
    )
    forget_sizes: list[int] = Field(default_factory=lambda: [1])
    sets_per_size: int = Field(
        10, ge=1, description="forget sets per size (size 1: single classes)"
    )
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    null_models: list[str] = Field(default_factory=lambda: ["original", "rt", "ft", "au"])
    query_curve: list[int] = Field(default_factory=list, description="extra bb-genetic budgets")
    num_forgotten_known: bool = True
    train: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="overrides per data set"
    )

    @field_validator("forget_sizes")
    @classmethod
    def _sizes(cls, value: list[int]) -> list[int]:
        if not value or min(value) < 1:
            raise ValueError("forget sizes must be at least 1")
        return value

    @model_validator(mode="after")
    def _overrides(self) -> SweepConfig:
        for dataset in self.datasets:
            self.check_unlearn(dataset, None)
        return self

    def all_specs(self) -> list[AttackSpec]:
        """The experiment's attacks, then bb-genetic once more per extra budget of the curve."""
        curve = [
            AttackSpec(attack="bb-genetic", criterion="threshold", params={"query_budget": b})
            for b in self.query_curve
        ]
        return [*super().all_specs(), *curve]


def load_sweep_config(path: str | os.PathLike[str]) -> SweepConfig:
    return load_config_file(SweepConfig, path, "sweep")


@dataclass(frozen=True)
class RunSpec:
    """One model to attack; ``key`` identifies it (and its attacks) across restarts."""

    dataset: str
    model: str
    seed: int
    kind: str  # "unlearned" or "null"
    method: str  # unlearning method, or null kind
    forget: tuple[int, ...]
    key: str = ""

    def describe(self) -> str:
        what = (
            f"{self.method} forget {list(self.forget)}"
            if self.kind == "unlearned"
            else f"null {self.method}"
        )
        return f"{self.dataset}/{self.model} seed {self.seed}: {what}"


def expand(config: SweepConfig) -> list[RunSpec]:
    """Every run of the grid, in a stable order."""
    from unleak import data as data_mod
    from unleak import recipes
    from unleak.data.core import random_forget_sets
    from unleak.unlearning import config_for

    specs_key = [s.model_dump() for s in config.all_specs()]
    common = {
        "version": __version__,
        "attacks": specs_key,
        "query_budget": config.query_budget,
        "known": config.num_forgotten_known,
        "unlearn": config.unlearn,
        "shadow": config.shadow,
    }
    runs: list[RunSpec] = []
    for dataset in config.datasets:
        if dataset.startswith("npz:"):
            loaded = data_mod.load(dataset, config.data_root)
            num_classes, shape = loaded.num_classes, loaded.input_shape
        else:
            num_classes, shape = len(data_mod.spec(dataset).class_names), None
        for model in config.models:
            arch = model or recipes.default_model(dataset, shape)
            # keys hold the resolved recipes: editing recipes.yaml makes new runs, not stale hits
            resolved = {
                "train": {
                    **recipes.train_recipe(dataset, arch, shape),
                    **config.train.get(dataset, {}),
                },
                "arch_args": recipes.arch_args(dataset, arch, shape, None),
                "unlearn": {
                    m: config_for(m, dataset, arch, config.unlearn.get(m), shape).model_dump()
                    for m in {*config.methods, "rt", *config.null_models} - {"original"}
                },
            }
            for seed in config.seeds:
                base = {**common, "dataset": dataset, "model": arch, "seed": seed, **resolved}
                for kind in config.null_models:
                    r = RunSpec(dataset, arch, seed, "null", kind, ())
                    runs.append(_keyed(r, base))
                for forget in random_forget_sets(
                    num_classes, config.forget_sizes, config.sets_per_size, seed
                ):
                    for method in config.methods:
                        r = RunSpec(dataset, arch, seed, "unlearned", method, forget)
                        runs.append(_keyed(r, base))
    return runs


def _keyed(run: RunSpec, base: dict[str, Any]) -> RunSpec:
    key = key_of({**base, "kind": run.kind, "method": run.method, "forget": list(run.forget)})
    return RunSpec(run.dataset, run.model, run.seed, run.kind, run.method, run.forget, key)


# ----------------------------------------------------------------------------- the store


class ResultStore:
    """SQLite results, one transaction per run: a run is recorded with all its rows, or not."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(str(self.path), timeout=60)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        with self.conn:
            self.conn.execute(
                "CREATE TABLE IF NOT EXISTS runs (key TEXT PRIMARY KEY, spec TEXT NOT NULL, "
                "seconds REAL, error TEXT, finished TEXT)"
            )
            self.conn.execute(
                "CREATE TABLE IF NOT EXISTS rows (run_key TEXT NOT NULL, idx INTEGER NOT NULL, "
                "row TEXT NOT NULL, PRIMARY KEY (run_key, idx))"
            )

    def done(self) -> set[str]:
        return {k for (k,) in self.conn.execute("SELECT key FROM runs")}

    def save(
        self, run: RunSpec, rows: list[dict[str, Any]], seconds: float, error: str | None
    ) -> bool:
        """Record a finished run and its rows atomically; False if it was already recorded."""
        with self.conn:
            cur = self.conn.execute(
                "INSERT OR IGNORE INTO runs (key, spec, seconds, error, finished) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    run.key,
                    json.dumps(asdict(run)),
                    seconds,
                    error,
                    dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                ),
            )
            if cur.rowcount == 0:
                return False
            self.conn.executemany(
                "INSERT INTO rows (run_key, idx, row) VALUES (?, ?, ?)",
                [(run.key, i, json.dumps(_clean(r))) for i, r in enumerate(rows)],
            )
        return True

    def rows(self) -> list[dict[str, Any]]:
        return [
            json.loads(r)
            for (r,) in self.conn.execute("SELECT row FROM rows ORDER BY run_key, idx")
        ]

    def runs(self) -> list[dict[str, Any]]:
        out = []
        for key, spec, seconds, error, finished in self.conn.execute("SELECT * FROM runs"):
            out.append(
                {
                    "key": key,
                    **json.loads(spec),
                    "seconds": seconds,
                    "error": error,
                    "finished": finished,
                }
            )
        return out

    def close(self) -> None:
        self.conn.close()


def _clean(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


# ----------------------------------------------------------------------------- one run


def execute_run(
    config_json: str, run: RunSpec, cache_root: str | None
) -> tuple[str, list[dict[str, Any]], float, str | None]:
    """Train what is missing (from the cache if present), unlearn or build the null, attack.

    Top-level and pure-data in and out, so that process pools and Ray can ship it.
    """
    from unleak.evaluation import efficacy
    from unleak.experiments.runner import AttackContext, ModelCase, attack_rows
    from unleak.experiments.store import ModelStore

    config = SweepConfig.model_validate_json(config_json)
    start = time.perf_counter()
    try:
        data = _data(run.dataset, config.data_root)
        store = ModelStore(cache_root)
        train = {**config.train.get(run.dataset, {}), "device": config.device}
        original = store.original(data, run.model, run.seed, overrides=train)
        if run.kind == "null":
            case = ModelCase(
                store.null(original, data, run.method, run.seed + 2), run.method, (), "null", {}
            )
        else:
            net, desc = store.unlearned(
                original,
                data,
                run.method,
                run.forget,
                run.seed + 1,
                overrides=config.unlearn.get(run.method),
            )
            ref_net, _ = store.unlearned(
                original, data, "rt", run.forget, run.seed + 1, overrides=config.unlearn.get("rt")
            )
            eff = efficacy(
                net, data.test, run.forget, reference=efficacy(ref_net, data.test, run.forget)
            ).to_dict()
            eff["seconds"] = desc.get("seconds")
            eff["original"] = efficacy(original.model, data.test, run.forget).to_dict()
            case = ModelCase(net, run.method, run.forget, "unlearned", eff)
        ctx = AttackContext.of(
            config,
            data,
            run.model,
            run.seed,
            original.model,
            shadow_options={"cache_root": cache_root},
        )
        rows, _ = attack_rows(case, config.all_specs(), ctx)
        for r in rows:
            r["run_key"] = run.key
            if r.get("attack") == "bb-genetic":
                r["query_budget"] = r.get("queries")
        return run.key, rows, time.perf_counter() - start, None
    except Exception as exc:  # recorded as a failed run; the sweep goes on
        log.warning("run %s failed: %s", run.describe(), exc)
        return run.key, [], time.perf_counter() - start, f"{type(exc).__name__}: {exc}"


_DATA: dict[tuple[str, str | None], Any] = {}


def _data(name: str, root: str | None) -> Any:
    from unleak import data as data_mod

    key = (name, root)
    if key not in _DATA:
        _DATA[key] = data_mod.load(name, root)
    return _DATA[key]


def _train_original(
    config_json: str, dataset: str, model: str, seed: int, cache_root: str | None
) -> str:
    from unleak.experiments.store import ModelStore

    config = SweepConfig.model_validate_json(config_json)
    data = _data(dataset, config.data_root)
    ModelStore(cache_root).original(
        data, model, seed, overrides={**config.train.get(dataset, {}), "device": config.device}
    )
    return f"{dataset}/{model}/{seed}"


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


# ----------------------------------------------------------------------------- executors


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
    out = Path(out)
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
    runs = expand(config)
    todo = [r for r in runs if r.key not in done][:limit]
    config_json = config.model_dump_json()
    start = time.perf_counter()
    finished = failed = 0

    def record(result: tuple[str, list[dict[str, Any]], float, str | None], run: RunSpec) -> None:
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
            _run_ray(config_json, todo, originals, cache, address, record)
        elif workers <= 1:
            for d, m, s in originals:
                _train_original(config_json, d, m, s, cache)
            for run in todo:
                record(execute_run(config_json, run, cache), run)
        else:
            _run_pool(config_json, todo, originals, cache, workers, record)
    finally:
        store.close()
    return SweepOutcome(
        len(runs), len(runs) - len(todo), finished, failed, time.perf_counter() - start, out
    )


def _run_pool(
    config_json: str,
    todo: list[RunSpec],
    originals: list[tuple[str, str, int]],
    cache: str,
    workers: int,
    record: Callable[..., None],
) -> None:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    threads = max(1, (os.cpu_count() or 1) // workers)
    ctx = mp.get_context("spawn")  # fork after torch has started threads can deadlock
    try:
        with ProcessPoolExecutor(
            workers, mp_context=ctx, initializer=_init_worker, initargs=(threads,)
        ) as pool:
            for f in as_completed(
                [pool.submit(_train_original, config_json, d, m, s, cache) for d, m, s in originals]
            ):
                f.result()
            futures = {pool.submit(execute_run, config_json, run, cache): run for run in todo}
            for f in as_completed(futures):
                record(f.result(), futures[f])
    except BrokenProcessPool:
        raise UnleakError(
            "a worker process died (killed, or out of memory); every finished run is saved",
            "rerun with --resume (and fewer --workers if memory is short)",
        ) from None


def _run_ray(
    config_json: str,
    todo: list[RunSpec],
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
        train = ray.remote(num_cpus=1)(_train_original)
        run_one = ray.remote(num_cpus=1)(execute_run)
        ray.get([train.remote(config_json, d, m, s, cache) for d, m, s in originals])
        pending = {run_one.remote(config_json, run, cache): run for run in todo}
        while pending:  # stream results into the store as they arrive
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                record(ray.get(ref), pending.pop(ref))
    finally:
        if started_here:
            ray.shutdown()


def iter_rows(out: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    store = ResultStore(Path(out) / "results.sqlite")
    try:
        yield from store.rows()
    finally:
        store.close()
