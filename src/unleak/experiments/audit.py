"""``unleak audit``: train (or load) a model, unlearn with each method, attack every result.

One call, one run directory with a fixed layout (see ``RUN_LAYOUT``). The directory is staged
beside its destination and moved into place when the audit ends, so an audit stopped by bad input
or Ctrl-C leaves nothing half-written. The Python API is :func:`audit`; the CLI's ``unleak audit``
is a thin layer over it.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from unleak import models, recipes
from unleak._io import (
    atomic_write_json,
    atomic_write_text,
    check_output,
    staged_dir,
    without_timings,
)
from unleak.data import Dataset
from unleak.data import load as load_data
from unleak.evaluation.headline import AttackTally, headline, tally
from unleak.evaluation.results import ResultRow, Results
from unleak.evaluation.verdict import Verdict
from unleak.experiments.audit_config import AuditConfig, Normalization, load_config
from unleak.experiments.cases import (
    ModelCase,
    defended_case,
    null_case,
    original_of,
    unlearned_case,
)
from unleak.experiments.environment import environment, now
from unleak.experiments.harness import AttackContext, attack_case
from unleak.experiments.model_cache import ModelCache
from unleak.experiments.own import audit_own
from unleak.report.html import write_report
from unleak.training import Callback

if TYPE_CHECKING:
    import pandas as pd  # imported where used: pandas costs a second at start-up

log = logging.getLogger(__name__)

__all__ = ["RUN_LAYOUT", "AuditConfig", "AuditResult", "Normalization", "audit", "load_config"]

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
    verdicts: dict[str, Verdict] = field(default_factory=dict)  # your own models: the verdict
    class_names: tuple[str, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """One row per attack result, as a pandas DataFrame."""
        return self.rows.to_frame()

    def summary(self) -> pd.DataFrame:
        """ASR per (method, attack, decider) beside chance, efficacy and false-positive rate."""
        return self.rows.summary()

    def tallies(self) -> list[AttackTally]:
        """Per attack: exact-set hits over the unlearned models, false alarms over the nulls."""
        return tally(self.rows)

    def headline(self) -> str:
        """One sentence of what was found (per method and overall, with the nulls' false
        alarms); audits of your own models lead with their verdicts instead."""
        return headline(self.rows, self.forget, self.class_names)


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
    if out is not None:
        check_output(out, "dir", "--out")
    rep = reporter or Reporter()
    started = now()
    lap = _Laps()

    # ------------------------------------------------------------ validate with the data in hand
    data = load_data(config.dataset, config.data_root)
    if config.unlearned:
        return _audit_own(config, data, out, rep, lap, started)
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

        # -------------------------------------------------------- defences
        defences = config.build_defences()
        if defences:
            rep.stage("defences", len(cases) * len(defences))
        defended: list[ModelCase] = []
        for case in cases:
            for defence in defences:
                try:
                    d = defended_case(case, defence, data, config.seed + 3)
                    defended.append(d)
                    if case.kind == "unlearned" and defence.kind == "weights":
                        eff[f"{case.method}+{defence.name}"] = d.efficacy
                except Exception as exc:  # a failed defence is a result, not a crash
                    log.warning("defence %s on %s failed: %s", defence.name, case.method, exc)
                    if case.kind == "unlearned":
                        eff[f"{case.method}+{defence.name}"] = {
                            "error": f"{type(exc).__name__}: {exc}"
                        }
                rep.advance()
        cases += defended
        lap("defences")

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
                tag = f"{case.method}+{case.defence_name}" if case.defence else case.method
                details[f"{case.kind}:{tag}:{name}"] = d
            rep.advance()
        for method, e in eff.items():
            if "error" in e:
                base, _, defence = method.partition("+")
                rows.append(
                    ResultRow(
                        data.name,
                        arch,
                        base,
                        "unlearned",
                        list(forget),
                        config.seed,
                        defence=defence,
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
            class_names=data.class_names,
        )
        if run_dir is not None:
            write_run(result, run_dir, data, lap, started)
    return result


def _audit_own(
    config: AuditConfig,
    data: Dataset,
    out: str | os.PathLike[str] | None,
    rep: Reporter,
    lap: _Laps,
    started: str,
) -> AuditResult:
    with staged_dir(out) if out is not None else _no_dir() as run_dir:
        rows, eff, details, verdict = audit_own(config, data, rep.stage, rep.advance)
        lap("attack")
        forget = tuple(sorted(config.forget or ()))
        where = Path(out) if out is not None else None
        model = config.model_def or "checkpoint"
        result = AuditResult(
            config,
            forget,
            rows,
            eff,
            where,
            details,
            lap.timings,
            data.name,
            model,
            verdict,
            data.class_names,
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
    atomic_write_json(run_dir / "efficacy.json", without_timings(result.efficacy))
    summary = result.summary().drop(columns=["seconds"], errors="ignore")
    atomic_write_json(
        run_dir / "summary.json",
        {
            "forget": list(result.forget),
            "dataset": data.name,
            "model": result.model,
            "headline": None if result.verdicts else result.headline(),
            "verdict": {path: v.to_dict() for path, v in result.verdicts.items()},
            "attacks": [t.to_dict() for t in result.tallies()],
            "rows": json.loads(summary.to_json(orient="records")) if not summary.empty else [],
        },
    )
    write_report(result, run_dir / "report.html", data=data)
    lap("report")
    atomic_write_json(
        run_dir / "env.json", environment(seed=config.seed, started=started, seconds=lap.timings)
    )


class _no_dir:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
