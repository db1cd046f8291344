"""What audits and sweeps share: the attacks to run, the experiment settings, their checks, and
YAML loading. Each default and each cross-field rule of an experiment lives here, once."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from unleak import attacks as atk
from unleak.defences import Defence, build_defence
from unleak.errors import ConfigError
from unleak.evaluation.results import label_of
from unleak.experiments.nulls import check_null_kind
from unleak.unlearning import config_for, is_plugin_name, method_names, method_spec

# each attack at its frozen rule (reading, decider, constant chosen on the development
# population: docs/protocol.md); other readings and deciders are there to ask for by name
DEFAULT_ATTACKS = ("probe-reach", "param-diff", "param-dot", "wb-inversion", "bb-genetic")
DEFAULT_BASELINES = ("chance", "oracle", "before-after")
DEFAULT_METHODS = ("rt", "ft", "rl", "au", "ng")
CALIBRATED = ("youden", "tree")  # deciders that learn from shadow experiments
DEFAULT_SHADOW = "digits"  # the embedded data set: every attacker owns it


class AttackSpec(BaseModel):
    """One attack to run: ``attack``, its ``decider`` and ``criterion``, and parameter overrides.

    The string form is ``ATTACK[/DECIDER]``; for a screening attack (one that declares criteria)
    ``ATTACK/CRITERION`` names the criterion, decided by the attack's default decider.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    attack: str
    decider: str | None = None
    criterion: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        if isinstance(value, str):
            name, _, second = value.partition("/")
            if second and second in atk.attack_class(name).criteria:
                return {"attack": name, "criterion": second}
            value = {"attack": name, "decider": second or None}
        if isinstance(value, dict) and value.get("criterion") is None and "attack" in value:
            # a screening attack named alone reads its evidence the way its rule says (and its
            # label says so); an unknown name is refused by the validator below
            with contextlib.suppress(ConfigError):
                cls = atk.attack_class(value["attack"])
                if "criterion" in cls.Params.model_fields:
                    value = {**value, "criterion": cls.default_criterion}
        return value

    @model_validator(mode="after")
    def _known(self) -> AttackSpec:
        cls = self.attack_class
        if self.decider is not None:
            cls.check_decider(self.decider)
        if self.criterion is not None and self.criterion not in cls.criteria:
            if not cls.criteria:
                raise ConfigError(
                    f"{self.attack} takes no criterion", "drop it, or use a screening attack"
                )
            raise ConfigError(
                f"unknown criterion {self.criterion!r} for {self.attack}",
                f"use {' or '.join(cls.criteria)}",
            )
        try:
            cls.Params(**self.params)
        except ValidationError as exc:
            e = exc.errors()[0]
            raise ConfigError(
                f"{self.attack}: parameter {'.'.join(map(str, e['loc']))}: {e['msg']}",
                f"its parameters are {', '.join(sorted(cls.Params.model_fields)) or 'none'}",
            ) from None
        return self

    @property
    def attack_class(self) -> type[atk.Attack]:
        return atk.attack_class(self.attack)

    @property
    def decider_name(self) -> str:
        return self.decider or self.attack_class.default_decider

    @property
    def label(self) -> str:
        return label_of(self.attack, self.decider_name, self.criterion, self.params)

    def evidence_key(self) -> tuple[str, str]:
        """Specs with the same key share one evidence computation (criteria and deciders only
        read it differently)."""
        return (self.attack, repr(sorted(self.params.items())))


