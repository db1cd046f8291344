"""Run attacks (and baselines) on one model and turn each decision into a result row.

Shared by the audit and by sweeps. An attack's evidence is computed once per model and read by
every decider asked for, so ``param-diff/kmeans`` and ``param-diff/gap`` cost one attack.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import nn

from unleak import attacks as atk
from unleak.data.core import Dataset
from unleak.errors import ConfigError
from unleak.evaluation.metrics import chance

if TYPE_CHECKING:  # config imports this module's defaults
    from unleak.experiments.config import ExperimentConfig

log = logging.getLogger(__name__)

SCREENED = ("wb-inversion", "bb-genetic")  # attacks whose spec may name a screening criterion
CRITERIA = ("threshold", "entropy")


class AttackSpec(BaseModel):
    """One attack to run: ``attack``, its ``decider`` and ``criterion``, and parameter overrides.

    The string form is ``ATTACK[/DECIDER]``; for the inversion attacks ``ATTACK/entropy`` and
    ``ATTACK/threshold`` name the screening criterion (decided by a threshold).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    attack: str
    decider: str | None = None
    criterion: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        if isinstance(value, str):
            name, _, second = value.partition("/")
            if name in SCREENED and second in CRITERIA:
                return {"attack": name, "criterion": second}
            return {"attack": name, "decider": second or None}
        return value

    @model_validator(mode="after")
    def _known(self) -> AttackSpec:
        cls = atk.attack_class(self.attack)
        if self.decider is not None and self.decider not in cls.deciders:
            raise ConfigError(
                f"{self.attack} has no decider {self.decider!r}",
                f"use one of {', '.join(cls.deciders)}",
            )
        if self.criterion is not None and self.attack not in SCREENED:
            raise ConfigError(
                f"{self.attack} takes no criterion", "drop it, or use an inversion attack"
            )
        if self.criterion is not None and self.criterion not in CRITERIA:
            raise ConfigError(f"unknown criterion {self.criterion!r}", "use threshold or entropy")
        return self

    @property
    def label(self) -> str:
        return label_of(self.attack, self.decider, self.criterion, self.params)

    def evidence_key(self) -> tuple[str, str]:
        # the screening criterion only picks a column of the same evidence: computed once
        return (self.attack, repr(sorted(self.params.items())))


def label_of(
    attack: str, decider: str | None, criterion: str | None, params: dict[str, Any] | None = None
) -> str:
    """``param-diff/kmeans``; with a screening criterion ``wb-inversion[entropy]/threshold``;
    parameter overrides follow an ``@``: ``bb-genetic[threshold]/threshold@query_budget=1000``."""
    decider = decider or atk.attack_class(attack).default_decider
    label = f"{attack}[{criterion}]/{decider}" if criterion else f"{attack}/{decider}"
    if params:
        label += "@" + ",".join(f"{k}={v}" for k, v in sorted(params.items()))
    return label


DEFAULT_ATTACKS = (
    "param-diff/kmeans",
    "param-dot/kmeans",
    "wb-inversion/threshold",
    "wb-inversion/entropy",
    "bb-genetic/threshold",
    "bb-genetic/entropy",
)
DEFAULT_BASELINES = ("chance", "oracle", "before-after")


@dataclass
class ModelCase:
    """A model to attack and what the harness (not the attacker) knows about it."""

    model: nn.Module
    method: str  # unlearning method, or the null kind for null models
    forget: tuple[int, ...]  # the truth; () for a null model
    kind: str = "unlearned"  # or "null"
    efficacy: dict[str, Any] = field(default_factory=dict)


