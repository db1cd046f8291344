"""What audits and sweeps share: the experiment settings, their checks, and YAML loading."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from unleak.errors import ConfigError
from unleak.experiments.runner import DEFAULT_ATTACKS, DEFAULT_BASELINES, AttackSpec
from unleak.experiments.store import NULL_KINDS
from unleak.unlearning import config_for, method_names


class ExperimentConfig(BaseModel):
    """Settings of every experiment: methods, attacks, null models, budgets, overrides.

    Unknown keys, unknown names and bad values are refused when the config is built, before any
    work starts.
    """

    model_config = ConfigDict(extra="forbid")

    data_root: str | None = None
    methods: list[str] = Field(default_factory=lambda: ["rt", "ft", "rl", "au", "ng"])
    attacks: list[AttackSpec] = Field(
        default_factory=lambda: [AttackSpec.model_validate(a) for a in DEFAULT_ATTACKS]
    )
    baselines: list[AttackSpec] = Field(
        default_factory=lambda: [AttackSpec.model_validate(a) for a in DEFAULT_BASELINES]
    )
    null_models: list[str] = Field(default_factory=lambda: ["original", "ft"])
    query_budget: int = Field(10_000, ge=10)
    num_forgotten_known: bool = Field(False, description="also run top-m with the true number")
    unlearn: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="per-method overrides of the recipes"
    )
    shadow: str | None = Field(None, description="data set for shadow calibration (youden, tree)")
    device: str = "cpu"

    @field_validator("methods")
    @classmethod
    def _methods(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(method_names()))
        if unknown:
            raise ValueError(f"unknown method(s) {unknown}; known: {', '.join(method_names())}")
        if len(set(value)) != len(value):
            raise ValueError("a method is listed twice")
        return value

    @field_validator("null_models")
    @classmethod
    def _nulls(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(NULL_KINDS))
        if unknown:
            raise ValueError(f"unknown null model(s) {unknown}; known: {', '.join(NULL_KINDS)}")
        return value

    def all_specs(self) -> list[AttackSpec]:
        """Every attack and baseline the experiment runs on each model."""
        return [*self.attacks, *self.baselines]

    def check_unlearn(self, dataset: str, model: str | None) -> None:
        """Every per-method override must name a chosen method and build a valid config."""
        bad = sorted(set(self.unlearn) - set(self.methods))
        if bad:
            raise ValueError(f"unlearn overrides for {bad}, which are not among the methods")
        for method, overrides in self.unlearn.items():
            try:
                config_for(method, dataset, model, overrides)
            except ConfigError as exc:
                raise ValueError(f"unlearn.{method}: {exc.problem}") from None


C = TypeVar("C", bound=BaseModel)


def load_config_file(
    cls: type[C], path: str | os.PathLike[str] | None, what: str, **overrides: Any
) -> C:
    """Build ``cls`` from a YAML file and/or keyword overrides, or raise a one-line ConfigError."""
    values: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        try:
            loaded = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            raise ConfigError(f"no {what} configuration file {p}", "check the path") from None
        except yaml.YAMLError as exc:
            raise ConfigError(
                f"{p} is not valid YAML ({str(exc).splitlines()[0]})", "fix the file"
            ) from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"{p} does not hold a mapping of settings", "write key: value lines")
        values.update(loaded)
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return cls.model_validate(values)
    except ConfigError:
        raise
    except ValidationError as exc:
        e = exc.errors()[0]
        where = ".".join(str(x) for x in e["loc"]) or "configuration"
        msg = e["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{what} configuration: {where}: {msg}", "fix that setting") from exc
