"""The unlearning contract, registry and dispatcher.

A built-in method is a function ``fn(model, retain, forget, config, ctx) -> TrainRun`` registered
with its config class (a :class:`~unleak.training.TrainConfig` plus the method's own options). It
works on a copy of the model and runs its steps through :func:`unleak.training.fit`, which owns the
optimiser, schedule, epochs, progress and seeding.

A plug-in method (:mod:`unleak.unlearning.plugins`: ``PATH.py:NAME``, an ``unleak.methods`` entry
point, or :func:`register_method`) has the simpler contract ``unlearn(model, retain, forget, *,
seed, **settings) -> nn.Module``; the registry wraps it to the same :class:`MethodSpec`, so every
caller (audit, sweep, cache, null models) treats both alike.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from pydantic import BaseModel, ValidationError
from torch import nn

from unleak import catalog, recipes
from unleak.data.core import Split, validate_forget_set
from unleak.errors import ConfigError, ForgetSetError, unknown_name
from unleak.training import Callback, History, TrainConfig, TrainRun
from unleak.unlearning import plugins


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
    ``origin`` and ``code_hash`` are set for plug-ins: where the code came from, and the content
    hash that keys every cached model of it (an edited method file is never served stale).
    """

    name: str
    fn: Method
    config_cls: type[BaseModel]  # UnlearnConfig for built-ins, PluginSettings for plug-ins
    description: str
    needs_updates: bool = False
    null_ok: bool = False
    origin: str = ""
    code_hash: str = ""

    @property
    def builtin(self) -> bool:
        return not self.origin


_METHODS: dict[str, MethodSpec] = {}


def builtin_method(
    name: str,
    config_cls: type[UnlearnConfig],
    description: str,
    *,
    needs_updates: bool = False,
    null_ok: bool = False,
) -> Callable[[Method], Method]:
    """Register one of unleak's own unlearning methods under ``name`` (a decorator)."""

    def deco(fn: Method) -> Method:
        if name in _METHODS:
            raise ValueError(f"unlearning method {name!r} is registered twice")
        _METHODS[name] = MethodSpec(name, fn, config_cls, description, needs_updates, null_ok)
        return fn

    return deco


def _spec_of(plugin: plugins.Plugin) -> MethodSpec:
    return MethodSpec(
        plugin.name,
        plugin.run,
        plugin.settings_cls,
        plugin.description,
        null_ok=plugin.null_ok,
        origin=plugin.origin,
        code_hash=plugin.code_hash,
    )


def register_method(
    fn: Callable[..., Any],
    name: str | None = None,
    *,
    description: str | None = None,
    null_ok: bool | None = None,
    replace: bool = False,
) -> str:
    """Register your own unlearning method for this process; returns the name to use.

    ``fn`` is ``unlearn(model, retain, forget, *, seed, **settings) -> nn.Module`` or a class with
    such an ``unlearn`` method (see :mod:`unleak.unlearning.plugins`). The name defaults to
    ``fn.name`` or ``fn.__name__``; a built-in method's name is refused, and so is a name already
    registered unless ``replace``.
    """
    name = name or getattr(fn, "name", None) or getattr(fn, "__name__", "")
    if not isinstance(name, str) or not name or "@" in name or "," in name:
        raise plugins.PluginError(f"{name!r} cannot name a method", "give name= without '@' or ','")
    taken = _METHODS.get(name)
    if taken is not None and (taken.builtin or not replace):
        raise plugins.PluginError(
            f"unlearning method {name!r} is already registered"
            + (" (a built-in method)" if taken.builtin else ""),
            "give another name=" + ("" if taken.builtin else ", or replace=True"),
        )
    plugin = plugins.make_plugin(
        fn,
        name,
        origin=f"Python {getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', name)}",
        code_hash=plugins.source_hash(fn),
        description=description,
        null_ok=null_ok,
    )
    _METHODS[name] = _spec_of(plugin)
    return name


def method_names(*, variants: bool = False, builtin: bool = False) -> list[str]:
    """Registered methods (and, with ``variants``, the named recipes ``METHOD@VARIANT``); with
    ``builtin``, unleak's own only. Methods in files and entry points are found when named."""
    own = [n for n, s in _METHODS.items() if s.builtin or not builtin]
    return sorted(own) + (variant_names() if variants else [])


def is_plugin_name(name: str) -> bool:
    """Whether ``name`` would be looked up as a plug-in: ``PATH.py:NAME`` or an entry point."""
    return catalog.is_plugin(name)


def code_hash(name: str) -> str:
    """The content hash of a plug-in method's source (part of its cache and run keys); "" for a
    built-in method, a recipe, or a name that is no method (a null kind such as ``tune@0.01``)."""
    if name in _METHODS or is_plugin_name(name):
        return method_spec(name).code_hash
    return ""


def variant_names() -> list[str]:
    """Named recipes of ``recipes.yaml`` (``variants:``), e.g. ``ng@chance``."""
    return sorted(recipes.variants())


def method_spec(name: str) -> MethodSpec:
    """The registered method of ``name``; ``METHOD@VARIANT`` names a recipe of that method,
    ``PATH.py:NAME`` a method in a file, any other name may be an installed entry point."""
    if name in _METHODS:
        return _METHODS[name]
    if catalog.is_file_spec(name):
        return _spec_of(plugins.from_file(name))  # imported once per file content
    base, _, variant = name.partition("@")
    if base not in _METHODS and "@" not in name:
        found = plugins.from_entry_point(name)
        if found is not None:
            _METHODS[name] = _spec_of(found)
            return _METHODS[name]
    if base not in _METHODS or (variant and name not in recipes.variants()):
        raise ConfigError(
            unknown_name("unlearning method", name, method_names(variants=True)),
            "pick one of those methods (METHOD@VARIANT names a recipe, see `unleak methods`), or "
            "give a method of your own as PATH.py:NAME",
        )
    return _METHODS[base]


def config_for(
    method: str,
    dataset: str | None = None,
    model: str | None = None,
    overrides: dict[str, Any] | None = None,
    input_shape: tuple[int, ...] | None = None,
) -> BaseModel:
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
    config: BaseModel  # the method's config class
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


def freeze(model: nn.Module) -> nn.Module:
    """``model`` itself, in eval mode and with no gradients."""
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()


def frozen_copy(model: nn.Module, device: str | torch.device | None = None) -> nn.Module:
    """A frozen copy of ``model`` (:func:`freeze`): the fixed original a method reads (a
    distillation teacher, a reference policy, a probe) while it trains ``model``."""
    out = freeze(copy.deepcopy(model))
    return out if device is None else out.to(device)


def forget_and_retained_share(retain: Split, forget: Split, fraction: float, seed: int) -> Split:
    """The forget split and a random ``fraction`` of the retained one (at least one sample,
    drawn with ``seed``), in one split: what distillation methods train the student on."""
    gen = torch.Generator().manual_seed(seed)
    n = max(1, round(fraction * len(retain)))
    subset = retain.take(torch.randperm(len(retain), generator=gen)[:n])
    return Split(
        torch.cat([subset.x, forget.x]), torch.cat([subset.y, forget.y]), retain.num_classes
    )


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
    config: BaseModel | dict[str, Any] | None = None,
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
    if not isinstance(config, BaseModel):
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
    config: BaseModel | dict[str, Any] | None = None,
    **kwargs: Any,
) -> nn.Module:
    """Return an unlearned copy of ``model`` (see :func:`run_unlearning`)."""
    return run_unlearning(method, model, retain, forget, config, **kwargs).model
