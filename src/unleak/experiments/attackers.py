"""Attackers from specs: an attack prepared with exactly the knowledge its class declares, and the
handle of exactly the access it requires. Used by the harness, shadow experiments and
``unleak attack``."""

from __future__ import annotations

import os
from collections.abc import Sequence

from torch import nn

from unleak import attacks as atk
from unleak.attacks.class_aux import every_class
from unleak.data.core import Dataset
from unleak.defences import Defence
from unleak.experiments.settings import AttackSpec, KnowledgePolicy


def handle(
    level: atk.Access,
    model: nn.Module,
    data: Dataset,
    budget: int | None,
    defence: Defence | None = None,
) -> atk.Target:
    """The handle of ``level`` on ``model``; the weights handle checks the head and K first.

    An output defence hardens what a query handle answers; weight and gradient handles compute
    the outputs themselves, so it does not reach them.
    """
    shape, k = data.input_shape, data.num_classes
    weights = atk.Weights(model, shape, k)
    if level == atk.Access.WEIGHTS:
        return weights
    if level == atk.Access.GRADIENTS:
        return atk.Gradients(model, shape, k)
    if defence is not None and defence.kind == "outputs":
        return atk.Queries(
            model, shape, k, budget=budget, harden=defence.harden, output_kind=defence.output_kind
        )
    return atk.Queries(model, shape, k, budget=budget)


def build_attack(
    spec: AttackSpec,
    knowledge: atk.Knowledge,
    *,
    num_forgotten: int | None = None,
    calibration: atk.Calibration | None = None,
    decider: str | None = None,
) -> atk.Attack:
    """The attack of ``spec``, prepared with the knowledge its class declares."""
    cls = spec.attack_class
    params = dict(spec.params)
    if spec.criterion is not None and "criterion" in cls.Params.model_fields:
        params["criterion"] = spec.criterion
    return cls.prepare(
        knowledge,
        decider or spec.decider_name,
        num_forgotten=num_forgotten,
        calibration=calibration,
        **params,
    )


KNOWN_PER_CLASS = KnowledgePolicy().per_class  # labelled samples a class an attacker holds


def attacker_knowledge(
    data: Dataset,
    mode: str,
    known: Sequence[int] | None,
    public_init: atk.PublicInit | None,
    seed: int,
    data_root: str | os.PathLike[str] | None,
) -> atk.Knowledge:
    """What the attacker of one model holds in knowledge ``mode``: in ``kept``, samples of the
    classes ``known`` to be kept (if any); in the other modes, samples of every class."""
    kept = mode == atk.knowledge.DEFAULT_MODE
    return atk.Knowledge(
        task=data.name,
        known_data=(
            (data.train.per_class_sample(KNOWN_PER_CLASS, known, seed=seed) if known else None)
            if kept
            else every_class(data.test, KNOWN_PER_CLASS, seed)
        ),
        labelled_data=data.test,
        data_root=None if data_root is None else str(data_root),
        mode=mode,
        public_init=public_init,
        seed=seed,
    )
