"""What an audit does: :class:`AuditConfig`, validated before any work starts, and its loading
from YAML and command-line overrides."""

from __future__ import annotations

import math
import os
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from unleak.data.core import validate_forget_set
from unleak.errors import ConfigError
from unleak.experiments.settings import ExperimentConfig, load_config_file
from unleak.training import TrainConfig


class Normalization(BaseModel):
    """Per-channel mean and std a model was trained to expect (inputs are otherwise [0, 1])."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mean: list[float] = Field(min_length=1, max_length=4)
    std: list[float] = Field(min_length=1, max_length=4)

    @model_validator(mode="after")
    def _shape(self) -> Normalization:
        if len(self.mean) != len(self.std):
            raise ValueError("normalize needs as many std values as mean values")
        if not all(math.isfinite(v) for v in [*self.mean, *self.std]) or min(self.std) <= 0:
            raise ValueError("normalize needs finite means and positive standard deviations")
        return self


class AuditConfig(ExperimentConfig):
    """Everything an audit does. Unknown keys, bad values and impossible combinations are refused
    before any work starts."""

    dataset: str = "digits"
    model: str | None = Field(None, description="architecture; default per data set")
    arch_args: dict[str, Any] = Field(default_factory=dict)
    checkpoint: str | None = Field(None, description="original model to load instead of training")
    forget: list[int] | None = Field(None, description="classes to forget; default: chosen by seed")
    num_forget: int = Field(
        1, ge=1, description="how many classes the seed picks when forget is unset"
    )
    seed: int = Field(0, ge=0, lt=2**63)
    train: dict[str, Any] = Field(
        default_factory=dict, description="training overrides (epochs, lr...)"
    )
    cache: bool = Field(False, description="reuse trained models from the cache ($UNLEAK_CACHE)")
    # ---- your own models (see experiments/own.py): unlearned is what switches them on
    unlearned: list[str] = Field(
        default_factory=list, description="your unlearned models (weights files or folders)"
    )
    original: str | None = Field(None, description="your original model's weights")
    model_def: str | None = Field(None, description="your model class, PATH.py:CLASS")
    model_args: dict[str, Any] = Field(default_factory=dict, description="its constructor args")
    normalize: Normalization | None = Field(
        None, description="mean and std your model expects inputs normalised with"
    )
    known_classes: list[int] | None = Field(
        None, description="classes you know were kept (param-dot's attacker data)"
    )

    @model_validator(mode="after")
    def _combinations(self) -> AuditConfig:
        if (self.model_def or self.original or self.normalize) and not self.unlearned:
            raise ValueError(
                "model_def/original/normalize describe your own models: give unlearned too"
            )
        if self.unlearned and self.checkpoint:
            raise ValueError("checkpoint trains unleak's own audit; with unlearned use original")
        if len(set(self.unlearned)) != len(self.unlearned):
            raise ValueError("unlearned lists a model twice")
        if self.forget is not None and len(self.forget) != len(set(self.forget)):
            raise ValueError("forget lists a class twice")
        if self.forget is not None and not self.forget:
            raise ValueError("forget is empty; name at least one class or leave it unset")
        try:  # settings are checked now, not after the original has trained
            TrainConfig(**self.train)
        except ValidationError as exc:
            e = exc.errors()[0]
            raise ValueError(f"train.{'.'.join(map(str, e['loc']))}: {e['msg']}") from None
        self.check_unlearn(self.dataset, self.model)
        self.check_shadow(self.dataset)
        return self

    def resolve_forget(self, num_classes: int) -> tuple[int, ...]:
        """The forget set: as given, or ``num_forget`` classes drawn with the seed."""
        if self.forget is not None:
            return validate_forget_set(self.forget, num_classes)
        if self.num_forget >= num_classes:
            raise ConfigError(
                f"num_forget={self.num_forget} with {num_classes} classes",
                f"forget at most {num_classes - 1}",
            )
        gen = torch.Generator().manual_seed(self.seed)
        return tuple(sorted(torch.randperm(num_classes, generator=gen)[: self.num_forget].tolist()))


def load_config(path: str | os.PathLike[str] | None = None, **overrides: Any) -> AuditConfig:
    """An :class:`AuditConfig` from a YAML file and/or keyword overrides, or a one-line error."""
    return load_config_file(AuditConfig, path, "audit", **overrides)