@dataclass
class AttackContext:
    data: Dataset
    arch: str
    seed: int
    original: nn.Module | None
    query_budget: int = 10_000
    num_forgotten_known: bool = False
    data_root: str | os.PathLike[str] | None = None
    shadow: str | None = None
    shadow_options: dict[str, Any] = field(default_factory=dict)
    calibrations: dict[tuple, Any] = field(default_factory=lambda: _CALIBRATIONS)

    @classmethod
    def of(
        cls,
        config: ExperimentConfig,
        data: Dataset,
        arch: str,
        seed: int,
        original: nn.Module | None,
        **extra: Any,
    ) -> AttackContext:
        """The context an experiment's settings (an audit's or a sweep's) give its attacks."""
        return cls(
            data=data,
            arch=arch,
            seed=seed,
            original=original,
            query_budget=config.query_budget,
            num_forgotten_known=config.num_forgotten_known,
            data_root=config.data_root,
            shadow=config.shadow,
            **extra,
        )


# Shadow calibrations are costly (tens of shadow models) and depend only on the attack, the
# shadow data set and the target's data set: one per process is enough.
_CALIBRATIONS: dict[tuple, Any] = {}


def _handle(level: atk.Access, model: nn.Module, data: Dataset, budget: int | None) -> atk.Target:
    shape, k = data.input_shape, data.num_classes
    if level == atk.Access.WEIGHTS:
        return atk.Weights(model, shape, k)
    if level == atk.Access.GRADIENTS:
        return atk.Gradients(model, shape, k)
    return atk.Queries(model, shape, k, budget=budget)


