"""A small on-disk cache of tensors keyed by everything that defines them.

Keys are JSON-able dicts; the file name is their SHA-256. Entries are safetensors files written
atomically, so an interrupted run never leaves a half-written entry.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from unleak._io import atomic_write_bytes


def cache_root(root: str | os.PathLike[str] | None = None) -> Path:
    """``root``, else ``$UNLEAK_CACHE``, else a per-user cache folder."""
    if root:
        return Path(root).expanduser()
    env = os.environ.get("UNLEAK_CACHE")
    if env:
        return Path(env).expanduser()
    import pooch

    return Path(pooch.os_cache("unleak")) / "cache"


def key_of(spec: dict[str, Any]) -> str:
    text = json.dumps(spec, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def fingerprint(tensors: dict[str, torch.Tensor] | torch.nn.Module) -> str:
    """A content hash of a state dict (or a model's), for cache keys."""
    state = tensors.state_dict() if isinstance(tensors, torch.nn.Module) else tensors
    h = hashlib.sha256()
    for k in sorted(state):
        t = state[k].detach().cpu().contiguous()
        h.update(k.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()[:32]


class TensorCache:
    """``get_or_compute(spec, fn)``: load the entry for ``spec`` or compute, store and return it."""

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        namespace: str = "default",
        enabled: bool = True,
    ) -> None:
        self.dir = cache_root(root) / namespace
        self.enabled = enabled
        self.hits = 0
        self.misses = 0

    def path(self, spec: dict[str, Any]) -> Path:
        return self.dir / f"{key_of(spec)}.safetensors"

    def get_or_compute(
        self, spec: dict[str, Any], fn: Callable[[], dict[str, torch.Tensor]]
    ) -> dict[str, torch.Tensor]:
        from safetensors.torch import load_file, save

        path = self.path(spec)
        if self.enabled and path.is_file():
            try:
                out = load_file(str(path))
                self.hits += 1
                return out
            except Exception:  # a damaged entry is recomputed, never trusted
                path.unlink(missing_ok=True)
        self.misses += 1
        out = fn()
        if self.enabled:
            blob = save(
                {k: v.detach().cpu().contiguous() for k, v in out.items()},
                metadata={"spec": json.dumps(spec, sort_keys=True, default=str)[:60000]},
            )
            atomic_write_bytes(path, blob)
        return out
