"""What an attacker may touch: the target's weights, its input gradients, or only its outputs.

A handle grants one access level; an attack declares the level it needs and refuses a handle that
lacks it. A :class:`Queries` handle hides the model entirely: it answers probability vectors and
counts every input it is asked about against a budget.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

import torch
from torch import nn

from unleak.errors import AccessError, ModelError
from unleak.models.heads import head as find_head
from unleak.models.inference import eval_mode, predict_logits

DEFAULT_QUERY_BUDGET = 10_000  # the one default: config, handles and attacks all read this


class Access(enum.IntEnum):
    """Access levels, ordered: each includes the ones below it."""

    QUERIES = 1
    GRADIENTS = 2
    WEIGHTS = 3


class Target:
    """Base of the handles: the input shape and class count are public knowledge."""

    access: Access = Access.QUERIES

    def __init__(self, input_shape: tuple[int, int, int], num_classes: int) -> None:
        self.input_shape = tuple(int(s) for s in input_shape)
        self.num_classes = int(num_classes)

    def require(self, level: Access, who: str) -> None:
        if self.access < level:
            raise AccessError(
                f"{who} needs {level.name.lower()} access but the target grants only "
                f"{self.access.name.lower()}",
                f"wrap the model in ul.attacks.{_HANDLE[level]}(...) or pick an attack for "
                f"{self.access.name.lower()} access",
            )


OUTPUT_KINDS = ("probabilities", "top-k", "rounded", "labels")


class Queries(Target):
    """Query access: ``fn(x) -> probabilities`` for a batch of inputs, with a query budget.

    Every input image counts as one query. Asking for more than the budget allows raises
    :class:`AccessError` and answers nothing. ``harden`` is the published interface's output
    hardening (a defence): it maps the probabilities to what the interface answers, whose kind
    ``output_kind`` says (``probabilities``, ``top-k``, ``rounded`` or ``labels``).
    """

    access = Access.QUERIES

    def __init__(
        self,
        fn: Callable[[torch.Tensor], torch.Tensor] | nn.Module,
        input_shape: tuple[int, int, int],
        num_classes: int,
        budget: int | None = DEFAULT_QUERY_BUDGET,
        *,
        harden: Callable[[torch.Tensor], torch.Tensor] | None = None,
        output_kind: str = "probabilities",
    ) -> None:
        super().__init__(input_shape, num_classes)
        if output_kind not in OUTPUT_KINDS:
            raise ModelError(f"unknown output kind {output_kind!r}", f"use {OUTPUT_KINDS}")
        self.output_kind = output_kind if harden is not None else "probabilities"
        self.__harden = harden
        if isinstance(fn, nn.Module):
            model = fn

            def fn(x: torch.Tensor) -> torch.Tensor:
                return predict_logits(model, x).softmax(1)

        self.__fn = fn  # name-mangled: not an attribute an attack reaches by accident
        self.budget = budget
        self.used = 0

    @property
    def remaining(self) -> int | None:
        return None if self.budget is None else self.budget - self.used

    def query(self, x: torch.Tensor) -> torch.Tensor:
        """Probability vectors for ``x`` (N x C x H x W in [0, 1]); N queries are counted."""
        if x.ndim != 4 or tuple(x.shape[1:]) != self.input_shape:
            raise AccessError(
                f"queries must have shape (N, {', '.join(map(str, self.input_shape))}), got "
                f"{tuple(x.shape)}",
                "reshape the inputs",
            )
        n = int(x.shape[0])
        if self.budget is not None and self.used + n > self.budget:
            raise AccessError(
                f"query budget exhausted: {self.used} used, {n} more asked, budget {self.budget}",
                "raise --query-budget or ask for fewer queries",
            )
        self.used += n
        with torch.no_grad():
            probs = self.__fn(x.detach().clamp(0, 1)).detach().float()
        if probs.shape != (n, self.num_classes) or not torch.isfinite(probs).all():
            raise ModelError(
                f"the query function returned {tuple(probs.shape)} with non-finite values "
                f"or the wrong shape, expected ({n}, {self.num_classes})",
                "return one probability vector per input",
            )
        return self.__harden(probs) if self.__harden is not None else probs

    def probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """:meth:`query`, with probabilities a hardened interface hides (top-k, rounding) read
        as :func:`fill_hidden` bounds them. Labels stay one-hot."""
        probs = self.query(x)
        return fill_hidden(probs) if self.output_kind in ("top-k", "rounded") else probs

    def require_probabilities(self, who: str) -> None:
        """Refuse, in one clear line, an interface that answers labels only."""
        if self.output_kind == "labels":
            raise AccessError(
                f"{who} ranks classes by their probabilities, and this target answers labels "
                "only (label-only outputs)",
                "no probability-based query attack applies here; the oracle (labelled data) "
                "still does",
            )


def fill_hidden(probs: torch.Tensor) -> torch.Tensor:
    """Hardened answers hide small probabilities as 0 (top-k, rounding): read each hidden one as
    half the smallest probability its row still shows, an upper bound that keeps them ordered
    below every shown class."""
    shown = torch.where(probs > 0, probs, torch.full_like(probs, torch.inf)).amin(1, keepdim=True)
    floor = torch.where(torch.isfinite(shown), shown / 2, torch.full_like(shown, 1e-30))
    return torch.where(probs > 0, probs, floor)


class Gradients(Queries):
    """White-box input gradients and outputs, but no weights (``model`` stays hidden)."""

    access = Access.GRADIENTS

    def __init__(
        self, model: nn.Module, input_shape: tuple[int, int, int], num_classes: int
    ) -> None:
        super().__init__(model, input_shape, num_classes, budget=None)  # gradients: no hardening
        self.__model = model

    def logits_with_grad(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of ``x`` with the graph kept, so that ``backward`` reaches ``x`` (eval mode)."""
        with eval_mode(self.__model):
            return self.__model(x)


class Weights(Gradients):
    """Full white-box access: the model itself, including its weights."""

    access = Access.WEIGHTS

    def __init__(
        self,
        model: nn.Module,
        input_shape: tuple[int, int, int] | None = None,
        num_classes: int | None = None,
    ) -> None:
        arch = getattr(model, "unleak_arch", None)
        if input_shape is None:
            if arch is None:
                raise ModelError(
                    f"no input shape for {type(model).__name__}",
                    "pass input_shape=(C, H, W) to Weights(...)",
                )
            input_shape = tuple(arch["input_shape"])
        fc = find_head(model, tuple(input_shape))
        if num_classes is not None and fc.out_features != num_classes:
            raise ModelError(
                f"the model's last layer has {fc.out_features} outputs, the data set {num_classes} "
                "classes",
                "use the data set the model was trained on (or fix --dataset)",
            )
        super().__init__(model, tuple(input_shape), fc.out_features)
        self.model = model
        self.head = fc


_HANDLE = {Access.QUERIES: "Queries", Access.GRADIENTS: "Gradients", Access.WEIGHTS: "Weights"}
