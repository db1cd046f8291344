"""Unlearning methods of your own: from a Python file, an installed package, or Python itself.

The contract (the NeurIPS 2023 unlearning challenge's shape, with a seed and settings)::

    def my_method(model, retain, forget, *, seed, lr=0.01, steps=50) -> nn.Module: ...

``model`` is a copy of the original (eval mode), ``retain`` and ``forget`` are
:class:`~unleak.data.Split` objects (``forget.loader(batch_size=64)`` is a torch ``DataLoader``),
``seed`` seeds the run, and every other keyword argument with a default is a *setting*: it can be
set from ``--set KEY=VALUE`` or YAML, is validated against the default's type, and is part of the
cache key. ``**settings`` accepts any further keys. A class with an ``unlearn`` method of that
shape works too (it is built with no arguments). Optional attributes of the function or class:
``name``, ``description`` (else the docstring's first line) and ``null_ok`` (default True: the
method also runs with an empty forget split as a null model).

Where a method comes from:

- ``PATH.py:NAME``: imported from the file when named (the content hash keys every cache);
- an entry point of the group ``unleak.methods`` in an installed package, found by name at run
  time (``importlib.metadata``, no import of the package until the name is used);
- :func:`unleak.register_method` from Python (this process only).

The method's result is checked: a torch model of the same architecture, with finite weights, and
the model it was given left as it was. A broken plug-in gets a one-line :class:`PluginError`.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import typing
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field, create_model
from torch import nn

from unleak.catalog import METHODS_GROUP
from unleak.data.core import Split
from unleak.errors import ConfigError
from unleak.models.userclass import import_file
from unleak.training import History, TrainRun

FIX = "see docs/methods.md for the plug-in contract"


class PluginError(ConfigError):
    """A plug-in unlearning method that cannot be loaded, or broke its contract when it ran."""


class PluginSettings(BaseModel):
    """Settings of a plug-in method: its seed, plus the keyword arguments its signature declares
    (a subclass is built per method from that signature)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    seed: int = Field(0, ge=0, lt=2**63)


class OpenSettings(PluginSettings):
    """Settings of a method that takes ``**settings``: any further key is passed through."""

    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)


@dataclass(frozen=True)
class Plugin:
    """A user's unlearning method, wrapped to the registry's contract."""

    name: str
    fn: Callable[..., Any]
    settings_cls: type[PluginSettings]
    description: str
    origin: str  # where it came from, for messages and the run record
    code_hash: str  # content hash of its source: part of every cache key
    null_ok: bool = True

    def run(
        self, model: nn.Module, retain: Split, forget: Split, config: Any, ctx: Any
    ) -> TrainRun:
        """Call the method on ``model`` (the dispatcher's copy) and check what it returns."""
        settings = config.model_dump()
        seed = settings.pop("seed")
        before = {k: v.detach().clone() for k, v in model.state_dict().items()}
        try:
            out = self.fn(model, retain, forget, seed=seed, **settings)
        except PluginError:
            raise
        except Exception as exc:
            raise PluginError(
                f"unlearning method {self.name} raised {type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}",
                "fix the method (the traceback: rerun with --debug)",
            ) from exc
        check_result(self.name, model, before, out)
        arch = getattr(model, "unleak_arch", None)
        if arch is not None:
            out.unleak_arch = arch  # saved and cached like the original
        return TrainRun(out.cpu().eval(), History(stopped="completed"))


def check_result(
    name: str, given: nn.Module, before: dict[str, torch.Tensor], out: Any
) -> nn.Module:
    """``out`` if it is a model of ``given``'s architecture with finite weights and ``given`` is
    unchanged; else a one-line :class:`PluginError` naming what went wrong."""
    if not isinstance(out, nn.Module):
        raise PluginError(
            f"unlearning method {name} returned {type(out).__name__}, not a torch model",
            "return the unlearned nn.Module",
        )
    state = out.state_dict()
    shapes = {k: tuple(v.shape) for k, v in before.items()}
    got = {k: tuple(v.shape) for k, v in state.items()}
    if got != shapes:
        diff = sorted(set(shapes) ^ set(got)) or [k for k in shapes if shapes[k] != got[k]]
        raise PluginError(
            f"unlearning method {name} returned a model of another architecture (first "
            f"difference: {diff[0]})",
            "return a model of the same class and shapes as the one it was given",
        )
    now = given.state_dict()
    changed = [k for k, v in before.items() if not torch.equal(now[k], v)]
    if changed:
        raise PluginError(
            f"unlearning method {name} changed the model it was given in place ({changed[0]})",
            "work on a copy (copy.deepcopy(model)) and return it",
        )
    for key, value in state.items():
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise PluginError(
                f"unlearning method {name} returned NaN or infinite weights ({key})",
                "lower its learning rate or clip its gradients",
            )
    return out


# --------------------------------------------------------------------------- wrapping


def _callable_of(obj: Any, where: str) -> Callable[..., Any]:
    """The function to call: ``obj`` itself, or ``obj().unlearn`` for a class."""
    if isinstance(obj, type):
        try:
            instance = obj()
        except Exception as exc:
            raise PluginError(
                f"{where}: {obj.__name__}() failed: {type(exc).__name__}: {exc}",
                "give the class a constructor without required arguments",
            ) from None
        fn = getattr(instance, "unlearn", None)
        if not callable(fn):
            raise PluginError(
                f"{where}: class {obj.__name__} has no unlearn method",
                "define unlearn(self, model, retain, forget, *, seed, **settings)",
            )
        return fn
    if not callable(obj):
        raise PluginError(f"{where} is a {type(obj).__name__}, not a function", FIX)
    return obj


