"""``ModelCache``: trained models kept on disk by a key of everything that defines them.

An original model is trained once per (data set, model, seed, recipe) and reused by every
unlearning run, shadow experiment and sweep that needs it; unlearned and null models likewise.
Entries are checkpoint folders (safetensors + JSON), written atomically. Within one process every
model is also memoised, so an audit that never writes to disk still trains each model once.

(Not to be confused with the sweep's result store, ``sweep_store.ResultStore``, or the attacks'
cache of auxiliary heads.)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from unleak import models, recipes
from unleak.cache import cache_root, fingerprint, key_of
from unleak.data.core import Dataset
from unleak.errors import ConfigError
from unleak.experiments.nulls import build_null, check_null_kind, null_config
from unleak.models.checkpoint import load_extra
from unleak.training import Callback, TrainConfig, fit
from unleak.unlearning import (
    code_hash,
    config_for,
    run_unlearning,
)
from unleak.unlearning.au import UpdateLog, UpdateRecorder

log = logging.getLogger(__name__)


@dataclass
class Original:
    """The owner's model before unlearning, with what unlearning methods may need of it."""

    model: nn.Module
    config: TrainConfig
    updates: UpdateLog | None
    key: str
    trained: bool  # False when it came from the cache or a checkpoint


def train_config_for(
    dataset: Dataset, model: str, seed: int, overrides: dict[str, Any] | None = None
) -> TrainConfig:
    """The recipe's training configuration for ``dataset``/``model``, with ``overrides`` on top."""
    values = recipes.train_recipe(dataset.name, model, dataset.input_shape)
    values.update(overrides or {})
    values["seed"] = seed
    try:
        return TrainConfig(**values)
    except Exception as exc:  # pydantic's ValidationError: report the first problem in one line
        errors = getattr(exc, "errors", None)
        first = errors()[0] if callable(errors) else None
        msg = first["msg"].removeprefix("Value error, ") if first else ""
        where = f"{'.'.join(str(p) for p in first['loc'])}: {msg}" if first else exc
        raise ConfigError(f"training configuration is invalid: {where}", "fix that value") from exc


def code_of(method: str) -> dict[str, str]:
    """``{"code": HASH}`` for a plug-in method (the content hash of its source), else ``{}``:
    part of cache and run keys, so an edited method file is never served from a stale entry
    (built-in methods' keys stay as they were)."""
    code = code_hash(method)
    return {"code": code} if code else {}


def data_id(data: Dataset) -> dict[str, Any]:
    """What identifies a data set in cache keys."""
    return {
        "name": data.name,
        "train": len(data.train),
        "test": len(data.test),
        "source": data.source,
    }


