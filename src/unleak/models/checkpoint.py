"""Checkpoints: ``model.safetensors`` (weights) beside ``model.json`` (what built them).

Loading reads JSON and safetensors only, never a pickle, so a checkpoint from a stranger cannot run
code. Names and shapes are checked against the architecture the metadata names.
"""

from __future__ import annotations

import json
import os
import pickle
import zipfile
from pathlib import Path
from typing import Annotated, Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from torch import nn

from unleak._io import atomic_write_json, staged_dir, without_timings
from unleak._version import __version__
from unleak.errors import ModelError
from unleak.models.userclass import PREFIX
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
    input_shape: tuple[
        Annotated[int, Field(ge=1, le=16)],
        Annotated[int, Field(ge=1, le=4096)],
        Annotated[int, Field(ge=1, le=4096)],
    ]
    num_classes: int = Field(ge=2, le=100_000)
    dataset: str | None = None
    seed: int | None = None
    train_config: dict[str, Any] | None = None
    unleak_version: str = ""
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
        files={role: f"{role}.safetensors" for role in (tensors or {})},
        **without_timings(extra or {}),
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


TORCH_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")
STATE_KEYS = ("state_dict", "model_state_dict", "model")  # common wrappers around a state_dict


def read_tensors(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Read weights: safetensors, or a state_dict saved with ``torch.save`` (``.pt``, ``.pth``),
    loaded with ``weights_only=True`` so that no pickled code can run. Any failure is a one-line
    :class:`ModelError`."""
    p = Path(path)
    if not p.is_file():
        raise ModelError(
            f"no weights file {p}" if not p.is_dir() else f"{p} is a folder, not a weights file",
            "give a .safetensors or .pt file (or a checkpoint folder where one is expected)",
        )
    named_safetensors = p.suffix.lower() == ".safetensors"
    if p.suffix.lower() in TORCH_SUFFIXES or (not named_safetensors and zipfile.is_zipfile(p)):
        return _read_torch_state(p)
    from safetensors.torch import load_file  # imported where used: start-up time

    try:
        return load_file(str(p), device="cpu")
    except Exception as exc:  # safetensors raises its own error type, OSError or ValueError
        why = (
            "a torch.save zip under a .safetensors name"
            if zipfile.is_zipfile(p)
            else f"{type(exc).__name__}: {str(exc).splitlines()[0][:100]}"
        )
        raise ModelError(
            f"{p} is not a safetensors file ({why})",
            "give weights saved with safetensors, or a state_dict saved with torch.save as .pt",
        ) from exc


def _read_torch_state(p: Path) -> dict[str, torch.Tensor]:
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ModelError(
            f"{p} holds objects that weights-only loading refuses (a full pickle, which could "
            "run code)",
            "save the state_dict only: torch.save(model.state_dict(), path)",
        ) from exc
    except Exception as exc:  # zip, EOF and format errors of torch.load
        raise ModelError(
            f"{p} is not a readable torch.save file ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:100] if str(exc) else ''})",
            "save the state_dict with torch.save(model.state_dict(), path)",
        ) from exc
    if isinstance(obj, dict) and len(obj) >= 1 and not _is_state(obj):
        inner = [obj[k] for k in STATE_KEYS if isinstance(obj.get(k), dict)]
        obj = inner[0] if inner else obj
    if not isinstance(obj, dict) or not _is_state(obj):
        raise ModelError(
            f"{p} holds a {type(obj).__name__}, not a state_dict of tensors",
            "save the state_dict: torch.save(model.state_dict(), path)",
        )
    if obj and all(k.startswith("module.") for k in obj):  # saved from nn.DataParallel
        obj = {k.removeprefix("module."): v for k, v in obj.items()}
    return dict(obj)


def _is_state(obj: dict) -> bool:
    return bool(obj) and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()
    )


def load_state(model: nn.Module, weights: str | os.PathLike[str]) -> nn.Module:
    """Load weights (see :func:`read_tensors`) into ``model`` after checking every name and
    shape."""
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


def load(path: str | os.PathLike[str], model_def: str | None = None) -> nn.Module:
    """Rebuild a model from a checkpoint folder (or its ``model.safetensors``).

    A checkpoint of a class of your own (architecture ``user:...``) is rebuilt from
    ``model_def``, which you give: the checkpoint's own record of the file is never imported.
    """
    folder = _dir_of(path)
    meta = read_metadata(folder)
    if meta.arch.startswith(PREFIX):
        if model_def is None:
            raise ModelError(
                f"{folder} holds a model of your own class ({meta.arch.removeprefix(PREFIX)})",
                "pass its definition again (--model-def PATH.py:CLASS): a checkpoint never names "
                "code to run",
            )
        model = build(
            PREFIX + model_def.removeprefix(PREFIX),
            input_shape=meta.input_shape,
            num_classes=meta.num_classes,
            seed=None,
            **meta.arch_args,
        )
        load_state(model, folder / WEIGHTS)
        return model.eval()
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
