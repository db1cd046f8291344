"""Audit the models you unlearned yourself: your class, your original, your unlearned weights.

Two ways in, one path: :func:`audit_models` takes models you hold in memory, and ``audit`` with
``unlearned`` set (the CLI's ``--unlearned``) loads them from files (:func:`own_run`); both
hand the loaded models to :func:`audit_own`. Every attack the access and data allow runs on each
unlearned model; beside them, null models made from your original on your data (the original
itself, and updates of it that remove nothing: ``tune@LR`` fine-tuning, ``prune@F``) measure how
often each attack flags a model like yours that forgot nothing. The verdict
(:mod:`unleak.evaluation.verdict`) names, per unlearned model, the classes that leak, by which
attacks, at what measured false-positive rate.
"""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from torch import nn

from unleak import attacks as atk
from unleak._io import check_output, staged_dir
from unleak.data import Dataset
from unleak.data.core import parse_classes, validate_forget_set
from unleak.errors import ConfigError
from unleak.evaluation import efficacy
from unleak.evaluation.results import Results
from unleak.evaluation.verdict import verdicts
from unleak.experiments.audit_config import AuditConfig, load_config
from unleak.experiments.audit_result import AuditResult, Laps, Reporter, no_dir, write_run
from unleak.experiments.cases import ModelCase, null_case
from unleak.experiments.environment import now
from unleak.experiments.harness import AttackContext, attack_case
from unleak.experiments.jobs import load_target_model
from unleak.experiments.model_cache import ModelCache
from unleak.models.inference import accuracy, per_class_accuracy
from unleak.models.userdef import with_normalization
from unleak.training import TrainConfig

log = logging.getLogger(__name__)

# The default null models of an audit of your own: 24 cheap updates of your original that remove
# nothing, of five kinds, so that no false alarm on them bounds an attack's (and the verdict's)
# false-positive rate at 14% (95% Wilson). Each costs about a second on a LeNet; `null_models`
# sets others (more for a tighter bound).
OWN_NULLS = (
    "original",
    *(f"prune@{f}" for f in (0.1, 0.2, 0.3, 0.4, 0.5)),
    *(f"noise@{s}#{r}" for s in (0.02, 0.05, 0.1) for r in (1, 2)),
    *(f"brief@{lr}#{r}" for lr in (0.001, 0.003, 0.01, 0.03) for r in (1, 2)),
    *(f"head@{lr}#{r}" for lr in (0.01, 0.1) for r in (1, 2)),
)
AUDITED = "audited"  # the kind of rows on your unlearned models (the truth is yours, not ours)


Loaded = tuple[nn.Module | None, dict[str, nn.Module]]  # your original, your unlearned by name


def prepare_model(model: nn.Module, config: AuditConfig, data: Dataset) -> nn.Module:
    """``model`` behind the normalisation you declared, checked against the data set."""
    norm = config.normalize
    model = with_normalization(model, norm.mean if norm else None, norm.std if norm else None)
    atk.Weights(model, data.input_shape, data.num_classes)  # a final Linear with K outputs
    return model


def load_models(config: AuditConfig, data: Dataset) -> Loaded:
    """Your original (if given) and unlearned models from their files, each checked."""

    def load(path: str) -> nn.Module:
        model = load_target_model(
            path, data, model_def=config.model_def, model_args=config.model_args
        )
        return prepare_model(model, config, data)

    original = load(config.original) if config.original else None
    return original, {path: load(path) for path in config.unlearned}


def audit_own(
    config: AuditConfig,
    data: Dataset,
    stage: Callable[[str, int | None], None],
    advance: Callable[[], None],
    loaded: Loaded | None = None,
    model_label: str | None = None,
) -> tuple[Results, dict[str, dict[str, Any]], dict[str, Any], Any]:
    """Rows of every attack on your models and on null models of your original, efficacy per
    model (when labels allow), attack details, and the verdicts. ``loaded``: the models, already
    prepared (:func:`prepare_model`); else they are loaded from the files ``config`` names."""
    k = data.num_classes
    forget = validate_forget_set(config.forget, k) if config.forget else ()
    known = (
        parse_classes(config.known_classes, k, "set of known classes")
        if config.known_classes
        else None
    )
    if known and set(known) & set(forget):
        raise ConfigError(
            f"known classes {sorted(set(known) & set(forget))} are ones you forgot",
            "list classes you know were kept",
        )
    original, audited = loaded if loaded is not None else load_models(config, data)
    eff = {path: _efficacy(model, data, forget) for path, model in audited.items()}
    if original is not None:
        eff["original"] = _efficacy(original, data, forget)

    cases = [ModelCase(m, path, forget, AUDITED, eff[path]) for path, m in audited.items()]
    nulls = config.null_models if "null_models" in config.model_fields_set else OWN_NULLS
    if original is not None:
        cache = ModelCache(enabled=False)
        given = cache.given(original, TrainConfig(seed=config.seed))
        stage("null models", len(nulls))
        for kind in nulls:
            try:
                cases.append(null_case(cache, given, data, kind, config.seed + 2))
            except Exception as exc:  # e.g. a null kind that needs the unleak zoo: skip, logged
                log.warning("null model %s failed: %s", kind, exc)
            advance()
    ctx = AttackContext.of(
        config,
        data,
        model_label or config.model_def or "checkpoint",
        config.seed,
        original,
        known_classes=known,
        truth_known=False,
    )
    rows, details = Results(), {}
    stage("attack", len(cases))
    for case in cases:
        case_rows, case_details = attack_case(case, config.all_specs(), ctx)
        rows.extend(case_rows)
        for name, d in case_details.items():
            details[f"{case.kind}:{case.method}:{name}"] = d
        advance()
    judged = verdicts(rows, AUDITED)
    before = eff.get("original", {}).get("per_class", [])
    for path, v in judged.items():  # the labelled check of "damaged", and your request
        v.accuracy, v.original_accuracy = list(eff.get(path, {}).get("per_class", [])), list(before)
        v.requested = list(forget)
    return rows, eff, details, judged


