"""Model classes of your own, from a Python file (``PATH.py:CLASS``).

The file is imported because you named it (on the command line, in a config, or in Python); a
checkpoint never names code to run: loading a checkpoint of your own class needs its definition
given again. ``SystemExit`` and ``KeyboardInterrupt`` raised while importing are errors too.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

from unleak.errors import ModelError, UnleakError

PREFIX = "user:"  # architecture names of user classes in checkpoints: "user:nets.py:MyNet"


def parse_spec(spec: str) -> tuple[Path, str]:
    """``PATH.py:CLASS`` -> (path, class name), or a one-line error."""
    path_text, sep, cls_name = spec.removeprefix(PREFIX).rpartition(":")
    if not sep or not path_text.endswith(".py") or not cls_name.isidentifier():
        raise ModelError(
            f"--model-def {spec!r} is not PATH.py:CLASS", "write it like nets/mine.py:MyNet"
        )
    return Path(path_text), cls_name


def import_file(path: Path, name: str, error: type[UnleakError], what: str) -> Any:
    """Import the Python file ``path`` as module ``name`` (your own code: a model class or an
    unlearning method), writing no ``__pycache__`` beside it; any failure of its import,
    ``SystemExit`` and ``KeyboardInterrupt`` included, is one line of ``error``."""
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise error(f"cannot import {path}", "give a plain Python file")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    # no __pycache__ beside the user's file: a command writes only where --out says
    dont_write, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        module_spec.loader.exec_module(module)
    except BaseException as exc:
        sys.modules.pop(name, None)
        raise error(
            f"importing {path} failed: {type(exc).__name__}: {exc}", f"fix the {what} file"
        ) from None
    finally:
        sys.dont_write_bytecode = dont_write
    return module


@functools.cache
def _module(path: Path) -> Any:
    return import_file(path, f"unleak_user_model_{abs(hash(str(path)))}", ModelError, "model")


def user_class(spec: str) -> type[nn.Module]:
    """The ``nn.Module`` class named by ``PATH.py:CLASS``."""
    path, cls_name = parse_spec(spec)
    if not path.is_file():
        raise ModelError(f"no model definition file {path}", "check the path in --model-def")
    cls = getattr(_module(path.resolve()), cls_name, None)
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise ModelError(
            f"{path} has no nn.Module class {cls_name!r}", "name the model class after the colon"
        )
    return cls


def build_user(
    spec: str,
    *,
    input_shape: tuple[int, int, int] | None = None,
    num_classes: int | None = None,
    seed: int | None = None,
    **kwargs: Any,
) -> nn.Module:
    """``CLASS(**kwargs)`` from ``PATH.py``, initialised under ``seed``, with its architecture
    record (so that it can be saved, and rebuilt from scratch for retraining)."""
    cls = user_class(spec)
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        try:
            model = cls(**kwargs)
        except Exception as exc:
            args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
            raise ModelError(
                f"{cls.__name__}({args}) failed: {type(exc).__name__}: {exc}",
                "pass its constructor arguments with --model-arg KEY=VALUE",
            ) from None
    if not isinstance(model, nn.Module):
        raise ModelError(f"{spec} did not build an nn.Module", "give an nn.Module class")
    if input_shape is not None and num_classes is not None:
        model.unleak_arch = {
            "arch": PREFIX + spec.removeprefix(PREFIX),
            "arch_args": dict(kwargs),
            "input_shape": list(input_shape),
            "num_classes": int(num_classes),
        }
    return model
