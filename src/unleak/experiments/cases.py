"""Model cases: one path from an original to every model an experiment attacks.

A :class:`ModelCase` is a model to attack plus what the harness (never the attacker) knows of it:
the method or null kind, the true forget set, and its efficacy beside ``rt``'s on the same forget
set. The audit, the sweep, ``unleak unlearn`` and the shadow experiments all get their models
here:

- :func:`original_of`: a checkpoint loaded (with its recorded updates and training recipe), or an
  original trained with the recipe (cached);
- :func:`unlearned_case`: unlearning, then efficacy with the ``rt`` reference;
- :func:`null_case`: a model from which nothing was removed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from torch import nn

from unleak import models
from unleak.data.core import Dataset
from unleak.defences import Defence
from unleak.errors import ConfigError
from unleak.evaluation import Efficacy, efficacy
from unleak.experiments.model_cache import ModelCache, Original, train_config_for
from unleak.models.checkpoint import load_extra
from unleak.training import Callback, TrainConfig
from unleak.unlearning import method_spec
from unleak.unlearning.au import UpdateLog

log = logging.getLogger(__name__)


@dataclass
class ModelCase:
    """A model to attack and what the harness (not the attacker) knows about it."""

    model: nn.Module
    method: str  # unlearning method, or the null kind for null models
    forget: tuple[int, ...]  # the truth; () for a null model
    kind: str = "unlearned"  # or "null"
    efficacy: dict[str, Any] = field(default_factory=dict)
    run: dict[str, Any] = field(default_factory=dict)  # how it was unlearned
    defence: Defence | None = None  # applied after unlearning (weights or outputs)

    @property
    def defence_name(self) -> str:
        return self.defence.name if self.defence is not None else ""


def needs_updates(methods: Sequence[str]) -> bool:
    """Whether any of ``methods`` needs the updates recorded while the original trained."""
    return any(method_spec(m).needs_updates for m in methods)


def original_of(
    cache: ModelCache,
    data: Dataset,
    arch: str,
    seed: int,
    *,
    checkpoint: str | os.PathLike[str] | None = None,
    methods: Sequence[str] = (),
    overrides: dict[str, Any] | None = None,
    arch_args: dict[str, Any] | None = None,
    callbacks: Sequence[Callback] = (),
) -> Original:
    """The original: ``checkpoint`` loaded, or ``arch`` trained on ``data`` with the recipe.

    A checkpoint must fit ``data`` and hold recorded updates when a method in ``methods`` needs
    them.
    """
    record = needs_updates(methods)
    if checkpoint is None:
        return cache.original(
            data,
            arch,
            seed,
            overrides=overrides,
            arch_args=arch_args,
            record_updates=record,
            callbacks=callbacks,
        )
    meta = models.read_metadata(checkpoint)
    model = models.load(checkpoint)  # weights checked against their metadata first
    if meta.num_classes != data.num_classes or tuple(meta.input_shape) != data.input_shape:
        raise ConfigError(
            f"{checkpoint} expects {meta.num_classes} classes of {tuple(meta.input_shape)}, "
            f"{data.name} has {data.num_classes} of {data.input_shape}",
            "use the data set the checkpoint was trained on",
        )
    tensors = load_extra(checkpoint, "updates")
    if record and tensors is None:
        wanting = [m for m in methods if method_spec(m).needs_updates]
        raise ConfigError(
            f"{checkpoint} has no recorded updates, which {', '.join(wanting)} needs",
            "train the original with `unleak train --record-updates`, or drop that method",
        )
    config = (
        TrainConfig(**meta.train_config)
        if meta.train_config
        else train_config_for(data, meta.arch, seed)
    )
    updates = UpdateLog.from_tensors(tensors) if tensors and record else None
    return cache.given(model, config, updates)


def unlearned_case(
    cache: ModelCache,
    original: Original,
    data: Dataset,
    method: str,
    forget: Sequence[int],
    seed: int,
    *,
    overrides: dict[str, Any] | None = None,
    rt_overrides: dict[str, Any] | None = None,
    reference: bool = True,
    callbacks: Sequence[Callback] = (),
) -> ModelCase:
    """Unlearn ``forget`` with ``method``; efficacy beside ``rt`` on the same forget set (the same
    seed, from the cache when it was run before) and beside the original."""
    forget = tuple(sorted(int(c) for c in forget))
    net, run = cache.unlearned(
        original, data, method, forget, seed, overrides=overrides, callbacks=callbacks
    )
    ref = None
    if reference and method == "rt":
        ref = efficacy(net, data.test, forget)
    elif reference:
        try:
            ref_net, _ = cache.unlearned(original, data, "rt", forget, seed, overrides=rt_overrides)
            ref = efficacy(ref_net, data.test, forget)
        except Exception as exc:  # the reference failing leaves this method's result standing
            log.warning("the rt reference for %s failed: %s", method, exc)
    info = efficacy(net, data.test, forget, reference=ref).to_dict()
    info["seconds"] = run.get("seconds")
    info["original"] = efficacy(original.model, data.test, forget).to_dict()
    info["stopped"] = run.get("stopped")
    return ModelCase(net, method, forget, "unlearned", info, run)


def null_case(
    cache: ModelCache, original: Original, data: Dataset, kind: str, seed: int
) -> ModelCase:
    """A null model (nothing forgotten) of ``kind``: see :meth:`ModelCache.null`."""
    return ModelCase(cache.null(original, data, kind, seed), kind, (), "null", {})


def defended_case(case: ModelCase, defence: Defence, data: Dataset, seed: int) -> ModelCase:
    """``case`` with ``defence`` applied: a new model for a weights defence (its efficacy measured
    again, beside the same ``rt`` reference), the same model behind hardened outputs otherwise."""
    if defence.kind == "outputs":
        return replace(case, defence=defence)
    model = defence.apply(case.model, data.train, case.forget, seed)
    info = dict(case.efficacy)
    if case.forget:
        ref = case.efficacy.get("reference")
        eff = efficacy(
            model, data.test, case.forget, reference=Efficacy.from_dict(ref) if ref else None
        )
        info.update(eff.to_dict())
        info["before_defence"] = {k: case.efficacy.get(k) for k in ("forget_acc", "retain_acc")}
    return replace(case, model=model, efficacy=info, defence=defence)