class KnowledgePolicy(BaseModel):
    """How the harness, which knows the truth, equips attackers that hold labelled data of classes
    they believe were kept (``param-dot``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: str = Field(
        atk.knowledge.DEFAULT_MODE,
        description="the parameter attacks' knowledge mode (unleak.attacks.MODES); public-init "
        "needs the checkpoint an original was fine-tuned from, which only `unleak attack "
        "--public-init` takes",
    )
    known_from: Literal["kept", "any"] = Field(
        "kept",
        description="draw the known classes among the kept ones (the threat model), or among all "
        "classes (the attacker's belief may be wrong: a known class may have been forgotten)",
    )
    samples: Literal["train", "test"] = Field(
        "train",
        description="training members of those classes, or non-members (test samples)",
    )
    fraction: float = Field(0.5, gt=0, lt=1, description="share of the classes known")
    per_class: int = Field(100, ge=1, le=100_000, description="samples per known class")

    @field_validator("mode")
    @classmethod
    def _mode(cls, value: str) -> str:
        try:
            atk.knowledge.check_mode(value)
        except ConfigError as exc:
            raise ValueError(exc.problem) from None
        if value == "public-init":
            raise ValueError(
                "knowledge mode public-init needs the public checkpoint the original was "
                "fine-tuned from, and experiments train originals from scratch: attack such a "
                "model with `unleak attack --knowledge public-init --public-init CHECKPOINT`"
            )
        return value


class ExperimentConfig(BaseModel):
    """Settings of every experiment: methods, attacks, null models, budgets, overrides.

    Unknown keys, unknown names and bad values are refused when the config is built, before any
    work starts.
    """

    model_config = ConfigDict(extra="forbid")

    data_root: str | None = None
    methods: list[str] = Field(default_factory=lambda: list(DEFAULT_METHODS), min_length=1)
    attacks: list[AttackSpec] = Field(
        default_factory=lambda: [AttackSpec.model_validate(a) for a in DEFAULT_ATTACKS]
    )
    baselines: list[AttackSpec] = Field(
        default_factory=lambda: [AttackSpec.model_validate(a) for a in DEFAULT_BASELINES]
    )
    null_models: list[str] = Field(default_factory=lambda: ["original", "ft"])
    query_budget: int = Field(atk.DEFAULT_QUERY_BUDGET, ge=10, le=10**9)
    num_forgotten_known: bool = Field(False, description="also run top-m with the true number")
    unlearn: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="per-method overrides of the recipes"
    )
    shadow: str | None = Field(None, description="data set for shadow calibration (youden, tree)")
    knowledge: KnowledgePolicy = Field(default_factory=KnowledgePolicy)
    defences: list[str] = Field(
        default_factory=list,
        description="defences applied after unlearning, each measured on its own beside none",
    )
    defence_settings: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="settings per defence, e.g. {top-k: {k: 3}}"
    )
    device: str = "cpu"

    @field_validator("methods")
    @classmethod
    def _methods(cls, value: list[str]) -> list[str]:
        known = method_names(variants=True)
        for name in value:
            if name not in known and is_plugin_name(name):
                method_spec(name)  # a method of your own: loaded now, a broken one refused now
        unknown = sorted(m for m in set(value) - set(known) if not is_plugin_name(m))
        if unknown:
            raise ValueError(f"unknown method(s) {unknown}; known: {', '.join(known)}")
        if len(set(value)) != len(value):
            raise ValueError("a method is listed twice")
        return value

    @field_validator("null_models")
    @classmethod
    def _nulls(cls, value: list[str]) -> list[str]:
        for kind in value:
            try:
                check_null_kind(kind)
            except ConfigError as exc:
                raise ValueError(exc.problem) from None
        if len(set(value)) != len(value):
            raise ValueError("a null model is listed twice")
        return value

    @model_validator(mode="after")
    def _defences(self) -> ExperimentConfig:
        if len(set(self.defences)) != len(self.defences):
            raise ValueError("a defence is listed twice")
        bad = sorted(set(self.defence_settings) - set(self.defences))
        if bad:
            raise ValueError(f"defence_settings for {bad}, which are not among the defences")
        try:
            self.build_defences()
        except ConfigError as exc:
            raise ValueError(exc.problem) from None
        return self

    def build_defences(self) -> list[Defence]:
        """The defences, built with their settings (each one is measured on its own)."""
        return [build_defence(n, **self.defence_settings.get(n, {})) for n in self.defences]

    def all_specs(self) -> list[AttackSpec]:
        """Every attack and baseline the experiment runs on each model."""
        return [*self.attacks, *self.baselines]

    def shadow_for(self, dataset: str) -> str:
        """The shadow data set for calibrated deciders, refused when it is the target's own."""
        return check_shadow(self.shadow or DEFAULT_SHADOW, dataset)

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

    def check_shadow(self, dataset: str) -> None:
        """Calibrated deciders need a shadow data set other than ``dataset``."""
        if any(s.decider_name in CALIBRATED for s in self.all_specs()):
            self.shadow_for(dataset)


def check_shadow(shadow: str, target: str) -> str:
    """The one place of the rule "shadow experiments never run on the target's data set"."""
    if shadow == target:
        raise ConfigError(
            f"youden/tree deciders calibrate on shadow experiments on {shadow!r}, the target's own "
            "data set",
            "set shadow (--shadow NAME) to another data set the attacker owns, or use the kmeans "
            "decider",
        )
    return shadow


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
        except IsADirectoryError:
            raise ConfigError(f"{p} is a folder, not a {what} file", "give a YAML file") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{p} is not a text file", f"give a YAML {what} file") from None
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
