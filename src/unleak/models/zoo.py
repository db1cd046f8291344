"""The model zoo: ``mlp``, ``cnn``, ``lenet5``, ``resnet18``, registered by name.

Every zoo model takes images in [0, 1], normalises them inside (so attacks can work in the input
box), and ends in a final ``nn.Linear`` named ``fc``: the head the parameter attacks read.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from unleak.data.core import Dataset
from unleak.errors import ModelError, unknown_name
from unleak.models.userclass import PREFIX, build_user

Shape = tuple[int, int, int]
Builder = Callable[..., nn.Module]


@dataclass(frozen=True)
class ArchSpec:
    name: str
    builder: Builder
    description: str


_ZOO: dict[str, ArchSpec] = {}


def register_model(name: str, description: str) -> Callable[[Builder], Builder]:
    """Register ``builder(input_shape, num_classes, mean, std, **args) -> nn.Module`` by name."""

    def deco(fn: Builder) -> Builder:
        if name in _ZOO:
            raise ValueError(f"model {name!r} is registered twice")
        _ZOO[name] = ArchSpec(name, fn, description)
        return fn

    return deco


def arch_names() -> list[str]:
    return sorted(_ZOO)


def arch_spec(name: str) -> ArchSpec:
    try:
        return _ZOO[name]
    except KeyError:
        raise ModelError(
            unknown_name("model", name, arch_names()), "pick one of those architectures"
        ) from None


def arch_defaults(name: str) -> dict[str, Any]:
    """The tunable arguments of an architecture and their defaults."""
    sig = inspect.signature(arch_spec(name).builder)
    skip = {"input_shape", "num_classes", "mean", "std"}
    return {k: p.default for k, p in sig.parameters.items() if k not in skip}


class Normalize(nn.Module):
    """``(x - mean) / std`` per channel; kept in the model so inputs stay in [0, 1]."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(list(mean), dtype=torch.float32).view(-1, 1, 1))
        self.register_buffer("std", torch.tensor(list(std), dtype=torch.float32).view(-1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class ZooModel(nn.Module):
    """``fc(features(normalize(x)))``: every zoo architecture has this shape."""

    def __init__(self, normalize: Normalize, features: nn.Module, fc: nn.Linear) -> None:
        super().__init__()
        self.normalize = normalize
        self.features = features
        self.fc = fc

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features: the inputs of the head."""
        return self.features(self.normalize(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.embed(x))


def _positive(name: str, value: Any, limit: int = 1 << 14) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= limit:
        raise ModelError(
            f"architecture argument {name}={value!r} is invalid",
            f"give a positive integer up to {limit}",
        )
    return value


def _stats(shape: Shape, mean: Sequence[float] | None, std: Sequence[float] | None) -> Normalize:
    c = shape[0]
    mean = list(mean) if mean else [0.5] * c
    std = list(std) if std else [0.25] * c
    if len(mean) != c or len(std) != c:
        raise ModelError(
            f"normalisation has {len(mean)}/{len(std)} channels for {c}-channel input",
            "give one mean and one std per channel",
        )
    return Normalize(mean, std)


@register_model("mlp", "multi-layer perceptron on flattened pixels")
def mlp(
    input_shape: Shape,
    num_classes: int,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    hidden: Sequence[int] = (256, 128),
) -> nn.Module:
    layers: list[nn.Module] = [nn.Flatten()]
    width = input_shape[0] * input_shape[1] * input_shape[2]
    for i, h in enumerate(hidden):
        h = _positive(f"hidden[{i}]", h)
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    return ZooModel(
        _stats(input_shape, mean, std), nn.Sequential(*layers), nn.Linear(width, num_classes)
    )


def _conv_bn(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


@register_model("cnn", "small VGG-style conv net (3 stages, batch norm) for any input size")
def cnn(
    input_shape: Shape,
    num_classes: int,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    width: int = 32,
    dropout: float = 0.0,
) -> nn.Module:
    width = _positive("width", width, 1024)
    layers: list[nn.Module] = []
    cin, size = input_shape[0], min(input_shape[1:])
    for mult in (1, 2, 4):
        cout = width * mult
        layers += _conv_bn(cin, cout) + _conv_bn(cout, cout)
        cin = cout
        if size >= 2:  # tiny inputs (8x8 digits) run out of room to pool
            layers.append(nn.MaxPool2d(2))
            size //= 2
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    if dropout:
        layers.append(nn.Dropout(float(dropout)))
    return ZooModel(
        _stats(input_shape, mean, std), nn.Sequential(*layers), nn.Linear(4 * width, num_classes)
    )


@register_model("lenet5", "LeNet-5 (ReLU, max-pool) for 28x28 and larger inputs")
def lenet5(
    input_shape: Shape,
    num_classes: int,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> nn.Module:
    c, h, w = input_shape
    if min(h, w) < 28:
        raise ModelError(
            f"lenet5 needs images of at least 28x28, these are {h}x{w}",
            "use the cnn or mlp model for small images",
        )
    pad = 2 if min(h, w) < 32 else 0
    features = nn.Sequential(
        nn.Conv2d(c, 6, 5, padding=pad),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
    )
    with torch.no_grad():
        flat = features(torch.zeros(1, *input_shape)).shape[1]
    features.extend([nn.Linear(flat, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU()])
    return ZooModel(_stats(input_shape, mean, std), features, nn.Linear(84, num_classes))


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


@register_model("resnet18", "ResNet-18, CIFAR variant (3x3 stem, no max-pool)")
def resnet18(
    input_shape: Shape,
    num_classes: int,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    width: int = 64,
) -> nn.Module:
    width = _positive("width", width, 512)
    layers: list[nn.Module] = [
        nn.Conv2d(input_shape[0], width, 3, 1, 1, bias=False),
        nn.BatchNorm2d(width),
        nn.ReLU(),
    ]
    cin = width
    for stage, mult in enumerate((1, 2, 4, 8)):
        cout = width * mult
        for block in range(2):
            layers.append(BasicBlock(cin, cout, 2 if stage > 0 and block == 0 else 1))
            cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    return ZooModel(
        _stats(input_shape, mean, std), nn.Sequential(*layers), nn.Linear(cin, num_classes)
    )


# --------------------------------------------------------------------------- building


def build(
    name: str,
    data: Dataset | None = None,
    *,
    input_shape: tuple[int, int, int] | None = None,
    num_classes: int | None = None,
    seed: int | None = 0,
    **arch_args: Any,
) -> nn.Module:
    """Build a zoo model for ``data`` (or an explicit ``input_shape`` and ``num_classes``).

    The model normalises with the data set's channel statistics; ``seed`` fixes its initial
    weights. The architecture and its arguments are kept on the model for checkpoints.
    ``user:PATH.py:CLASS`` builds a class of your own instead (see :mod:`.userclass`); it does
    its own normalisation.
    """
    if name.startswith(PREFIX):
        if data is not None:
            input_shape = input_shape or data.input_shape
            num_classes = num_classes or data.num_classes
        return build_user(
            name, input_shape=input_shape, num_classes=num_classes, seed=seed, **arch_args
        )
    spec = arch_spec(name)
    defaults = arch_defaults(name)
    unknown = sorted(set(arch_args) - set(defaults) - {"mean", "std"})
    if unknown:
        raise ModelError(
            f"model {name!r} has no argument(s) {unknown}",
            f"use only {sorted(defaults) or 'no arguments'}",
        )
    if data is not None:
        input_shape = input_shape or data.input_shape
        num_classes = num_classes or data.num_classes
        arch_args.setdefault("mean", list(data.mean))
        arch_args.setdefault("std", list(data.std))
    if input_shape is None or num_classes is None:
        raise ModelError(
            f"no input shape or class count for model {name!r}",
            "pass a data set, or input_shape and num_classes",
        )
    input_shape = tuple(int(s) for s in input_shape)  # type: ignore[assignment]
    if len(input_shape) != 3 or min(input_shape) < 1 or int(num_classes) < 2:
        raise ModelError(
            f"input shape {input_shape} with {num_classes} classes",
            "give (C, H, W) and at least 2 classes",
        )
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        model = spec.builder(input_shape, int(num_classes), **arch_args)
    model.unleak_arch = {  # read by save(); plain data, JSON-serialisable
        "arch": name,
        "arch_args": {k: (list(v) if isinstance(v, tuple) else v) for k, v in arch_args.items()},
        "input_shape": list(input_shape),
        "num_classes": int(num_classes),
    }
    return model


def clone(model: nn.Module) -> nn.Module:
    """An independent copy of ``model`` (weights, buffers and architecture record)."""
    return copy.deepcopy(model)


def fresh_copy(model: nn.Module, seed: int) -> nn.Module:
    """A newly initialised network of ``model``'s architecture (for retraining from scratch).

    Zoo models are rebuilt from their architecture record; any other model is deep-copied and
    every submodule with ``reset_parameters`` is re-initialised under ``seed``.
    """
    arch = getattr(model, "unleak_arch", None)
    if arch is not None:
        return build(
            arch["arch"],
            input_shape=tuple(arch["input_shape"]),
            num_classes=arch["num_classes"],
            seed=seed,
            **arch["arch_args"],
        )
    fresh = copy.deepcopy(model)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        resettable = [m for m in fresh.modules() if callable(getattr(m, "reset_parameters", None))]
        if not resettable:
            raise ModelError(
                f"{type(model).__name__} has no layer with reset_parameters to re-initialise",
                "build its layers from torch.nn modules, or use a method other than rt",
            )
        for m in resettable:
            m.reset_parameters()
    return fresh
