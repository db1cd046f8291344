"""The attack harness: run attacks (and baselines) on one model case and turn each decision into a
:class:`~unleak.evaluation.results.ResultRow`. Shared by the audit, sweeps and shadow experiments.

Nothing here knows an attack by name: what each needs (access, attacker knowledge, a query budget,
the original, calibration, criteria) is declared on its class. An attack's evidence is computed
once per model and read by every decider and criterion asked for, so ``param-diff/kmeans`` and
``param-diff/gap`` cost one attack.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from unleak import attacks as atk
from unleak.attacks.class_aux import every_class
from unleak.data.core import Dataset, Split
from unleak.errors import UnleakError
from unleak.evaluation.metrics import chance
from unleak.evaluation.results import ResultRow, Results
from unleak.experiments.attackers import build_attack, handle
from unleak.experiments.cases import ModelCase
from unleak.experiments.settings import (
    CALIBRATED,
    DEFAULT_SHADOW,
    AttackSpec,
    ExperimentConfig,
    KnowledgePolicy,
    check_shadow,
)
from unleak.experiments.shadow import shadow_calibration

log = logging.getLogger(__name__)


@dataclass
class AttackContext:
    """What the harness knows when it attacks cases of one original: the data set, settings, and
    the original itself (for attacks that declare ``needs_original``)."""

    data: Dataset
    arch: str
    seed: int
    original: nn.Module | None
    query_budget: int = atk.DEFAULT_QUERY_BUDGET
    num_forgotten_known: bool = False
    data_root: str | os.PathLike[str] | None = None
    shadow: str | None = None
    shadow_options: dict[str, Any] = field(default_factory=dict)
    known: KnowledgePolicy = field(default_factory=KnowledgePolicy)
    known_classes: tuple[int, ...] | None = None  # given by the user: overrides the policy
    truth_known: bool = True  # False for your own models: no class is handed out by the truth
    calibrations: dict[tuple, Any] = field(default_factory=lambda: _CALIBRATIONS)
    # what needs_original attacks read off the original, by spec and defence: read once
    originals: dict[tuple, Any] = field(default_factory=dict)

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
            known=config.knowledge,
            **extra,
        )

    def knowledge(self, forget: Sequence[int], *, shadow: bool = False) -> atk.Knowledge:
        """What the attacker of a model that forgot ``forget`` holds (the harness knows the truth,
        so it can hand out samples of kept classes only)."""
        mode = self.known.mode
        return atk.Knowledge(
            task=self.data.name,
            known_data=(
                self._known_data(tuple(forget))
                if mode == atk.knowledge.DEFAULT_MODE
                else every_class(self.data.test, self.known.per_class, self.seed)
            ),
            labelled_data=self.data.test,
            data_root=None if self.data_root is None else str(self.data_root),
            mode=mode,
            seed=self.seed,
            shadow=shadow,
        )

    def _known_data(self, forget: tuple[int, ...]) -> Split | None:
        """Samples of the classes the attacker believes were kept: the ones given, else (when the
        harness knows the truth) chosen by the knowledge policy."""
        k, pol = self.data.num_classes, self.known
        source = self.data.train if pol.samples == "train" else self.data.test
        if self.known_classes is not None:
            return source.per_class_sample(pol.per_class, self.known_classes, seed=self.seed)
        if not self.truth_known:
            return None
        pool = [c for c in range(k) if pol.known_from == "any" or c not in forget]
        n = max(1, round(pol.fraction * len(pool)))
        gen = torch.Generator().manual_seed(self.seed)
        chosen = sorted(pool[i] for i in torch.randperm(len(pool), generator=gen)[:n].tolist())
        return source.per_class_sample(pol.per_class, chosen, seed=self.seed)


# Shadow calibrations are costly (tens of shadow models) and depend only on the attack, the
# shadow data set and the target's data set: one per process is enough.
_CALIBRATIONS: dict[tuple, Any] = {}


def attack_case(
    case: ModelCase, specs: Sequence[AttackSpec], ctx: AttackContext
) -> tuple[Results, dict[str, Any]]:
    """Rows for every spec on ``case``, and each attack's details (prototypes, curves) by name."""
    rows = Results()
    details: dict[str, Any] = {}
    groups: dict[tuple, list[AttackSpec]] = {}
    for spec in specs:
        groups.setdefault(spec.evidence_key(), []).append(spec)
    m = len(case.forget)
    for members in groups.values():
        first = members[0]
        cls = first.attack_class
        if cls.needs_original and ctx.original is None:
            continue
        hardened = case.defence is not None and case.defence.kind == "outputs"
        if hardened and cls.requires != atk.Access.QUERIES:
            continue  # output hardening does not reach weights or gradients: see the undefended row
        try:
            attack = build_attack(
                first, ctx.knowledge(case.forget), num_forgotten=m or 1, decider=cls.default_decider
            )
            start = time.perf_counter()
            budget = attack.query_budget(ctx.query_budget)
            target = handle(cls.requires, case.model, ctx.data, budget, case.defence)
            orig = before = None
            if cls.needs_original and ctx.original is not None:
                orig = handle(cls.requires, ctx.original, ctx.data, budget, case.defence)
                defence = None if case.defence is None else repr(case.defence.describe())
                key = (*first.evidence_key(), defence)
                if key not in ctx.originals:
                    ctx.originals[key] = attack.before(orig)
                before = ctx.originals[key]
            feats = attack.evidence(target, orig, before=before)
            evidence_seconds = time.perf_counter() - start
        except Exception as exc:  # one attack failing must not sink the others
            # a refusal of the input (missing knowledge, labels-only outputs) is expected: info
            level = logging.INFO if isinstance(exc, UnleakError) else logging.WARNING
            log.log(level, "%s on %s failed: %s", first.attack, case.method, exc)
            for spec in members:
                rows.append(_row(case, spec, ctx, error=f"{type(exc).__name__}: {exc}"))
            continue
        if feats.details.get("prototypes") is not None:
            details[first.attack] = feats.details
        names = [s.decider_name for s in members]
        if ctx.num_forgotten_known and m and "topm" in cls.deciders and "topm" not in names:
            members = [*members, first.model_copy(update={"decider": "topm"})]
        for spec in members:
            dname = spec.decider_name
            if dname == "topm" and not m and cls.null_guess is None:
                continue  # knowing that nothing was forgotten, top-m names nothing: no test
            try:
                calibration = _calibration(spec, ctx) if dname in CALIBRATED else None
                decider = attack.make_decider(dname, m or cls.null_guess, calibration)
                result = attack.decide(
                    feats,
                    decider,
                    spec.criterion,
                    seconds=evidence_seconds,
                    uses_original=orig is not None,
                )
            except Exception as exc:
                rows.append(_row(case, spec, ctx, error=f"{type(exc).__name__}: {exc}"))
                continue
            rows.append(
                _row(
                    case,
                    spec,
                    ctx,
                    decider=result.decider,
                    predicted=list(result.predicted),
                    scores=[None if not math.isfinite(s) else s for s in result.scores],
                    candidates=list(result.candidates),
                    features={k: [round(v, 5) for v in vs] for k, vs in result.features.items()},
                    chance=chance(len(result.candidates), m) if m else math.nan,
                    queries=result.queries,
                    seconds=result.seconds,
                    calibration=result.calibration,
                    access=result.access,
                    uses_original=result.uses_original,
                )
            )
    return rows, details


