"""The one training loop. Training, fine-tuning and every unlearning method run through :func:`fit`.

It owns what they share: seeding, in-memory batching, augmentation, optimiser, schedule, clipping,
the divergence check, callbacks (progress, per-batch hooks such as the amnesiac recorder, early
stops) and the history it returns. A caller supplies only the per-batch loss.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, field_validator
from torch import nn

from unleak import optim
from unleak.data.core import Split
from unleak.errors import ConfigError, DivergenceError
from unleak.models.inference import accuracy

log = logging.getLogger(__name__)

LossFn = Callable[[nn.Module, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


class TrainConfig(BaseModel):
    """How to train. Every field has a default; unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    epochs: float = Field(
        10, gt=0, le=10_000, description="passes over the data (fractions allowed)"
    )
    batch_size: int = Field(128, ge=1, le=1 << 16)
    lr: float = Field(0.05, gt=0, le=100)
    optimizer: Literal["sgd", "adam"] = "sgd"
    momentum: float = Field(0.9, ge=0, lt=1)
    weight_decay: float = Field(5e-4, ge=0, le=1)
    schedule: Literal["constant", "cosine"] = "cosine"
    augment: Literal["none", "shift", "crop-flip"] = "none"
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    grad_clip: float | None = Field(None, gt=0, description="clip the gradient norm to this")
    freeze_norm: bool = Field(
        False, description="keep batch-norm statistics fixed (eval mode) while training"
    )
    class_pure_epochs: int = Field(
        0, ge=0, description="the last N epochs use single-class batches (amnesiac recording)"
    )
    seed: int = Field(0, ge=0, lt=2**63, description="seeds batches, weights and augmentation")
    device: str = "cpu"

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        return check_device(value)


MAX_SEED = 2**63 - 1


def check_seed(seed: int, what: str = "--seed") -> int:
    """``seed`` if torch can take it (0 to 2**63 - 1), else a one-line :class:`ConfigError`."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"{what} {seed} is out of range", f"give a whole number 0..{MAX_SEED}")
    return seed


def check_device(device: str) -> str:
    """``device`` if torch can use it here, else a one-line reason (e.g. cuda on a CPU build)."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device {device!r} is not a torch device (cpu, cuda, cuda:0)") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device {device!r} asked for, but this torch build sees no CUDA GPU; use cpu"
        )
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device {device!r} is not supported; use cpu or cuda")
    return device


@dataclass
class EpochStats:
    epoch: int
    loss: float
    train_acc: float
    seconds: float
    steps: int
    eval_acc: float | None = None


@dataclass
class History:
    """What :func:`fit` did: per-epoch statistics, total time, and why it stopped."""

    epochs: list[EpochStats] = field(default_factory=list)
    seconds: float = 0.0
    steps: int = 0
    stopped: str = "completed"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainState:
    """What callbacks see; setting ``stop`` (and ``stop_reason``) ends training after the batch."""

    model: nn.Module
    config: TrainConfig
    num_epochs: int
    steps_per_epoch: int
    epoch: int = 0
    step: int = 0
    batch_x: torch.Tensor | None = None
    batch_y: torch.Tensor | None = None
    loss: float = float("nan")
    stop: bool = False
    stop_reason: str = ""
    history: History = field(default_factory=History)


class Callback:
    """Hooks into :func:`fit`. Override what you need; each receives the :class:`TrainState`."""

    def on_train_begin(self, state: TrainState) -> None: ...
    def on_epoch_begin(self, state: TrainState) -> None: ...
    def on_batch_begin(self, state: TrainState) -> None: ...
    def on_after_backward(self, state: TrainState) -> None:
        """After the backward pass, before clipping and the optimiser step: edit ``.grad``."""

    def on_batch_end(self, state: TrainState) -> None: ...
    def on_epoch_end(self, state: TrainState) -> None: ...
    def on_train_end(self, state: TrainState) -> None: ...