def _efficacy(model: nn.Module, data: Dataset, forget: tuple[int, ...]) -> dict[str, Any]:
    """Test accuracy per class (your labels); forget/retain accuracy if you say what you forgot."""
    if forget:
        return efficacy(model, data.test, forget).to_dict()
    return {
        "per_class": per_class_accuracy(model, data.test.x, data.test.y, data.num_classes).tolist(),
        "test_acc": accuracy(model, data.test.x, data.test.y),
    }


def audit_models(
    original: nn.Module | None,
    unlearned: nn.Module | Mapping[str, nn.Module],
    data: Any = "digits",
    *,
    forget: Sequence[int] | None = None,
    out: str | os.PathLike[str] | None = None,
    reporter: Reporter | None = None,
    label: str | None = None,
    **settings: Any,
) -> AuditResult:
    """Audit models you hold in memory: the same verdict, rows and run directory as the
    file-based audit of your own models (``audit`` with ``unlearned``), which is a thin layer
    over this.

    ``original``: your model before unlearning (null models are made from it; None: no nulls).
    ``unlearned``: one model, or ``{name: model}``. ``data``: a :class:`~unleak.data.Dataset`, a
    data set name, ``{"train": ..., "test": ...}`` or one part, each part ``(x, y)`` tensors or
    arrays, a torch ``Dataset`` or a ``DataLoader`` (:func:`unleak.data.as_dataset`).
    ``forget``: the classes you unlearned, if you want efficacy and hits measured against them.
    ``settings``: any :class:`AuditConfig` field (``attacks``, ``null_models``, ``seed``,
    ``normalize``...). ``out``: write the run directory there (nothing is written without it).
    Your objects are not changed: the audit works on copies.
    """
    from unleak.data.memory import as_dataset

    named = {"unlearned": unlearned} if isinstance(unlearned, nn.Module) else dict(unlearned)
    for name, model in [("original", original), *named.items()]:
        if model is not None and not isinstance(model, nn.Module):
            raise ConfigError(
                f"{name} is a {type(model).__name__}, not a torch model", "pass nn.Module objects"
            )
    if not named or not all(isinstance(k, str) and k for k in named):
        raise ConfigError("unlearned names no model", "pass a model or {name: model}")
    clash = sorted({"dataset", "unlearned", "original", "model_def"} & set(settings))
    if clash:
        raise ConfigError(
            f"audit_models takes no {', '.join(clash)} setting",
            "pass the data as data= and the models as objects",
        )
    if out is not None:
        check_output(out, "dir", "--out")
    started, lap = now(), Laps()
    ds = as_dataset(data, settings.get("data_root"))
    root = _root_of(ds) if "data_root" not in settings and isinstance(data, Dataset) else None
    if root:  # a data set loaded from a root: the attacks' unrelated probe sets live there too
        settings["data_root"] = root
    config = load_config(  # checked against the data set in hand (a shadow must differ from it)
        None,
        dataset=ds.name,
        unlearned=list(named),
        forget=list(forget) if forget is not None else None,
        **settings,
    )

    def mine(model: nn.Module) -> nn.Module:
        return prepare_model(copy.deepcopy(model).cpu().eval(), config, ds)

    loaded = (
        mine(original) if original is not None else None,
        {k: mine(m) for k, m in named.items()},
    )
    lap("setup")
    label = label or type(original if original is not None else next(iter(named.values()))).__name__
    return own_run(config, ds, out, reporter or Reporter(), lap, started, loaded, label)


def _root_of(ds: Dataset) -> str | None:
    """The data root a registered data set was read from (None: embedded, or a user's file)."""
    from unleak.data import names

    return ds.source if ds.name in names() and Path(ds.source).is_dir() else None


def own_run(
    config: AuditConfig,
    data: Dataset,
    out: str | os.PathLike[str] | None,
    rep: Reporter,
    lap: Laps,
    started: str,
    loaded: Loaded | None = None,
    label: str | None = None,
) -> AuditResult:
    """The audit of your own models, from ``loaded`` models or (None) the files ``config``
    names, into the run directory ``out`` when given (staged: nothing half-written)."""
    with staged_dir(out) if out is not None else no_dir() as run_dir:
        model = label or config.model_def or "checkpoint"
        rows, eff, details, verdict = audit_own(config, data, rep.stage, rep.advance, loaded, model)
        lap("attack")
        forget = tuple(sorted(config.forget or ()))
        where = Path(out) if out is not None else None
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
