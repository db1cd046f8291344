"""Checkpoints: ``model.safetensors`` (weights) beside ``model.json`` (what built them).

Loading reads JSON and safetensors only, never a pickle, so a checkpoint from a stranger cannot run
code. Names and shapes are checked against the architecture the metadata names.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from torch import nn

from unleak._io import atomic_write_json, staged_dir
from unleak._version import __version__
from unleak.errors import ModelError
from unleak.models.zoo import build

WEIGHTS = "model.safetensors"
METADATA = "model.json"
FORMAT = "unleak-checkpoint"

JSONScalar = str | int | float | bool | None


class CheckpointMeta(BaseModel):
    """What ``model.json`` holds. Unknown keys are kept (newer versions may add some)."""

    model_config = ConfigDict(extra="allow")

    format: Literal["unleak-checkpoint"] = FORMAT
    format_version: Literal[1] = 1
    arch: str
    arch_args: dict[str, JSONScalar | list[JSONScalar]] = Field(default_factory=dict)
    input_shape: tuple[int, int, int]
    num_classes: int = Field(ge=2, le=100_000)
    dataset: str | None = None
    seed: int | None = None
    train_config: dict[str, Any] | None = None
    unleak_version: str = ""
    created: str = ""
    files: dict[str, str] = Field(default_factory=dict)  # extra safetensors files, by role


def save(
    model: nn.Module,
    out: str | os.PathLike[str],
    *,
    dataset: str | None = None,
    seed: int | None = None,
    train_config: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    tensors: dict[str, dict[str, torch.Tensor]] | None = None,
) -> Path:
    """Write ``out/model.safetensors`` and ``out/model.json`` (atomically: all files or none).

    ``tensors`` adds further safetensors files by role (``{"updates": {...}}`` becomes
    ``out/updates.safetensors``); ``extra`` adds JSON fields (method, forget set, ...).
    """
    from safetensors.torch import save_file

    arch = getattr(model, "unleak_arch", None)
    if arch is None:
        raise ModelError(
            f"{type(model).__name__} was not built by unleak.models.build",
            "build zoo models with unleak.models.build, or save user models with "
            "safetensors.torch.save_file",
        )
    meta = CheckpointMeta(
        **arch,
        dataset=dataset,
        seed=seed,
        train_config=train_config,
        unleak_version=__version__,
        created=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        files={role: f"{role}.safetensors" for role in (tensors or {})},
        **(extra or {}),
    )
    out = Path(out)
    with staged_dir(out) as tmp:
        state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
        save_file(state, str(tmp / WEIGHTS), metadata={"format": FORMAT})
        for role, tdict in (tensors or {}).items():
            save_file(
                {k: v.contiguous().cpu() for k, v in tdict.items()},
                str(tmp / f"{role}.safetensors"),
            )
        atomic_write_json(tmp / METADATA, meta.model_dump(mode="json"))
    return out


def _dir_of(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    return p.parent if p.suffix in (".safetensors", ".json") else p


def read_metadata(path: str | os.PathLike[str]) -> CheckpointMeta:
    """Read and validate ``model.json`` of a checkpoint folder (or of the file's folder)."""
    meta_path = _dir_of(path) / METADATA
    if not meta_path.is_file():
        raise ModelError(
            f"no {METADATA} in {meta_path.parent}",
            "point at a folder written by `unleak train` / `unleak unlearn`, or pass --arch",
        )
    try:
        raw = json.loads(meta_path.read_text(encoding="utf-8"))
        return CheckpointMeta.model_validate(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(
            f"{meta_path} is not valid JSON ({exc})", "restore the checkpoint"
        ) from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ModelError(
            f"{meta_path} is not an unleak checkpoint: {where}: {first['msg']}",
            "restore the checkpoint or write it again with unleak.models.save",
        ) from exc


def read_tensors(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Read a safetensors file, turning any failure into a one-line :class:`ModelError`."""
    from safetensors.torch import load_file

    p = Path(path)
    if not p.is_file():
        raise ModelError(f"no weights file {p}", "check the path")
    try:
        return load_file(str(p), device="cpu")
    except Exception as exc:  # safetensors raises its own error type, OSError or ValueError
        raise ModelError(
            f"{p} is not a safetensors file "
            f"({type(exc).__name__}: {str(exc).splitlines()[0][:100]})",
            "give weights saved with safetensors (pickled .pt files are refused on purpose)",
        ) from exc


def load_state(model: nn.Module, weights: str | os.PathLike[str]) -> nn.Module:
    """Load a safetensors file into ``model`` after checking every name and shape."""
    state = read_tensors(weights)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        detail = []
        if missing:
            detail.append(f"missing {missing[:3]}{'...' if len(missing) > 3 else ''}")
        if unexpected:
            detail.append(f"unexpected {unexpected[:3]}{'...' if len(unexpected) > 3 else ''}")
        raise ModelError(
            f"{weights} does not fit {type(model).__name__}: {', '.join(detail)}",
            "load it with the architecture (and arguments) it was trained with",
        )
    for key, ref in expected.items():
        got = state[key]
        if got.shape != ref.shape:
            raise ModelError(
                f"{weights}: {key} has shape {tuple(got.shape)}, the architecture expects "
                f"{tuple(ref.shape)}",
                "load it with the architecture, arguments and class count it was trained with",
            )
        if got.is_floating_point() != ref.is_floating_point():
            raise ModelError(f"{weights}: {key} has dtype {got.dtype}", f"store it as {ref.dtype}")
        if got.is_floating_point() and not torch.isfinite(got).all():
            raise ModelError(f"{weights}: {key} holds NaN or infinity", "use a finite checkpoint")
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()})
    return model


def load(path: str | os.PathLike[str]) -> nn.Module:
    """Rebuild a zoo model from a checkpoint folder (or its ``model.safetensors``)."""
    folder = _dir_of(path)
    meta = read_metadata(folder)
    model = build(
        meta.arch,
        input_shape=meta.input_shape,
        num_classes=meta.num_classes,
        seed=None,
        **meta.arch_args,
    )
    load_state(model, folder / WEIGHTS)
    model.eval()
    return model


def load_extra(path: str | os.PathLike[str], role: str) -> dict[str, torch.Tensor] | None:
    """An extra tensor file of a checkpoint by role (``"updates"``), or ``None`` if absent."""
    folder = _dir_of(path)
    meta = read_metadata(folder)
    name = meta.files.get(role)
    if name is None:
        return None
    if Path(name).name != name:
        raise ModelError(
            f"{folder / METADATA} names file {name!r} outside the folder", "restore it"
        )
    return read_tensors(folder / name)
