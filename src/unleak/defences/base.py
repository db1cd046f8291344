"""The defence contract and registry: what a model owner can apply after unlearning.

A defence either changes the weights (``kind = "weights"``: :meth:`Defence.apply` returns a new
model) or the answers of the published query interface (``kind = "outputs"``:
:meth:`Defence.harden` maps probability vectors to what the interface returns). Output hardening
only reaches attackers with query access; one who holds the weights or input gradients computes
the outputs itself.

A defence is also applied to null models (with nothing forgotten), so that every attack's
false-positive rate is measured on defended models like the ones it attacks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Literal

import torch
from pydantic import BaseModel, ConfigDict, ValidationError
from torch import nn

from unleak.data.core import Split
from unleak.errors import ConfigError, unknown_name


class DefenceConfig(BaseModel):
    """Base of every defence's settings: unknown names are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Defence:
    """Base class. Subclasses set ``name``, ``kind``, ``Config``, ``description`` and implement
    :meth:`apply` (weights) or :meth:`harden` (outputs)."""

    name: ClassVar[str] = ""
    kind: ClassVar[Literal["weights", "outputs"]] = "weights"
    Config: ClassVar[type[DefenceConfig]] = DefenceConfig
    description: ClassVar[str] = ""
    output_kind: ClassVar[str] = "probabilities"  # what a hardened interface answers
    # documented bounds, measured on digits and checked by tests/test_defences.py: the retained
    # accuracy it may cost, and the forget accuracy it may leave on a model that had forgotten
    retain_drop_bound: ClassVar[float] = 0.0
    forget_acc_bound: ClassVar[float] = 0.10

    def __init__(self, **settings: Any) -> None:
        try:
            self.config = self.Config(**settings)
        except ValidationError as exc:
            e = exc.errors()[0]
            raise ConfigError(
                f"defence {self.name}: {'.'.join(map(str, e['loc']))}: {e['msg']}",
                f"its settings are {', '.join(sorted(self.Config.model_fields)) or 'none'}",
            ) from None

    def apply(
        self, model: nn.Module, train: Split, forget: tuple[int, ...], seed: int
    ) -> nn.Module:
        """A defended copy of ``model`` (the input is untouched). ``train`` is the owner's training
        data (every class); ``forget`` the forgotten classes (empty for a null model)."""
        return model

    def harden(self, probs: torch.Tensor) -> torch.Tensor:
        """What the published interface answers for probability vectors ``probs`` (N x K)."""
        return probs

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, **self.config.model_dump()}


_DEFENCES: dict[str, type[Defence]] = {}


def register_defence(cls: type[Defence]) -> type[Defence]:
    if not cls.name or cls.name in _DEFENCES:
        raise ValueError(f"defence {cls.name!r} is unnamed or registered twice")
    _DEFENCES[cls.name] = cls
    return cls


def defence_names() -> list[str]:
    return sorted(_DEFENCES)


def defence_class(name: str) -> type[Defence]:
    try:
        return _DEFENCES[name]
    except KeyError:
        raise ConfigError(
            unknown_name("defence", name, defence_names()), "pick one of those defences"
        ) from None


def build_defence(name: str, **settings: Any) -> Defence:
    """A defence by name, e.g. ``build_defence("top-k", k=1)``."""
    return defence_class(name)(**settings)


Hardening = Callable[[torch.Tensor], torch.Tensor]
