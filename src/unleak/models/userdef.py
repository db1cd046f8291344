"""Bring your own model: a class from a Python file of yours, with weights from safetensors."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

from torch import nn

from unleak.errors import ModelError
from unleak.models.checkpoint import load_state


def load_user_model(spec: str, weights: str | os.PathLike[str], **kwargs: Any) -> nn.Module:
    """``spec`` is ``PATH.py:CLASS``. The file is imported (it is your own code),
    ``CLASS(**kwargs)`` is instantiated, and the weights are loaded from safetensors after a
    check of names and shapes.
    """
    path_text, sep, cls_name = spec.rpartition(":")
    if not sep or not path_text.endswith(".py") or not cls_name.isidentifier():
        raise ModelError(
            f"--model-def {spec!r} is not PATH.py:CLASS", "write it like nets/mine.py:MyNet"
        )
    path = Path(path_text)
    if not path.is_file():
        raise ModelError(f"no model definition file {path}", "check the path in --model-def")
    name = f"unleak_user_model_{abs(hash(str(path.resolve())))}"
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise ModelError(f"cannot import {path}", "give a plain Python file")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:
        raise ModelError(
            f"importing {path} failed: {type(exc).__name__}: {exc}", "fix the model file"
        ) from exc
    cls = getattr(module, cls_name, None)
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise ModelError(
            f"{path} has no nn.Module class {cls_name!r}", "name the model class after the colon"
        )
    try:
        model = cls(**kwargs)
    except Exception as exc:
        raise ModelError(
            f"{cls_name}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())}) failed: {exc}",
            "pass its constructor arguments with --model-arg KEY=VALUE",
        ) from exc
    load_state(model, weights)
    return model.eval()
