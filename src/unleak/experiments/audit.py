"""``unleak audit``: train (or load) a model, unlearn with each method, attack every result.

One call, one run directory with a fixed layout (see ``RUN_LAYOUT``), every file written
atomically. The Python API is :func:`audit`; the CLI's ``unleak audit`` is a thin layer over it.
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

from unleak import __version__, models, recipes
from unleak._io import atomic_write_json, atomic_write_text
from unleak.data import load as load_data
from unleak.data.core import validate_forget_set
from unleak.errors import ConfigError
from unleak.evaluation import efficacy, summarize
from unleak.experiments.config import ExperimentConfig, load_config_file
from unleak.experiments.runner import AttackContext, ModelCase, attack_rows
from unleak.experiments.store import ModelStore
from unleak.training import Callback

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
    seed: int = 0
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
        from unleak.training import TrainConfig

        try:  # settings are checked now, not after the original has trained
            TrainConfig(**self.train)
        except ValidationError as exc:
            e = exc.errors()[0]
            raise ValueError(f"train.{'.'.join(map(str, e['loc']))}: {e['msg']}") from None
        self.check_unlearn(self.dataset, self.model)
        return self


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
    rows: list[dict[str, Any]]
    efficacy: dict[str, dict[str, Any]]
    run_dir: Path | None
    details: dict[str, dict[str, Any]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """One row per attack result, as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.rows)

    def summary(self) -> pd.DataFrame:
        """ASR per (method, attack, decider) beside chance, efficacy and false-positive rate."""
        return summarize(self.rows)


def _env(config: AuditConfig, timings: dict[str, float], started: str) -> dict[str, Any]:
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
        "seed": config.seed,
        "started": started,
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "seconds": timings,
    }


