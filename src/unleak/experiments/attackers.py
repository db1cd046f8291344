"""Attackers from specs: an attack prepared with exactly the knowledge its class declares, and the
handle of exactly the access it requires. Used by the harness and by shadow experiments."""

from __future__ import annotations

from torch import nn

from unleak import attacks as atk
from unleak.data.core import Dataset
from unleak.defences import Defence
from unleak.experiments.settings import AttackSpec


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