class Hooks(Callback):
    """A callback from plain functions, e.g. to draw progress: ``Hooks(on_epoch_end=fn)``."""

    def __init__(self, **hooks: Callable[[TrainState], None]) -> None:
        unknown = sorted(set(hooks) - {n for n in dir(Callback) if n.startswith("on_")})
        if unknown:
            raise TypeError(f"unknown hook(s) {unknown}")
        for name, fn in hooks.items():
            setattr(self, name, fn)


@dataclass
class TrainRun:
    model: nn.Module
    history: History


def cross_entropy(label_smoothing: float = 0.0) -> LossFn:
    """The standard loss: ``(loss, logits)`` of cross-entropy on the batch."""

    def loss(
        model: nn.Module, x: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        logits = model(x)
        return F.cross_entropy(logits, y, label_smoothing=label_smoothing), logits

    return loss


# --------------------------------------------------------------------------- batching


def shift_images(
    x: torch.Tensor, pad: int, gen: torch.Generator, flip: bool = False
) -> torch.Tensor:
    """Random translations by up to ``pad`` pixels (zero fill), optional horizontal flips."""
    b, _, h, w = x.shape
    xp = F.pad(x, (pad, pad, pad, pad)).permute(0, 2, 3, 1)
    dy = torch.randint(0, 2 * pad + 1, (b,), generator=gen)
    dx = torch.randint(0, 2 * pad + 1, (b,), generator=gen)
    rows = (dy[:, None] + torch.arange(h))[:, :, None]
    cols = (dx[:, None] + torch.arange(w))[:, None, :]
    out = xp[torch.arange(b)[:, None, None], rows, cols].permute(0, 3, 1, 2)
    if flip:
        mask = torch.rand(b, generator=gen) < 0.5
        out = torch.where(mask[:, None, None, None], out.flip(3), out)
    return out.contiguous()


def _augment(x: torch.Tensor, kind: str, gen: torch.Generator) -> torch.Tensor:
    if kind == "shift":
        return shift_images(x, max(1, x.shape[-1] // 14), gen)
    if kind == "crop-flip":
        return shift_images(x, max(1, x.shape[-1] // 8), gen, flip=True)
    return x


def _batches(
    y: torch.Tensor, batch_size: int, gen: torch.Generator, pure: bool
) -> list[torch.Tensor]:
    """Index batches for one epoch: a random permutation, or single-class batches shuffled."""
    n = len(y)
    if not pure:
        perm = torch.randperm(n, generator=gen)
        out = list(perm.split(batch_size))
    else:
        out = []
        for c in torch.unique(y).tolist():
            idx = torch.nonzero(y == c).flatten()
            out += list(idx[torch.randperm(len(idx), generator=gen)].split(batch_size))
        out = [out[i] for i in torch.randperm(len(out), generator=gen).tolist()]
    # a batch of one breaks batch norm and carries little signal: fold it away
    return [b for b in out if len(b) > 1] or out


def _optimizer(model: nn.Module, cfg: TrainConfig) -> optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "adam":
        return optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def _train_mode(model: nn.Module, freeze_norm: bool) -> None:
    model.train()
    if freeze_norm:
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.eval()


# --------------------------------------------------------------------------- the loop


def fit(
    model: nn.Module,
    data: Split,
    config: TrainConfig | None = None,
    *,
    loss: LossFn | None = None,
    callbacks: Sequence[Callback] = (),
    eval_data: Split | None = None,
) -> TrainRun:
    """Train ``model`` in place on ``data`` and return it with its :class:`History`.

    Same seed, same data, same model: same weights (on the CPU). ``loss`` maps
    ``(model, x, y)`` to ``(loss, logits)``; the default is cross-entropy.
    """
    cfg = config or TrainConfig()
    if len(data) == 0:
        raise ConfigError("no training samples", "train on a non-empty split")
    if cfg.class_pure_epochs > math.ceil(cfg.epochs):
        raise ConfigError(
            f"class_pure_epochs={cfg.class_pure_epochs} exceeds epochs={cfg.epochs}",
            "record at most as many epochs as you train",
        )
    loss_fn = loss or cross_entropy(cfg.label_smoothing)
    device = torch.device(cfg.device)
    model.to(device)
    n_epochs = math.ceil(cfg.epochs)
    n = len(data)
    steps_per_epoch = max(1, n // cfg.batch_size + (n % cfg.batch_size > 1))
    total_steps = max(1, round(cfg.epochs * steps_per_epoch))  # for the schedule only
    opt = _optimizer(model, cfg)
    # the factor of the learning rate before step s, applied as torch's LambdaLR applies it
    sched: Callable[[int], float] | None = None
    if cfg.schedule == "cosine":
        sched = lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total_steps) / total_steps))  # noqa: E731
    state = TrainState(model, cfg, n_epochs, steps_per_epoch)
    hist = state.history
    gen = torch.Generator().manual_seed(cfg.seed)
    start = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)  # dropout and anything else drawing from the global RNG
        for cb in callbacks:
            cb.on_train_begin(state)
        _train_mode(model, cfg.freeze_norm)
        for epoch in range(n_epochs):
            if state.stop:
                break
            state.epoch = epoch
            t0 = time.perf_counter()
            pure = epoch >= n_epochs - cfg.class_pure_epochs
            # single-class batches would drag batch-norm statistics to one class at a time
            _train_mode(model, cfg.freeze_norm or pure)
            for cb in callbacks:
                cb.on_epoch_begin(state)
            loss_sum, correct, seen, steps = 0.0, 0, 0, 0
            batches = _batches(data.y, cfg.batch_size, gen, pure)
            if epoch + 1 > cfg.epochs:  # a fractional last epoch
                batches = batches[: max(1, round((cfg.epochs - epoch) * len(batches)))]
            for idx in batches:
                xb = _augment(data.x[idx], cfg.augment, gen).to(device, non_blocking=True)
                yb = data.y[idx].to(device, non_blocking=True)
                state.batch_x, state.batch_y = xb, yb
                for cb in callbacks:
                    cb.on_batch_begin(state)
                value, logits = loss_fn(model, xb, yb)
                lv = float(value.detach())
                if not math.isfinite(lv):
                    raise DivergenceError(
                        f"loss became {lv} at epoch {epoch}, step {state.step}",
                        "lower the learning rate or set grad_clip",
                    )
                opt.zero_grad()
                value.backward()
                for cb in callbacks:
                    cb.on_after_backward(state)
                if cfg.grad_clip:
                    nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                if sched is not None:
                    opt.lr = cfg.lr * sched(state.step)
                opt.step()
                state.step += 1
                steps += 1
                state.loss = lv
                loss_sum += lv * len(yb)
                seen += len(yb)
                correct += int((logits.detach().argmax(1) == yb).sum())
                for cb in callbacks:
                    cb.on_batch_end(state)
                if state.stop:
                    break
            stats = EpochStats(
                epoch=epoch,
                loss=loss_sum / max(seen, 1),
                train_acc=correct / max(seen, 1),
                seconds=time.perf_counter() - t0,
                steps=steps,
            )
            if eval_data is not None:
                stats.eval_acc = accuracy(model, eval_data.x, eval_data.y)
            hist.epochs.append(stats)
            log.debug("epoch %d: %s", epoch, stats)
            for cb in callbacks:
                cb.on_epoch_end(state)
        for cb in callbacks:
            cb.on_train_end(state)
    model.eval()
    hist.seconds = time.perf_counter() - start
    hist.steps = state.step
    if state.stop:
        hist.stopped = state.stop_reason or "stopped by a callback"
    return TrainRun(model, hist)


def train(
    model: nn.Module,
    data: Split,
    config: TrainConfig | None = None,
    *,
    callbacks: Sequence[Callback] = (),
    eval_data: Split | None = None,
) -> nn.Module:
    """Train ``model`` on ``data`` with cross-entropy and return it (see :func:`fit`)."""
    return fit(model, data, config, callbacks=callbacks, eval_data=eval_data).model