def audit(
    config: AuditConfig | None = None,
    out: str | os.PathLike[str] | None = None,
    reporter: Reporter | None = None,
) -> AuditResult:
    """Run an audit and, with ``out``, write its run directory (layout: ``RUN_LAYOUT``)."""
    config = config or AuditConfig()
    rep = reporter or Reporter()
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(timings.get(name, 0.0) + now - clock, 3)
        clock = now

    # ------------------------------------------------------------ validate with the data in hand
    data = load_data(config.dataset, config.data_root)
    arch = config.model or recipes.default_model(data.name, data.input_shape)
    if config.forget is not None:
        forget = validate_forget_set(config.forget, data.num_classes)
    else:
        if config.num_forget >= data.num_classes:
            raise ConfigError(
                f"num_forget={config.num_forget} with {data.num_classes} classes",
                f"forget at most {data.num_classes - 1}",
            )
        gen = torch.Generator().manual_seed(config.seed)
        forget = tuple(
            sorted(torch.randperm(data.num_classes, generator=gen)[: config.num_forget].tolist())
        )
    if (
        any(s.decider in ("youden", "tree") for s in config.attacks)
        and (config.shadow or "digits") == data.name
    ):
        raise ConfigError(
            "youden/tree deciders calibrate on shadows of another data set",
            "set shadow: to a data set other than the target's",
        )
    run_dir = Path(out) if out is not None else None
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(
            run_dir / "config.yaml",
            yaml.safe_dump(
                {**config.model_dump(mode="json"), "forget": list(forget), "model": arch},
                sort_keys=False,
            ),
        )
    lap("setup")

    # ------------------------------------------------------------ original
    store = ModelStore(enabled=config.cache)
    rep.stage("train original", None)
    if config.checkpoint:
        from unleak.experiments.store import Original
        from unleak.models.checkpoint import load_extra
        from unleak.training import TrainConfig
        from unleak.unlearning.au import UpdateLog

        meta = models.read_metadata(config.checkpoint)
        if "au" in config.methods and "updates" not in meta.files:
            raise ConfigError(
                f"{config.checkpoint} has no recorded updates, which au needs",
                "retrain it with --record-updates or drop au from methods",
            )
        net = models.load(config.checkpoint)
        arch = meta.arch
        tensors = load_extra(config.checkpoint, "updates")
        cfg = TrainConfig(**meta.train_config) if meta.train_config else None
        from unleak.experiments.pipeline import train_config_for

        original = Original(
            net,
            cfg or train_config_for(data, arch, config.seed),
            UpdateLog.from_tensors(tensors) if tensors else None,
            "checkpoint",
            False,
        )
    else:
        original = store.original(
            data,
            arch,
            config.seed,
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

    # ------------------------------------------------------------ unlearn
    cases: list[ModelCase] = []
    eff: dict[str, dict[str, Any]] = {}
    methods = list(config.methods)
    reference = None
    todo = (["rt"] if "rt" not in methods else []) + methods  # rt is the reference for every method
    rep.stage("unlearn", len(todo))
    unlearned: dict[str, Any] = {}
    for method in sorted(todo, key=lambda m: m != "rt"):
        try:
            net, desc = store.unlearned(
                original,
                data,
                method,
                forget,
                config.seed + 1,
                overrides=config.unlearn.get(method),
                callbacks=rep.callbacks(),
            )
            unlearned[method] = (net, desc)
            if method == "rt":
                reference = efficacy(net, data.test, forget)
        except Exception as exc:  # a failed stage is a result, not a crash
            log.warning("unlearning with %s failed: %s", method, exc)
            eff[method] = {"error": f"{type(exc).__name__}: {exc}"}
        rep.advance()
    for method in methods:
        if method not in unlearned:
            continue
        net, desc = unlearned[method]
        e = efficacy(net, data.test, forget, reference=reference).to_dict()
        e["seconds"] = desc.get("seconds")
        e["original"] = efficacy(original.model, data.test, forget).to_dict()
        e["stopped"] = desc.get("stopped")
        eff[method] = e
        cases.append(ModelCase(net, method, forget, "unlearned", e))
        if ckpt_dir is not None:
            models.save(
                net,
                ckpt_dir / method,
                dataset=data.name,
                seed=config.seed + 1,
                extra={"unlearning": desc, "efficacy": e},
            )
    lap("unlearn")
    rep.stage("null models", len(config.null_models))
    for kind in config.null_models:
        try:
            net = store.null(original, data, kind, config.seed + 2)
            cases.append(ModelCase(net, kind, (), "null", {}))
            if ckpt_dir is not None and kind != "original":
                models.save(net, ckpt_dir / f"null-{kind}", dataset=data.name, seed=config.seed + 2)
        except Exception as exc:
            log.warning("null model %s failed: %s", kind, exc)
        rep.advance()
    lap("null models")

    # ------------------------------------------------------------ attack
    specs = config.all_specs()
    ctx = AttackContext.of(config, data, arch, config.seed, original.model)
    rows: list[dict[str, Any]] = []
    details: dict[str, dict[str, Any]] = {}
    rep.stage("attack", len(cases))
    for case in cases:
        case_rows, case_details = attack_rows(case, specs, ctx)
        rows += case_rows
        for label, d in case_details.items():
            details[f"{case.kind}:{case.method}:{label}"] = d
        if run_dir is not None:  # rewritten whole after every model: a complete file or none
            _write_rows(run_dir, rows)
        rep.advance()
    for method, e in eff.items():
        if "error" in e:
            rows.append(
                {
                    "dataset": data.name,
                    "model": arch,
                    "method": method,
                    "kind": "unlearned",
                    "forget": list(forget),
                    "n_forget": len(forget),
                    "seed": config.seed,
                    "attack": None,
                    "decider": None,
                    "label": None,
                    "error": e["error"],
                }
            )
    lap("attack")

    result = AuditResult(config, forget, rows, eff, run_dir, details, timings)
    if run_dir is not None:
        _write_rows(run_dir, rows)
        atomic_write_json(run_dir / "efficacy.json", eff)
        summary = result.summary()
        atomic_write_json(
            run_dir / "summary.json",
            {
                "forget": list(forget),
                "dataset": data.name,
                "model": arch,
                "rows": json.loads(summary.to_json(orient="records")) if not summary.empty else [],
            },
        )
        from unleak.report.html import write_report

        rep.stage("report", None)
        write_report(result, run_dir / "report.html", data=data)
        lap("report")
        atomic_write_json(run_dir / "env.json", _env(config, timings, started))
    return result


def _write_rows(run_dir: Path, rows: list[dict[str, Any]]) -> None:
    import pandas as pd

    text = "".join(json.dumps(r, default=_json_default) + "\n" for r in rows)
    atomic_write_text(run_dir / "results.jsonl", text)
    frame = pd.DataFrame(rows)
    atomic_write_text(run_dir / "results.csv", frame.to_csv(index=False))


def _json_default(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return None
    return str(value)
