"""``unleak audit``: train (or load) a model, unlearn with each method, attack every result.

One call, one run directory with a fixed layout (see ``RUN_LAYOUT``). The directory is staged
beside its destination and moved into place when the audit ends, so an audit stopped by bad input
or Ctrl-C leaves nothing half-written. An audit of your own models (``unlearned`` set, or
:func:`audit_models` with objects in memory) is :mod:`.own`'s. The Python API is :func:`audit`;
the CLI's ``unleak audit`` is a thin layer over it.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

from unleak import catalog, models, recipes
from unleak._io import check_output, staged_dir
from unleak.data import load as load_data
from unleak.evaluation.results import ResultRow, Results
from unleak.experiments.audit_config import AuditConfig, Normalization, load_config
from unleak.experiments.audit_result import (
    RUN_LAYOUT,
    AuditResult,
    Laps,
    Reporter,
    no_dir,
    write_run,
)
from unleak.experiments.cases import (
    ModelCase,
    defended_case,
    null_case,
    original_of,
    unlearned_case,
)
from unleak.experiments.environment import now
from unleak.experiments.harness import AttackContext, attack_case
from unleak.experiments.model_cache import ModelCache
from unleak.experiments.own import audit_models, own_run
from unleak.unlearning import PluginError

log = logging.getLogger(__name__)

__all__ = [
    "RUN_LAYOUT",
    "AuditConfig",
    "AuditResult",
    "Normalization",
    "Reporter",
    "audit",
    "audit_models",
    "load_config",
]


def folder_name(name: str) -> str:
    """A checkpoint folder for a method or null kind: a plug-in's ``path/mine.py:fn`` becomes
    ``mine.py-fn``, so that no name reaches outside the run directory."""
    name = catalog.method_label(name).replace(":", "-")
    return re.sub(r"[^A-Za-z0-9._@+-]", "_", name).lstrip(".") or "method"


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
    lap = Laps()

    # ------------------------------------------------------------ validate with the data in hand
    data = load_data(config.dataset, config.data_root)
    if config.unlearned:
        return own_run(config, data, out, rep, lap, started)
    arch = config.model or recipes.default_model(data.name, data.input_shape)
    forget = config.resolve_forget(data.num_classes)
    if config.checkpoint:
        arch = models.read_metadata(config.checkpoint).arch
    lap("setup")

    with staged_dir(out) if out is not None else no_dir() as run_dir:
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
            except PluginError:  # a method of yours that broke its contract: say so, stop
                raise
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
                    ckpt_dir / folder_name(method),
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
                        ckpt_dir / f"null-{folder_name(kind)}",
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