def settings_model(fn: Callable[..., Any], name: str, where: str) -> type[PluginSettings]:
    """The settings class of ``fn``, from its signature: ``(model, retain, forget, *, seed,
    **settings)``; every other keyword argument is a setting typed by its annotation or
    default."""
    shape = "unlearn(model, retain, forget, *, seed, **settings)"
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        raise PluginError(f"{where}: its signature cannot be read", f"define {shape}") from None
    params = list(sig.parameters.values())
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    varargs = any(p.kind == p.VAR_POSITIONAL for p in params)
    if len(positional) < 3 and not varargs:
        raise PluginError(
            f"{where} takes {len(positional)} positional argument(s), not model, retain, forget",
            f"define it as {shape}",
        )
    extra_required = [p.name for p in positional[3:] if p.default is p.empty]
    by_name = {p.name: p for p in params}
    var_kw = any(p.kind == p.VAR_KEYWORD for p in params)
    if "seed" not in by_name and not var_kw:
        raise PluginError(f"{where} takes no seed keyword", f"define it as {shape}")
    if extra_required:
        raise PluginError(
            f"{where} requires argument(s) {extra_required} beyond model, retain, forget",
            f"give them defaults (settings), or define it as {shape}",
        )
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # an annotation that does not resolve: fall back to the defaults' types
        hints = {}
    settings = [p for p in params if p.kind == p.KEYWORD_ONLY and p.name != "seed"]
    no_default = [p.name for p in settings if p.default is p.empty]
    if no_default:
        raise PluginError(
            f"{where}: setting(s) {no_default} have no default",
            "give every keyword argument after seed a default value",
        )
    fields: dict[str, Any] = {}
    for p in [*positional[3:], *settings]:
        kind = hints.get(p.name)
        if kind is None:
            kind = type(p.default) if isinstance(p.default, bool | int | float | str) else Any
        fields[p.name] = (kind, p.default)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a setting that shadows a pydantic attribute
            return create_model(  # type: ignore[call-overload,no-any-return]
                f"{name.rpartition(':')[2] or 'plugin'}_settings",
                __base__=OpenSettings if var_kw else PluginSettings,
                **fields,
            )
    except Exception as exc:  # a setting named like a pydantic attribute (json, copy...)
        raise PluginError(
            f"{where}: its settings {sorted(fields)} cannot be declared ({type(exc).__name__})",
            "rename the setting",
        ) from None


def make_plugin(
    obj: Any,
    name: str,
    *,
    origin: str,
    code_hash: str,
    description: str | None = None,
    null_ok: bool | None = None,
) -> Plugin:
    """Wrap a function or class of the contract as a :class:`Plugin` named ``name``."""
    fn = _callable_of(obj, origin)
    settings = settings_model(fn, name, origin)
    doc = inspect.getdoc(obj) or ""
    desc = description or getattr(obj, "description", None) or (doc.splitlines() or [""])[0]
    ok = null_ok if null_ok is not None else bool(getattr(obj, "null_ok", True))
    return Plugin(name, fn, settings, desc or f"plug-in method ({origin})", origin, code_hash, ok)


def source_hash(obj: Any) -> str:
    """Content hash of the source file that defines ``obj`` (its code otherwise)."""
    try:
        path = inspect.getsourcefile(obj)
        if path and Path(path).is_file():
            return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
    except TypeError:
        pass
    code = getattr(obj, "__code__", None)
    blob = code.co_code if code is not None else repr(obj).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


# --------------------------------------------------------------------------- files


def from_file(spec: str) -> Plugin:
    """The method ``NAME`` of ``PATH.py`` (the file is imported: it is your own code)."""
    path_text, _, attr = spec.rpartition(":")
    path = Path(path_text).expanduser()
    if not path.is_file():
        raise PluginError(f"no method file {path}", "check the path in PATH.py:NAME")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return _file_plugin(spec, path.resolve(), attr, digest)


@functools.cache
def _file_plugin(spec: str, path: Path, attr: str, digest: str) -> Plugin:
    """One plug-in per file content (an edited file makes a new one, with a new hash)."""
    module = _import_file(path, digest)
    if not hasattr(module, attr):
        defined = sorted(
            k for k, v in vars(module).items() if not k.startswith("_") and inspect.isfunction(v)
        )
        raise PluginError(
            f"{path.name} defines no {attr!r}",
            f"name a function or class of it after the colon ({', '.join(defined) or 'none'})",
        )
    return make_plugin(getattr(module, attr), spec, origin=f"{path}:{attr}", code_hash=digest)


@functools.cache
def _import_file(path: Path, digest: str) -> Any:
    """Import the file once per content (an edited file is imported again, under a new name)."""
    return import_file(path, f"unleak_user_method_{digest}", PluginError, "method")


# --------------------------------------------------------------------------- entry points


def from_entry_point(name: str) -> Plugin | None:
    """The installed method ``name``, or None when no package declares it."""
    found = list(metadata.entry_points(group=METHODS_GROUP, name=name))
    if not found:
        return None
    ep = found[0]
    try:
        obj = ep.load()
    except Exception as exc:
        raise PluginError(
            f"the entry point {name} = {ep.value} does not load: {type(exc).__name__}: {exc}",
            "fix or reinstall the package that declares it",
        ) from None
    dist = getattr(ep, "dist", None)
    version = f"{dist.name}=={dist.version}" if dist is not None else ""
    digest = hashlib.sha256(f"{version}:{source_hash(obj)}".encode()).hexdigest()[:16]
    return make_plugin(obj, name, origin=f"entry point {ep.value}", code_hash=digest)