def _calibration(spec: AttackSpec, ctx: AttackContext) -> atk.Calibration:
    shadow = check_shadow(ctx.shadow or DEFAULT_SHADOW, ctx.data.name)
    key = (
        *spec.evidence_key(),
        spec.criterion or "",
        ctx.data.name,
        shadow,
        repr(sorted(ctx.shadow_options.items())),
        ctx.known.mode,
    )
    if key not in ctx.calibrations:
        ctx.calibrations[key] = shadow_calibration(
            spec.model_copy(update={"decider": None}),
            dataset=shadow,
            target_dataset=ctx.data.name,
            data_root=ctx.data_root,
            mode=ctx.known.mode,
            **ctx.shadow_options,
        )
    return ctx.calibrations[key]


def _row(case: ModelCase, spec: AttackSpec, ctx: AttackContext, **fields: Any) -> ResultRow:
    eff = case.efficacy or {}
    ref = eff.get("reference") or {}
    original = eff.get("original") or {}
    nan = math.nan
    return ResultRow(
        dataset=ctx.data.name,
        model=ctx.arch,
        method=case.method,
        kind=case.kind,
        forget=list(case.forget),
        seed=ctx.seed,
        defence=case.defence_name,
        attack=spec.attack,
        decider=fields.pop("decider", spec.decider_name),
        criterion=spec.criterion,
        params=dict(spec.params),
        forget_acc=eff.get("forget_acc", nan),
        retain_acc=eff.get("retain_acc", nan),
        test_acc=eff.get("test_acc", nan),
        rt_forget_acc=ref.get("forget_acc", nan),
        rt_retain_acc=ref.get("retain_acc", nan),
        original_retain_acc=original.get("retain_acc", nan),
        original_forget_acc=original.get("forget_acc", nan),
        unlearn_seconds=eff.get("seconds", nan) if eff.get("seconds") is not None else nan,
        **fields,
    )
