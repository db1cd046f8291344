"""``unleak audit``: train (or load) a model, unlearn with each method, attack every result.

One call, one run directory with a fixed layout (see ``RUN_LAYOUT``). The directory is staged
beside its destination and moved into place when the audit ends, so an audit stopped by bad input
or Ctrl-C leaves nothing half-written. The Python API is :func:`audit`; the CLI's ``unleak audit``
is a thin layer over it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import yaml
from pydantic import Field, ValidationError, model_validator

from unleak import models, recipes
from unleak._io import atomic_write_json, atomic_write_text, staged_dir
from unleak._version import __version__
from unleak.data import Dataset
from unleak.data import load as load_data
from unleak.data.core import validate_forget_set
from unleak.errors import ConfigError
from unleak.evaluation.results import ResultRow, Results
from unleak.experiments.cases import ModelCase, null_case, original_of, unlearned_case
from unleak.experiments.harness import AttackContext, attack_case
from unleak.experiments.model_cache import ModelCache
from unleak.experiments.settings import ExperimentConfig, load_config_file
from unleak.report.html import write_report
from unleak.training import Callback, TrainConfig

if TYPE_CHECKING:
    import pandas as pd  # imported where used: pandas costs a second at start-up

log = logging.getLogger(__name__)

RUN_LAYOUT = {
    "config.yaml": "the resolved configuration",
    "env.json": "versions, seed, machine, start and end time, seconds per stage",
    "checkpoints/": "original/, <method>/ and null-<kind>/ checkpoint folders",
    "efficacy.json": "per method: forget/retain/test accuracy, beside rt's",
    "results.jsonl": "one JSON row per attack result (unlearned and null models)",
    "results.csv": "the same rows as a table",
    "summary.json": "ASR per (method, attack, decider), chance, efficacy, false-positive rate",
    "report.html": "self-contained report: tables, score plots, prototypes, threat models",
}


class AuditConfig(ExperimentConfig):
    """Everything an audit does. Unknown keys, bad values and impossible combinations are refused
    before any work starts."""

    dataset: str = "digits"
    model: str | None = Field(None, description="architecture; default per data set")
    arch_args: dict[str, Any] = Field(default_factory=dict)
    checkpoint: str | None = Field(None, description="original model to load instead of training")
    forget: list[int] | None = Field(None, description="classes to forget; default: chosen by seed")
    num_forget: int = Field(
        1, ge=1, description="how many classes the seed picks when forget is unset"
    )
    seed: int = Field(0, ge=0, lt=2**63)
    train: dict[str, Any] = Field(
        default_factory=dict, description="training overrides (epochs, lr...)"
    )
    cache: bool = Field(False, description="reuse trained models from the cache ($UNLEAK_CACHE)")

    @model_validator(mode="after")
    def _combinations(self) -> AuditConfig:
        if self.forget is not None and len(self.forget) != len(set(self.forget)):
            raise ValueError("forget lists a class twice")
        if self.forget is not None and not self.forget:
            raise ValueError("forget is empty; name at least one class or leave it unset")
        try:  # settings are checked now, not after the original has trained
            TrainConfig(**self.train)
        except ValidationError as exc:
            e = exc.errors()[0]
            raise ValueError(f"train.{'.'.join(map(str, e['loc']))}: {e['msg']}") from None
        self.check_unlearn(self.dataset, self.model)
        self.check_shadow(self.dataset)
        return self

    def resolve_forget(self, num_classes: int) -> tuple[int, ...]:
        """The forget set: as given, or ``num_forget`` classes drawn with the seed."""
        if self.forget is not None:
            return validate_forget_set(self.forget, num_classes)
        if self.num_forget >= num_classes:
            raise ConfigError(
                f"num_forget={self.num_forget} with {num_classes} classes",
                f"forget at most {num_classes - 1}",
            )
        gen = torch.Generator().manual_seed(self.seed)
        return tuple(sorted(torch.randperm(num_classes, generator=gen)[: self.num_forget].tolist()))


def load_config(path: str | os.PathLike[str] | None = None, **overrides: Any) -> AuditConfig:
    """An :class:`AuditConfig` from a YAML file and/or keyword overrides, or a one-line error."""
    return load_config_file(AuditConfig, path, "audit", **overrides)


class Reporter:
    """Progress hooks the CLI renders; the library default only logs."""

    def stage(self, name: str, total: int | None = None) -> None:
        log.info("stage %s", name)

    def advance(self, n: int = 1) -> None: ...

    def callbacks(self) -> Sequence[Callback]:
        return ()


@dataclass
class AuditResult:
    """Rows of every attack result, efficacy per method, and where everything was written."""

    config: AuditConfig
    forget: tuple[int, ...]
    rows: Results
    efficacy: dict[str, dict[str, Any]]
    run_dir: Path | None
    details: dict[str, dict[str, Any]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    dataset: str = ""
    model: str = ""

    def to_frame(self) -> pd.DataFrame:
        """One row per attack result, as a pandas DataFrame."""
        return self.rows.to_frame()

    def summary(self) -> pd.DataFrame:
        """ASR per (method, attack, decider) beside chance, efficacy and false-positive rate."""
        return self.rows.summary()


def environment(seed: int, timings: dict[str, float], started: str) -> dict[str, Any]:
    """Versions, machine, seed and seconds per stage: what a run records beside its results."""
    import numpy
    import sklearn

    return {
        "unleak": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "scikit-learn": sklearn.__version__,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "seed": seed,
        "started": started,
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "seconds": timings,
    }


class _Laps:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self.clock = time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = round(self.timings.get(name, 0.0) + now - self.clock, 3)
        self.clock = now


def audit(
    config: AuditConfig | None = None,
    out: str | os.PathLike[str] | None = None,
    reporter: Reporter | None = None,
) -> AuditResult:
    """Run an audit and, with ``out``, write its run directory (layout: ``RUN_LAYOUT``)."""
    config = config or AuditConfig()
    rep = reporter or Reporter()
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    lap = _Laps()

    # ------------------------------------------------------------ validate with the data in hand
    data = load_data(config.dataset, config.data_root)
    arch = config.model or recipes.default_model(data.name, data.input_shape)
    forget = config.resolve_forget(data.num_classes)
    if config.checkpoint:
        arch = models.read_metadata(config.checkpoint).arch
    lap("setup")

    with staged_dir(out) if out is not None else _no_dir() as run_dir:
        cache = ModelCache(enabled=config.cache)
        rep.stage("train original", None)
        original = original_of(
            cache,
            data,
            arch,
            config.seed,
            checkpoint=config.checkpoint,
            methods=config.methods,
            overrides={**config.train, "device": config.device},
            arch_args=config.arch_args,
            callbacks=rep.callbacks(),
        )
        ckpt_dir = run_dir / "checkpoints" if run_dir else None
        if ckpt_dir is not None:
            models.save(
                original.model,
                ckpt_dir / "original",
                dataset=data.name,
                seed=config.seed,
                train_config=original.config.model_dump(),
                tensors={"updates": original.updates.to_tensors()} if original.updates else None,
            )
        lap("train")

        # -------------------------------------------------------- unlearn
        cases: list[ModelCase] = []
        eff: dict[str, dict[str, Any]] = {}
        methods = list(config.methods)
        # rt is the reference for every method: run first, even when not audited itself
        todo = ["rt", *[m for m in methods if m != "rt"]]
        rep.stage("unlearn", len(todo))
        for method in todo:
            try:
                case = unlearned_case(
                    cache,
                    original,
                    data,
                    method,
                    forget,
                    config.seed + 1,
                    overrides=config.unlearn.get(method),
                    rt_overrides=config.unlearn.get("rt"),
                    callbacks=rep.callbacks(),
                )
            except Exception as exc:  # a failed stage is a result, not a crash
                log.warning("unlearning with %s failed: %s", method, exc)
                eff[method] = {"error": f"{type(exc).__name__}: {exc}"}
                rep.advance()
                continue
            rep.advance()
            if method not in methods:
                continue
            eff[method] = case.efficacy
            cases.append(case)
            if ckpt_dir is not None:
                models.save(
                    case.model,
                    ckpt_dir / method,
                    dataset=data.name,
                    seed=config.seed + 1,
                    extra={"unlearning": case.run, "efficacy": case.efficacy},
                )
        eff = {m: eff[m] for m in methods if m in eff}
        lap("unlearn")
        rep.stage("null models", len(config.null_models))
        for kind in config.null_models:
            try:
                case = null_case(cache, original, data, kind, config.seed + 2)
                cases.append(case)
                if ckpt_dir is not None and kind != "original":
                    models.save(
                        case.model,
                        ckpt_dir / f"null-{kind}",
                        dataset=data.name,
                        seed=config.seed + 2,
                    )
            except Exception as exc:
                log.warning("null model %s failed: %s", kind, exc)
            rep.advance()
        lap("null models")

        # -------------------------------------------------------- attack
        specs = config.all_specs()
        ctx = AttackContext.of(config, data, arch, config.seed, original.model)
        rows = Results()
        details: dict[str, dict[str, Any]] = {}
        rep.stage("attack", len(cases))
        for case in cases:
            case_rows, case_details = attack_case(case, specs, ctx)
            rows.extend(case_rows)
            for name, d in case_details.items():
                details[f"{case.kind}:{case.method}:{name}"] = d
            rep.advance()
        for method, e in eff.items():
            if "error" in e:
                rows.append(
                    ResultRow(
                        data.name,
                        arch,
                        method,
                        "unlearned",
                        list(forget),
                        config.seed,
                        error=e["error"],
                    )
                )
        lap("attack")

        result = AuditResult(
            config,
            forget,
            rows,
            eff,
            Path(out) if out is not None else None,
            details,
            lap.timings,
            data.name,
            arch,
        )
        if run_dir is not None:
            write_run(result, run_dir, data, lap, started)
    return result


def write_run(result: AuditResult, run_dir: Path, data: Dataset, lap: _Laps, started: str) -> None:
    """Write the run directory's files (the checkpoints are written as the models are made)."""
    config = result.config
    atomic_write_text(
        run_dir / "config.yaml",
        yaml.safe_dump(
            {
                **config.model_dump(mode="json"),
                "forget": list(result.forget),
                "model": result.model,
            },
            sort_keys=False,
        ),
    )
    result.rows.save(run_dir / "results.jsonl")
    atomic_write_json(run_dir / "efficacy.json", result.efficacy)
    summary = result.summary()
    atomic_write_json(
        run_dir / "summary.json",
        {
            "forget": list(result.forget),
            "dataset": data.name,
            "model": result.model,
            "rows": json.loads(summary.to_json(orient="records")) if not summary.empty else [],
        },
    )
    write_report(result, run_dir / "report.html", data=data)
    lap("report")
    atomic_write_json(run_dir / "env.json", environment(config.seed, lap.timings, started))


class _no_dir:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
