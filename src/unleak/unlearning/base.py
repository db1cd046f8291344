"""The unlearning contract, registry and dispatcher.

A method is a function ``fn(model, retain, forget, config, ctx) -> TrainRun`` registered with its
config class (a :class:`~unleak.training.TrainConfig` plus the method's own options). It works on a
copy of the model and runs its steps through :func:`unleak.training.fit`, which owns the optimiser,
schedule, epochs, progress and seeding.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from pydantic import ValidationError
from torch import nn

from unleak import recipes
from unleak.data.core import Split, validate_forget_set
from unleak.errors import ConfigError, ForgetSetError, unknown_name
from unleak.training import Callback, History, TrainConfig, TrainRun


class UnlearnConfig(TrainConfig):
    """Settings of the shared loop for an unlearning run; methods subclass it with their options."""


@dataclass
class UnlearnContext:
    """What a method may need beyond the data: the original recipe, recorded updates, callbacks."""

    forget_classes: tuple[int, ...]
    num_classes: int
    original_config: TrainConfig | None = None
    updates: Any = None  # unleak.unlearning.au.UpdateLog
    callbacks: Sequence[Callback] = ()
    dataset: str | None = None


Method = Callable[[nn.Module, Split, Split, Any, UnlearnContext], TrainRun]


@dataclass(frozen=True)
class MethodSpec:
    """A registered method: its function, its config class, and what it needs beyond the data.

    ``needs_updates``: the parameter updates recorded while the original trained (amnesiac);
    the harness loads or records them only for such methods. ``null_ok``: the method's own step
    runs with an empty forget split (a null model of that method: nothing to forget).
    """

    name: str
    fn: Method
    config_cls: type[UnlearnConfig]
    description: str
    needs_updates: bool = False
    null_ok: bool = False


_METHODS: dict[str, MethodSpec] = {}


def register_method(
    name: str,
    config_cls: type[UnlearnConfig],
    description: str,
    *,
    needs_updates: bool = False,
    null_ok: bool = False,
) -> Callable[[Method], Method]:
    """Register an unlearning method under ``name``."""

    def deco(fn: Method) -> Method:
        if name in _METHODS:
            raise ValueError(f"unlearning method {name!r} is registered twice")
        _METHODS[name] = MethodSpec(name, fn, config_cls, description, needs_updates, null_ok)
        return fn

    return deco


def method_names(*, variants: bool = False) -> list[str]:
    """Registered methods (and, with ``variants``, the named recipes ``METHOD@VARIANT``)."""
    return sorted(_METHODS) + (variant_names() if variants else [])


def variant_names() -> list[str]:
    """Named recipes of ``recipes.yaml`` (``variants:``), e.g. ``ng@chance``."""
    return sorted(recipes.variants())


def method_spec(name: str) -> MethodSpec:
    """The registered method of ``name``; ``METHOD@VARIANT`` names a recipe of that method."""
    base, _, variant = name.partition("@")
    if base not in _METHODS or (variant and name not in recipes.variants()):
        raise ConfigError(
            unknown_name("unlearning method", name, method_names(variants=True)),
            "pick one of those methods (METHOD@VARIANT names a recipe, see `unleak methods`)",
        )
    return _METHODS[base]


def config_for(
    method: str,
    dataset: str | None = None,
    model: str | None = None,
    overrides: dict[str, Any] | None = None,
    input_shape: tuple[int, ...] | None = None,
) -> UnlearnConfig:
    """The recipe's configuration of ``method`` for ``dataset``/``model``, with ``overrides``.

    A variant ``METHOD@VARIANT`` is the method's recipe with the variant's settings on top.
    """
    spec = method_spec(method)
    values: dict[str, Any] = {}
    table = recipes.lookup("unlearn", dataset or "default", model, input_shape)
    for key in dict.fromkeys((spec.name, method)):
        values.update(table.get(key, {}) if isinstance(table.get(key), dict) else {})
    values.update(overrides or {})
    try:
        return spec.config_cls(**values)
    except ValidationError as exc:
        e = exc.errors()[0]
        raise ConfigError(
            f"{method} configuration: {'.'.join(str(p) for p in e['loc'])}: {e['msg']}",
            f"fix that value (fields: {', '.join(sorted(spec.config_cls.model_fields))})",
        ) from exc


@dataclass
class UnlearnRun:
    """An unlearned model and how it came to be."""

    model: nn.Module
    method: str
    forget: tuple[int, ...]
    config: UnlearnConfig
    seconds: float
    history: History = field(default_factory=History)

    def describe(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "forget": list(self.forget),
            "config": self.config.model_dump(),
            "seconds": self.seconds,
            "steps": self.history.steps,
            "stopped": self.history.stopped,
        }


def forget_classes_of(retain: Split, forget: Split) -> tuple[int, ...]:
    """The forgotten classes, from the forget split, checked against the retained split."""
    if len(forget) == 0:
        raise ForgetSetError(
            "the forget split holds no sample", "split with data.train.split_classes"
        )
    classes = validate_forget_set(torch.unique(forget.y).tolist(), forget.num_classes)
    overlap = sorted(set(classes) & set(torch.unique(retain.y).tolist()))
    if overlap:
        raise ForgetSetError(
            f"class(es) {overlap} appear in both the retained and the forget split",
            "split with data.train.split_classes, which never mixes them",
        )
    return classes


def run_unlearning(
    method: str,
    model: nn.Module,
    retain: Split,
    forget: Split,
    config: UnlearnConfig | dict[str, Any] | None = None,
    *,
    dataset: str | None = None,
    seed: int | None = None,
    original_config: TrainConfig | None = None,
    updates: Any = None,
    callbacks: Sequence[Callback] = (),
) -> UnlearnRun:
    """Unlearn ``forget`` from a copy of ``model`` with a registered method; the input is untouched.

    ``config`` is a method config, or a dict of overrides on the recipe for ``dataset``.
    """
    spec = method_spec(method)
    classes = forget_classes_of(retain, forget)
    arch = getattr(model, "unleak_arch", {}).get("arch")
    if not isinstance(config, UnlearnConfig):
        config = config_for(method, dataset, arch, config, retain.input_shape)
    elif not isinstance(config, spec.config_cls):
        config = spec.config_cls(**config.model_dump())
    if seed is not None:
        config = config.model_copy(update={"seed": seed})
    ctx = UnlearnContext(
        forget_classes=classes,
        num_classes=forget.num_classes,
        original_config=original_config,
        updates=updates,
        callbacks=callbacks,
        dataset=dataset,
    )
    work = copy.deepcopy(model)
    start = time.perf_counter()
    run = spec.fn(work, retain, forget, config, ctx)
    seconds = time.perf_counter() - start
    run.model.cpu().eval()  # attacks and evaluation work on the CPU
    return UnlearnRun(run.model, method, classes, config, seconds, run.history)


def unlearn(
    method: str,
    model: nn.Module,
    retain: Split,
    forget: Split,
    config: UnlearnConfig | dict[str, Any] | None = None,
    **kwargs: Any,
) -> nn.Module:
    """Return an unlearned copy of ``model`` (see :func:`run_unlearning`)."""
    return run_unlearning(method, model, retain, forget, config, **kwargs).model