class ModelCache:
    """Cached originals, unlearned models and null models under ``root/models``.

    ``root=None`` uses the per-user cache (``$UNLEAK_CACHE``); ``enabled=False`` keeps nothing on
    disk. ``trained`` counts the models actually trained (tests check the cache is reused).
    """

    def __init__(self, root: str | os.PathLike[str] | None = None, enabled: bool = True) -> None:
        self.dir = cache_root(root) / "models"
        self.enabled = enabled
        self.trained = 0
        self._memo: dict[str, Any] = {}

    # ---------------------------------------------------------------- helpers
    def _path(self, spec: dict[str, Any]) -> Path:
        return self.dir / key_of(spec)

    def _load(self, spec: dict[str, Any], arch: str | None = None) -> nn.Module | None:
        """The cached model of ``spec``; ``arch`` names the class of your own it was built from
        (given in this run's configuration, never read from the cache entry)."""
        path = self._path(spec)
        if self.enabled and (path / models.checkpoint.METADATA).is_file():
            user = arch if arch and arch.startswith("user:") else None
            try:
                return models.load(path, model_def=user)
            except Exception as exc:  # a damaged entry is retrained, never trusted
                log.warning("discarding cache entry %s: %s", path, exc)
        return None

    def _save(
        self, spec: dict[str, Any], model: nn.Module, extra: dict[str, Any] | None = None, **kw: Any
    ) -> None:
        if self.enabled and getattr(model, "unleak_arch", None) is not None:
            models.save(model, self._path(spec), extra={"cache_spec": spec, **(extra or {})}, **kw)

    # ---------------------------------------------------------------- originals
    def original(
        self,
        data: Dataset,
        arch: str,
        seed: int,
        *,
        overrides: dict[str, Any] | None = None,
        arch_args: dict[str, Any] | None = None,
        record_updates: bool = True,
        callbacks: Sequence[Callback] = (),
    ) -> Original:
        """The original of ``arch`` on ``data`` with the recipe and ``seed``: trained or cached."""
        cfg = train_config_for(data, arch, seed, overrides)
        arch_args = recipes.arch_args(data.name, arch, data.input_shape, arch_args)
        spec = {
            "kind": "original",
            "data": data_id(data),
            "arch": arch,
            "arch_args": arch_args or {},
            "config": cfg.model_dump(),
            "record": record_updates,
        }
        key = key_of(spec)
        if key in self._memo:
            return self._memo[key]
        model = self._load(spec, arch)
        if model is not None:
            tensors = load_extra(self._path(spec), "updates") if record_updates else None
            result = Original(
                model, cfg, UpdateLog.from_tensors(tensors) if tensors else None, key, False
            )
        else:
            model = models.build(arch, data, seed=seed, **(arch_args or {}))
            recorder = UpdateRecorder(0) if record_updates else None
            fit(model, data.train, cfg, callbacks=[*callbacks, *([recorder] if recorder else [])])
            self.trained += 1
            updates = recorder.log() if recorder else None
            self._save(
                spec,
                model,
                dataset=data.name,
                seed=seed,
                train_config=cfg.model_dump(),
                tensors={"updates": updates.to_tensors()} if updates else None,
            )
            result = Original(model.cpu().eval(), cfg, updates, key, True)
        self._memo[key] = result
        return result

    @staticmethod
    def given(model: nn.Module, config: TrainConfig, updates: UpdateLog | None = None) -> Original:
        """An original the user supplies (a checkpoint, their own model), keyed by its weights."""
        return Original(model.cpu().eval(), config, updates, fingerprint(model), False)

    # ---------------------------------------------------------------- unlearned
    def unlearned(
        self,
        original: Original,
        data: Dataset,
        method: str,
        forget: Sequence[int],
        seed: int,
        *,
        overrides: dict[str, Any] | None = None,
        callbacks: Sequence[Callback] = (),
    ) -> tuple[nn.Module, dict[str, Any]]:
        """An unlearned model and its run description (method, forget set, config, seconds)."""
        arch = getattr(original.model, "unleak_arch", {}).get("arch")
        cfg = config_for(method, data.name, arch, overrides, data.input_shape)
        spec = {
            "kind": "unlearned",
            "original": original.key,
            "method": method,
            "forget": sorted(int(c) for c in forget),
            "seed": seed,
            "config": cfg.model_dump(),
            **code_of(method),
        }
        key = key_of(spec)
        if key in self._memo:
            return self._memo[key]
        model = self._load(spec, arch)
        if model is not None:
            meta = models.read_metadata(self._path(spec))
            out = (model, dict(getattr(meta, "unlearning", {}) or {}))
        else:
            retain, forget_split = data.train.split_classes(forget)
            run = run_unlearning(
                method,
                original.model,
                retain,
                forget_split,
                cfg,
                dataset=data.name,
                seed=seed,
                original_config=original.config,
                updates=original.updates,
                callbacks=callbacks,
            )
            self.trained += 1
            desc = run.describe()
            self._save(spec, run.model, dataset=data.name, seed=seed, extra={"unlearning": desc})
            out = (run.model, desc)
        self._memo[key] = out
        return out

    # ---------------------------------------------------------------- nulls
    def null(self, original: Original, data: Dataset, kind: str, seed: int) -> nn.Module:
        """A model from which nothing was removed, of ``kind`` (see :mod:`.nulls`)."""
        if kind == "original":
            return original.model
        arch = getattr(original.model, "unleak_arch", {}).get("arch")
        cfg = null_config(check_null_kind(kind), original.config, data, arch, seed)
        spec = {
            "kind": "null",
            "original": original.key,
            "null": kind,
            "config": cfg.model_dump(),
            **code_of(kind),
        }
        key = key_of(spec)
        if key in self._memo:
            return self._memo[key]
        model = self._load(spec, arch)
        if model is None:
            model = build_null(kind, original.model, original.config, data, cfg)
            self.trained += 1
            self._save(spec, model, dataset=data.name, seed=seed)
        self._memo[key] = model
        return model
