"""``au``: amnesiac unlearning (Graves, Nagisetty and Ganesh, AAAI 2021).

During original training a recorder keeps the parameter update of every batch, summed per set of
classes in the batch. Unlearning subtracts the updates of every batch that held a forgotten class,
then repairs briefly on the retained data.

What to record (measured, see docs/results.md, "Variants we tried"). With random batches nearly
every batch holds every class, so "the batches that hold class c" are nearly all of training:
subtracting them takes the model back to (about) its initial weights, and the repair on the
retained data then does the forgetting. That is the default (``unleak train --record-updates``
records every batch of every epoch), and it forgets every class we measured. The alternative,
single-class batches in the last epochs (``--record-epochs 1 --class-pure``), keeps each class's
updates apart but does not forget: the cosine schedule has taken the learning rate to about zero by
then, so those updates are tiny (forget accuracy 97% on digits, 7% on MNIST). Memory is one float64
parameter vector per distinct set of classes in a batch: measured 0.47 MiB for LeNet-5 on MNIST
(every batch of 128 holds all ten classes: one key) and 24 MiB for the digits cnn (11 keys);
class-pure recording needs K vectors (4.7 and 22 MiB). Subtracting every key gives back the
initial weights to rounding error, which the tests check.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from pydantic import Field
from torch import nn
from torch.nn.utils import parameters_to_vector, vector_to_parameters

from unleak.data.core import Split
from unleak.errors import ConfigError
from unleak.training import Callback, TrainRun, TrainState, fit
from unleak.unlearning.base import UnlearnConfig, UnlearnContext, builtin_method


@dataclass
class UpdateLog:
    """Summed parameter updates keyed by the sorted classes of the batches that made them."""

    sums: dict[tuple[int, ...], torch.Tensor] = field(default_factory=dict)
    batches: dict[tuple[int, ...], int] = field(default_factory=dict)

    def add(self, key: tuple[int, ...], delta: torch.Tensor) -> None:
        if key in self.sums:
            self.sums[key] += delta
        else:
            self.sums[key] = delta.clone()
        self.batches[key] = self.batches.get(key, 0) + 1

    def total_for(self, classes: tuple[int, ...] | list[int]) -> tuple[torch.Tensor, int]:
        """Sum of the updates of every batch holding any of ``classes``, and how many batches."""
        keys = [k for k in self.sums if set(k) & set(classes)]
        if not keys:
            raise ConfigError(
                f"no recorded update involves class(es) {list(classes)}",
                "train with --record-updates so that every class is recorded",
            )
        total = torch.stack([self.sums[k] for k in keys]).sum(0)
        return total, sum(self.batches[k] for k in keys)

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.sums.values())

    def to_tensors(self) -> dict[str, torch.Tensor]:
        out = {}
        for key, t in self.sums.items():
            name = ",".join(map(str, key))
            out[f"sum:{name}"] = t.float()
            out[f"batches:{name}"] = torch.tensor([self.batches[key]], dtype=torch.int64)
        return out

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor]) -> UpdateLog:
        log = cls()
        for name, t in tensors.items():
            kind, _, classes = name.partition(":")
            try:
                key = tuple(int(c) for c in classes.split(","))
            except ValueError:
                raise ConfigError(
                    f"update file has a malformed entry {name!r}", "record it again"
                ) from None
            if kind == "sum":
                log.sums[key] = t.double()
            elif kind == "batches":
                log.batches[key] = int(t.flatten()[0])
        if set(log.sums) != set(log.batches):
            raise ConfigError("update file is incomplete", "record it again with --record-updates")
        return log


class UpdateRecorder(Callback):
    """Training callback: record each batch's parameter update from ``from_epoch`` on.

    Sums are kept in float64 so that subtracting them undoes training to rounding error.
    """

    def __init__(self, from_epoch: int = 0) -> None:
        self.from_epoch = from_epoch
        self._log = UpdateLog()
        self._before: torch.Tensor | None = None

    def _params(self, model: nn.Module) -> torch.Tensor:
        return parameters_to_vector([p.detach() for p in model.parameters()]).double()

    def on_batch_begin(self, state: TrainState) -> None:
        self._before = self._params(state.model) if state.epoch >= self.from_epoch else None

    def on_batch_end(self, state: TrainState) -> None:
        if self._before is None or state.batch_y is None:
            return
        key = tuple(torch.unique(state.batch_y).tolist())
        self._log.add(key, self._params(state.model) - self._before)
        self._before = None

    def log(self) -> UpdateLog:
        return self._log


class AUConfig(UnlearnConfig):
    """Loop settings are those of the repair on the retained data after the subtraction."""

    scale: float = Field(
        1.0, gt=0, le=100, description="multiple of the recorded updates to subtract"
    )


def subtract_updates(
    model: nn.Module, log: UpdateLog, classes: tuple[int, ...], scale: float = 1.0
) -> int:
    """Subtract the recorded updates of batches holding ``classes``; returns how many batches."""
    params = list(model.parameters())
    flat = parameters_to_vector([p.detach() for p in params]).double()
    total, n = log.total_for(classes)
    if total.numel() != flat.numel():
        raise ConfigError(
            f"recorded updates have {total.numel()} parameters, the model {flat.numel()}",
            "use the updates recorded while training this very model",
        )
    with torch.no_grad():
        vector_to_parameters((flat - scale * total).to(params[0].dtype), params)
    return n


@builtin_method(
    "au",
    AUConfig,
    "amnesiac: subtract recorded updates of the forget classes, then repair",
    needs_updates=True,
)
def amnesiac(
    model: nn.Module, retain: Split, forget: Split, config: AUConfig, ctx: UnlearnContext
) -> TrainRun:
    if ctx.updates is None:
        raise ConfigError(
            "amnesiac unlearning (au) needs the parameter updates recorded during training",
            "train the original with `unleak train --record-updates` (or pass updates=)",
        )
    subtract_updates(model, ctx.updates, ctx.forget_classes, config.scale)
    return fit(model, retain, config, callbacks=ctx.callbacks)
