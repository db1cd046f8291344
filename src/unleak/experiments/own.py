"""Audit the models you unlearned yourself: your class, your original, your unlearned weights.

``audit`` with ``unlearned`` set comes here. Every attack the access and data allow runs on each
unlearned model; beside them, null models made from your original on your data (the original
itself, and updates of it that remove nothing: ``tune@LR`` fine-tuning, ``prune@F``) measure how
often each attack flags a model like yours that forgot nothing. The verdict
(:mod:`unleak.evaluation.verdict`) names, per unlearned model, the classes that leak, by which
attacks, at what measured false-positive rate.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from torch import nn

from unleak import attacks as atk
from unleak.data import Dataset
from unleak.data.core import parse_classes, validate_forget_set
from unleak.errors import ConfigError
from unleak.evaluation import efficacy
from unleak.evaluation.results import Results
from unleak.evaluation.verdict import verdicts
from unleak.experiments.audit_config import AuditConfig
from unleak.experiments.cases import ModelCase, null_case
from unleak.experiments.harness import AttackContext, attack_case
from unleak.experiments.jobs import load_target_model
from unleak.experiments.model_cache import ModelCache
from unleak.models.inference import accuracy, per_class_accuracy
from unleak.models.userdef import with_normalization
from unleak.training import TrainConfig

log = logging.getLogger(__name__)

OWN_NULLS = ("original", "tune@0.001", "tune@0.01", "prune@0.2", "prune@0.4")
AUDITED = "audited"  # the kind of rows on your unlearned models (the truth is yours, not ours)


def load_models(
    config: AuditConfig, data: Dataset
) -> tuple[nn.Module | None, dict[str, nn.Module]]:
    """Your original (if given) and unlearned models, each checked against the data set."""
    norm = config.normalize

    def load(path: str) -> nn.Module:
        model = load_target_model(
            path, data, model_def=config.model_def, model_args=config.model_args
        )
        model = with_normalization(model, norm.mean if norm else None, norm.std if norm else None)
        atk.Weights(model, data.input_shape, data.num_classes)  # a final Linear with K outputs
        return model

    original = load(config.original) if config.original else None
    return original, {path: load(path) for path in config.unlearned}


def audit_own(
    config: AuditConfig,
    data: Dataset,
    stage: Callable[[str, int | None], None],
    advance: Callable[[], None],
) -> tuple[Results, dict[str, dict[str, Any]], dict[str, Any], Any]:
    """Rows of every attack on your models and on null models of your original, efficacy per
    model (when labels allow), attack details, and the verdicts."""
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
    original, audited = load_models(config, data)
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
        config.model_def or "checkpoint",
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
    return rows, eff, details, verdicts(rows, AUDITED)


def _efficacy(model: nn.Module, data: Dataset, forget: tuple[int, ...]) -> dict[str, Any]:
    """Test accuracy per class (your labels); forget/retain accuracy if you say what you forgot."""
    if forget:
        return efficacy(model, data.test, forget).to_dict()
    return {
        "per_class": per_class_accuracy(model, data.test.x, data.test.y, data.num_classes).tolist(),
        "test_acc": accuracy(model, data.test.x, data.test.y),
    }
