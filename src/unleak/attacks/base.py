"""The attack contract: per-class features, a decider, and one result type for every attack.

An attack declares the access it needs (:class:`~unleak.attacks.access.Access`) and its tunable
parameters (a pydantic model, validated at construction, as in IBM ART's attack classes). It turns a
target into :class:`ClassFeatures` (one row per class, higher main score = more likely forgotten);
a decider turns those into the predicted forgotten set.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from unleak.attacks.access import Access, Target
from unleak.errors import ConfigError, unknown_name


@dataclass
class ClassFeatures:
    """Per-class evidence: ``values[c]`` is class c's feature vector; column ``main`` is the score.

    ``candidates[c]`` is False for classes the attacker knows were retained (``param-dot`` holds
    their data); deciders never predict those.
    """

    values: np.ndarray  # K x F
    names: list[str]
    candidates: np.ndarray  # K booleans
    main: int = 0
    queries: int = 0
    details: dict[str, Any] = field(default_factory=dict)
    absolute: float | None = None  # the main score has a fixed scale; this is its default cut

    @property
    def num_classes(self) -> int:
        return int(self.values.shape[0])

    @property
    def score(self) -> np.ndarray:
        return self.values[:, self.main]

    def minus(self, other: ClassFeatures) -> ClassFeatures:
        """Before/after evidence: this model's features minus the original's."""
        return ClassFeatures(
            self.values - other.values,
            [f"{n}-delta" for n in self.names],
            self.candidates & other.candidates,
            self.main,
            self.queries + other.queries,
            {"after": self.details, "before": other.details},
            self.absolute,
        )


@dataclass
class AttackResult:
    """What every attack returns: per-class scores, the predicted forgotten set, and provenance."""

    attack: str
    decider: str
    predicted: tuple[int, ...]
    scores: list[float]  # per class, the decider's score (NaN for non-candidates)
    candidates: tuple[int, ...]
    calibration: str
    seconds: float
    queries: int = 0
    access: str = ""
    uses_original: bool = False
    params: dict[str, Any] = field(default_factory=dict)
    features: dict[str, list[float]] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    def hit(self, forgotten: tuple[int, ...] | list[int]) -> bool:
        """The attack succeeds when the predicted set is exactly the forgotten set."""
        return set(self.predicted) == set(forgotten)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["predicted"] = list(self.predicted)
        d["candidates"] = list(self.candidates)
        d["scores"] = [None if not math.isfinite(s) else float(s) for s in self.scores]
        return d


class AttackParams(BaseModel):
    """Base of every attack's parameters: unknown names are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Attack:
    """Base class. Subclasses set ``name``, ``requires``, ``Params`` and implement ``features``."""

    name: ClassVar[str] = ""
    requires: ClassVar[Access] = Access.WEIGHTS
    Params: ClassVar[type[AttackParams]] = AttackParams
    deciders: ClassVar[tuple[str, ...]] = ("kmeans", "gap", "threshold", "youden", "tree", "topm")
    default_decider: ClassVar[str] = "kmeans"
    description: ClassVar[str] = ""

    def __init__(
        self,
        decider: str | Any = None,
        *,
        num_forgotten: int | None = None,
        calibration: Any = None,
        **params: Any,
    ) -> None:
        from unleak.attacks.deciders import make_decider

        try:
            self.params = self.Params(**params)
        except ValidationError as exc:
            e = exc.errors()[0]
            where = ".".join(str(p) for p in e["loc"])
            raise ConfigError(
                f"{self.name}: parameter {where}: {e['msg']}",
                f"its parameters are {', '.join(sorted(self.Params.model_fields))}",
            ) from exc
        decider = decider or self.default_decider
        if isinstance(decider, str) and decider not in self.deciders:
            raise ConfigError(
                unknown_name(f"decider for {self.name}", decider, self.deciders),
                "pick one of those",
            )
        self.decider = make_decider(decider, num_forgotten=num_forgotten, calibration=calibration)

    def with_params(self, **changes: Any) -> Attack:
        """A copy with some parameters changed (same decider)."""
        new = copy.copy(self)
        new.params = self.Params(**{**self.params.model_dump(), **changes})
        return new

    def for_shadow(self, data: Any, forgotten: tuple[int, ...]) -> Attack:
        """The same attack, adapted to a shadow model of ``data`` (see ``attacks.shadow``)."""
        return self

    # -- to implement -----------------------------------------------------------------------
    def features(self, target: Target) -> ClassFeatures:
        raise NotImplementedError

    # -- shared ---------------------------------------------------------------------------------
    def evidence(self, target: Target, original: Target | None = None) -> ClassFeatures:
        """Features of ``target``; with ``original`` (a stronger attacker), the delta."""
        target.require(self.requires, self.name)
        feats = self.features(target)
        if original is not None:
            original.require(self.requires, self.name)
            feats = feats.minus(self.features(original))
        return feats

    def run(self, target: Target, *, original: Target | None = None) -> AttackResult:
        """Attack ``target`` and decide which classes it forgot."""
        start = time.perf_counter()
        feats = self.evidence(target, original)
        predicted, scores = self.decider.decide(feats)
        return AttackResult(
            attack=self.name,
            decider=self.decider.name,
            predicted=tuple(sorted(int(c) for c in predicted)),
            scores=[float(s) for s in scores],
            candidates=tuple(int(c) for c in np.nonzero(feats.candidates)[0]),
            calibration=self.decider.source,
            seconds=time.perf_counter() - start,
            queries=feats.queries,
            access=self.requires.name.lower(),
            uses_original=original is not None,
            params=self.params.model_dump(),
            features={n: feats.values[:, i].tolist() for i, n in enumerate(feats.names)},
            details=feats.details,
        )


_ATTACKS: dict[str, type[Attack]] = {}


def register_attack(cls: type[Attack]) -> type[Attack]:
    if not cls.name or cls.name in _ATTACKS:
        raise ValueError(f"attack {cls.name!r} is unnamed or registered twice")
    _ATTACKS[cls.name] = cls
    return cls


def attack_names() -> list[str]:
    return sorted(_ATTACKS)


def attack_class(name: str) -> type[Attack]:
    try:
        return _ATTACKS[name]
    except KeyError:
        raise ConfigError(
            unknown_name("attack", name, attack_names()), "pick one of those"
        ) from None


def build(name: str, decider: str | Any = None, **kwargs: Any) -> Attack:
    """Build a registered attack by name, e.g. ``build("param-diff", decider="kmeans")``."""
    return attack_class(name)(decider, **kwargs)
