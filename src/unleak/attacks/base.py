"""The attack contract: everything the harness needs is declared on the attack's class.

An attack declares, as class attributes (the idea of IBM ART's attack classes):

- ``requires``: the access it needs to the target (:class:`~unleak.attacks.access.Access`);
- ``knows``: which fields of :class:`~unleak.attacks.knowledge.Knowledge` it reads (data the
  attacker holds), filled in by :meth:`Attack.prepare` and nothing else; ``needs``: those it
  cannot run without;
- ``Params``: its tunable parameters (a pydantic model, validated at construction);
- ``deciders`` / ``default_decider`` and, for screening attacks, ``criteria``: the readings of its
  evidence (criterion -> main feature and its cut) and ``default_criterion``;
- ``rule``: its default decision (reading, decider, constant), chosen on the development
  population by benchmarks/calibrate.py and frozen here (tests/test_protocol.py);
- ``spends_queries``: its forward passes are counted against a budget (:meth:`query_budget`);
- ``needs_original``: it also queries the original model (before/after);
- ``null_guess``: how many classes it names when told nothing was forgotten (chance: 1);
- ``threat`` (one sentence of threat model) and ``label`` (a short column name);
- ``baseline``: a reference point (chance, oracle, before/after), not an attack.

It implements :meth:`Attack.features`: target -> :class:`ClassFeatures`. Everything else (the
delta against an original, criteria, deciders, the result) is shared here, so an attack is one
file plus its ``@register_attack``.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from unleak.attacks.access import DEFAULT_QUERY_BUDGET, Access, Target
from unleak.attacks.deciders import Calibration, Decider, make_decider
from unleak.attacks.evidence import ClassFeatures
from unleak.attacks.knowledge import Knowledge
from unleak.errors import ConfigError, unknown_name


@dataclass(frozen=True)
class Rule:
    """An attack's default decision rule: which reading of its evidence, which decider, and that
    decider's one constant. The constant is a cut in the reading's own unit when the reading has a
    fixed scale (``absolute``), else the decider's robust z (threshold) or gap (kmeans, gap).
    Chosen on the development population only (docs/protocol.md), never on a reported table."""

    reading: str
    decider: str
    constant: float
    absolute: bool

    def decider_args(self) -> dict[str, float]:
        """The keyword the decider takes the constant as (none: the cut rides on the evidence)."""
        if self.absolute:
            return {}
        return {"z": self.constant} if self.decider == "threshold" else {"gap": self.constant}


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
    criterion: str | None = None
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
    """Base class; see the module docstring for what a subclass declares."""

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""
    requires: ClassVar[Access] = Access.WEIGHTS
    Params: ClassVar[type[AttackParams]] = AttackParams
    knows: ClassVar[tuple[str, ...]] = ()
    needs: ClassVar[tuple[str, ...]] = ()
    deciders: ClassVar[tuple[str, ...]] = ("kmeans", "gap", "threshold", "youden", "tree", "topm")
    default_decider: ClassVar[str] = "kmeans"
    criteria: ClassVar[dict[str, tuple[str, float | None]]] = {}
    default_criterion: ClassVar[str | None] = None
    rule: ClassVar[Rule | None] = None
    rules: ClassVar[dict[str, Rule] | None] = None  # per knowledge mode, where the mode matters
    spends_queries: ClassVar[bool] = False
    needs_original: ClassVar[bool] = False
    null_guess: ClassVar[int | None] = None
    baseline: ClassVar[bool] = False
    threat: ClassVar[str] = ""
    description: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("rule") is not None:  # the frozen rule is the default: one place
            cls.default_decider = cls.rule.decider

    def __init__(
        self,
        decider: str | Decider | None = None,
        *,
        num_forgotten: int | None = None,
        calibration: Calibration | None = None,
        knowledge: Knowledge | None = None,
        **params: Any,
    ) -> None:
        try:
            self.params = self.Params(**params)
        except ValidationError as exc:
            e = exc.errors()[0]
            where = ".".join(str(p) for p in e["loc"])
            raise ConfigError(
                f"{self.name}: parameter {where}: {e['msg']}",
                f"its parameters are {', '.join(sorted(self.Params.model_fields)) or 'none'}",
            ) from exc
        self.num_forgotten = num_forgotten
        self.knowledge = knowledge or Knowledge()
        missing = [k for k in self.needs if _missing(self.knowledge, k)]
        if missing:
            raise ConfigError(*self.missing_knowledge(missing[0]))
        self.setup(self.knowledge)
        if self.rules is not None:  # the knowledge mode's frozen rule, before the decider
            self.rule = self.rules[self.knowledge.mode]
        self.decider = self.make_decider(decider, num_forgotten, calibration)

    # -- declared behaviour a subclass may refine ----------------------------------------------
    def setup(self, knowledge: Knowledge) -> None:
        """Read what the attack needs from ``knowledge`` (called once, at construction)."""

    def missing_knowledge(self, name: str) -> tuple[str, str]:
        """Problem and fix when a declared knowledge field is missing."""
        return (f"{self.name} needs {name}", f"give it in Knowledge({name}=...)")

    def query_budget(self, default: int | None = DEFAULT_QUERY_BUDGET) -> int | None:
        """Queries this attack may spend on one model (``None``: counted but unlimited)."""
        return default if self.spends_queries else None

    def features(self, target: Target) -> ClassFeatures:
        raise NotImplementedError

    # -- shared ---------------------------------------------------------------------------------
    @classmethod
    def prepare(
        cls, knowledge: Knowledge, decider: str | Decider | None = None, **kwargs: Any
    ) -> Attack:
        """Build the attack with exactly the knowledge it declares (other fields are dropped)."""
        kept = Knowledge(
            **{k: getattr(knowledge, k) for k in cls.knows},  # mode too, where declared
            seed=knowledge.seed,
            shadow=knowledge.shadow,
        )
        return cls(decider, knowledge=kept, **kwargs)

    def make_decider(
        self,
        decider: str | Decider | None,
        num_forgotten: int | None = None,
        calibration: Calibration | None = None,
    ) -> Decider:
        """A decider this attack allows (by name, or one passed through)."""
        decider = decider or self.default_decider
        args: dict[str, float] = {}
        if isinstance(decider, str):
            self.check_decider(decider)
            if self.rule is not None and decider == self.rule.decider:
                args = self.rule.decider_args()
        return make_decider(decider, num_forgotten=num_forgotten, calibration=calibration, **args)

    @classmethod
    def check_decider(cls, decider: str) -> None:
        """The one check that ``decider`` is one this attack allows."""
        if decider not in cls.deciders:
            raise ConfigError(
                unknown_name(f"decider for {cls.name}", decider, cls.deciders),
                "pick one of those",
            )

    def with_params(self, **changes: Any) -> Attack:
        """A copy with some parameters changed (same decider and knowledge)."""
        new = copy.copy(self)
        new.params = self.Params(**{**self.params.model_dump(), **changes})
        return new

    def evidence(
        self, target: Target, original: Target | None = None, *, before: Any = None
    ) -> ClassFeatures:
        """Features of ``target``; with ``original`` (a stronger attacker), read against it.
        ``before``: what :meth:`before` read off the original already (one original serves
        every model of an audit, so the harness reads it once)."""
        if original is None and before is None:
            if self.needs_original:
                raise ConfigError(
                    f"{self.name} needs the original model as well",
                    "pass the original (--original DIR) or pick another attack",
                )
            target.require(self.requires, self.name)
            return self.features(target)
        if before is None:
            assert original is not None
            before = self.before(original)
        return self.against(target, before)

    def before(self, original: Target) -> Any:
        """What the attack reads off the original: by default its features."""
        original.require(self.requires, self.name)
        return self.features(original)

    def against(self, target: Target, before: Any) -> ClassFeatures:
        """``target``'s evidence given :meth:`before`'s: by default the delta of features."""
        target.require(self.requires, self.name)
        return self.features(target).minus(before)

    def read(self, feats: ClassFeatures, criterion: str | None) -> ClassFeatures:
        """The evidence read through a screening criterion (``None``: as computed)."""
        if criterion is None:
            return feats
        if criterion not in self.criteria:
            known = tuple(self.criteria) or ("none",)
            raise ConfigError(
                unknown_name(f"criterion for {self.name}", criterion, known),
                "pick one of those" if self.criteria else "drop the criterion",
            )
        main, cut = self.criteria[criterion]
        if feats.names and feats.names[0].endswith("-delta"):
            main = f"{main}-delta"
        return feats.reading(main, cut)

    def decide(
        self,
        feats: ClassFeatures,
        decider: Decider | None = None,
        criterion: str | None = None,
        *,
        seconds: float = 0.0,
        uses_original: bool = False,
    ) -> AttackResult:
        """Decide which classes ``feats`` says were forgotten, as an :class:`AttackResult`."""
        start = time.perf_counter()
        dec = decider or self.decider
        read = self.read(feats, criterion)
        predicted, scores = dec.decide(read)
        return AttackResult(
            attack=self.name,
            decider=dec.name,
            predicted=tuple(sorted(int(c) for c in predicted)),
            scores=[float(s) for s in scores],
            candidates=tuple(int(c) for c in np.nonzero(feats.candidates)[0]),
            calibration=dec.source,
            seconds=seconds + time.perf_counter() - start,
            queries=feats.queries,
            access=self.requires.name.lower(),
            uses_original=uses_original,
            criterion=criterion or self.params.model_dump().get("criterion"),
            params=self.params.model_dump(),
            features={n: feats.values[:, i].tolist() for i, n in enumerate(feats.names)},
            details=feats.details,
        )

    def run(self, target: Target, *, original: Target | None = None) -> AttackResult:
        """Attack ``target`` and decide which classes it forgot."""
        start = time.perf_counter()
        feats = self.evidence(target, original)
        return self.decide(
            feats,
            seconds=time.perf_counter() - start,
            uses_original=original is not None,
        )


def _missing(knowledge: Knowledge, name: str) -> bool:
    value = getattr(knowledge, name)
    return value is None or (hasattr(value, "__len__") and len(value) == 0)


_ATTACKS: dict[str, type[Attack]] = {}


def register_attack(cls: type[Attack]) -> type[Attack]:
    """Register an attack class under its ``name``."""
    if not cls.name or cls.name in _ATTACKS:
        raise ValueError(f"attack {cls.name!r} is unnamed or registered twice")
    unknown = set(cls.knows) - set(Knowledge.__dataclass_fields__)
    if unknown or not set(cls.needs) <= set(cls.knows):
        raise ValueError(f"attack {cls.name!r} declares unknown knowledge {sorted(unknown)}")
    _ATTACKS[cls.name] = cls
    return cls


def attack_names(*, baselines: bool = True) -> list[str]:
    """Registered attacks (and baselines, unless ``baselines=False``)."""
    return sorted(n for n, c in _ATTACKS.items() if baselines or not c.baseline)


def attack_class(name: str) -> type[Attack]:
    try:
        return _ATTACKS[name]
    except KeyError:
        raise ConfigError(
            unknown_name("attack", name, attack_names()), "pick one of those"
        ) from None


def build(name: str, decider: str | Decider | None = None, **kwargs: Any) -> Attack:
    """Build a registered attack by name, e.g. ``build("param-diff", decider="kmeans")``."""
    return attack_class(name)(decider, **kwargs)