def attack_rows(
    case: ModelCase, specs: Sequence[AttackSpec], ctx: AttackContext
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows for every spec on ``case``, and each attack's details (prototypes, curves) by label."""
    from unleak.experiments.pipeline import make_attack

    rows: list[dict[str, Any]] = []
    details: dict[str, Any] = {}
    groups: dict[tuple, list[AttackSpec]] = {}
    for spec in specs:
        groups.setdefault(spec.evidence_key(), []).append(spec)
    m = len(case.forget)
    for members in groups.values():
        first = members[0]
        cls = atk.attack_class(first.attack)
        params = dict(first.params)
        if first.attack == "bb-genetic":
            params.setdefault("query_budget", ctx.query_budget)
        try:
            base = make_attack(
                first.attack,
                data=ctx.data,
                decider=cls.default_decider,
                forgotten=case.forget,
                params=params,
                data_root=ctx.data_root,
                seed=ctx.seed,
                num_forgotten=m or 1,
            )
            if first.attack == "before-after" and ctx.original is None:
                continue
            start = time.perf_counter()
            target = _handle(cls.requires, case.model, ctx.data, ctx.query_budget)
            orig = (
                _handle(cls.requires, ctx.original, ctx.data, None)
                if first.attack == "before-after"
                else None
            )
            feats = base.evidence(target, orig)
            evidence_seconds = time.perf_counter() - start
        except Exception as exc:  # one attack failing must not sink the others
            log.warning("%s on %s failed: %s", first.attack, case.method, exc)
            for spec in members:
                rows.append(_row(case, spec, ctx, error=f"{type(exc).__name__}: {exc}"))
            continue
        if feats.details.get("prototypes") is not None:
            details[first.attack] = feats.details
        decider_names = [s.decider or cls.default_decider for s in members]
        if ctx.num_forgotten_known and m and "topm" in cls.deciders and "topm" not in decider_names:
            members = [*members, first.model_copy(update={"decider": "topm"})]
        for spec in members:
            dname = spec.decider or cls.default_decider
            if dname == "topm" and not m and first.attack != "chance":
                continue  # knowing that nothing was forgotten, top-m names nothing: no test
            try:
                calibration = None
                spec_feats = with_criterion(feats, spec.criterion) if spec.criterion else feats
                if dname in ("youden", "tree"):
                    calibration = _calibration(spec, cls, ctx, params)
                # chance guesses one class on a null model, so its false-positive rate is 1
                known = m or (1 if first.attack == "chance" else None)
                decider = atk.make_decider(dname, num_forgotten=known, calibration=calibration)
                t0 = time.perf_counter()
                predicted, scores = decider.decide(spec_feats)
                seconds = evidence_seconds + time.perf_counter() - t0
            except Exception as exc:
                rows.append(_row(case, spec, ctx, error=f"{type(exc).__name__}: {exc}"))
                continue
            n_cand = int(feats.candidates.sum())
            predicted = sorted(int(c) for c in predicted)
            rows.append(
                _row(
                    case,
                    spec,
                    ctx,
                    decider=dname,
                    predicted=predicted,
                    scores=[None if not math.isfinite(float(s)) else float(s) for s in scores],
                    candidates=[int(c) for c in feats.candidates.nonzero()[0]],
                    chance=chance(n_cand, m) if m else math.nan,
                    queries=feats.queries,
                    seconds=seconds,
                    calibration=decider.source,
                    access=cls.requires.name.lower(),
                    uses_original=first.attack == "before-after",
                )
            )
    return rows, details


def with_criterion(feats: atk.ClassFeatures, criterion: str) -> atk.ClassFeatures:
    """The same screening evidence read through another criterion (its main column and cut)."""
    from unleak.attacks.inversion import DEFICIT_CUT, ENTROPY_CUT

    name = "deficit" if criterion == "threshold" else "entropy"
    cut = DEFICIT_CUT if criterion == "threshold" else ENTROPY_CUT
    return dataclasses.replace(feats, main=feats.names.index(name), absolute=cut)


def _calibration(spec: AttackSpec, cls: type, ctx: AttackContext, params: dict[str, Any]) -> Any:
    key = (
        *spec.evidence_key(),
        spec.criterion or "",
        ctx.data.name,
        ctx.shadow,
        repr(sorted(ctx.shadow_options.items())),
    )
    if spec.criterion:
        params = {**params, "criterion": spec.criterion}
    if key not in ctx.calibrations:
        from unleak.experiments.pipeline import make_attack

        probe = make_attack(
            spec.attack,
            data=ctx.data,
            forgotten=(),
            params=params,
            data_root=ctx.data_root,
            seed=ctx.seed,
        )
        shadow = ctx.shadow or ("digits" if ctx.data.name != "digits" else None)
        if shadow is None:
            raise ConfigError(
                "youden and tree deciders need shadow experiments on a data set other than digits",
                "set shadow: (e.g. mnist) in the configuration",
            )
        ctx.calibrations[key] = atk.shadow_calibration(
            probe,
            dataset=shadow,
            target_dataset=ctx.data.name,
            data_root=ctx.data_root,
            **ctx.shadow_options,
        )
    return ctx.calibrations[key]


def _row(case: ModelCase, spec: AttackSpec, ctx: AttackContext, **fields: Any) -> dict[str, Any]:
    eff = case.efficacy or {}
    ref = eff.get("reference") or {}
    predicted = fields.get("predicted", [])
    row = {
        "dataset": ctx.data.name,
        "model": ctx.arch,
        "method": case.method,
        "kind": case.kind,
        "forget": list(case.forget),
        "n_forget": len(case.forget),
        "seed": ctx.seed,
        "attack": spec.attack,
        "decider": spec.decider or atk.attack_class(spec.attack).default_decider,
        "criterion": spec.criterion,
        "params": dict(spec.params),
        "predicted": predicted,
        "hit": bool(set(predicted) == set(case.forget)) if "error" not in fields else False,
        "predicted_any": bool(predicted),
        "scores": [],
        "candidates": [],
        "chance": math.nan,
        "queries": 0,
        "seconds": math.nan,
        "calibration": "",
        "access": "",
        "uses_original": False,
        "forget_acc": eff.get("forget_acc", math.nan),
        "retain_acc": eff.get("retain_acc", math.nan),
        "test_acc": eff.get("test_acc", math.nan),
        "rt_forget_acc": ref.get("forget_acc", math.nan),
        "rt_retain_acc": ref.get("retain_acc", math.nan),
        "original_retain_acc": (eff.get("original") or {}).get("retain_acc", math.nan),
        "original_forget_acc": (eff.get("original") or {}).get("forget_acc", math.nan),
        "unlearn_seconds": eff.get("seconds", math.nan),
        "error": None,
    }
    row.update(fields)
    row["label"] = label_of(row["attack"], row["decider"], row["criterion"], row["params"])
    return row
