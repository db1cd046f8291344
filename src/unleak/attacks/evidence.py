"""Per-class evidence: what every attack computes and every decider reads.

An attack turns a target into :class:`ClassFeatures`, one row of named features per class, with
one column marked as the main score (higher = more likely forgotten). Deciders only ever see this
table, so any attack works with any decider it allows.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from unleak.errors import ConfigError


@dataclass
class ClassFeatures:
    """Per-class evidence: ``values[c]`` is class c's feature vector; column ``main`` is the score.

    ``candidates[c]`` is False for classes the attacker knows were retained (``param-dot`` holds
    their data); deciders never predict those. ``absolute`` is set when the main score has a fixed
    scale of its own (nats, a cosine): it is then the documented default cut.
    """

    values: np.ndarray  # K x F
    names: list[str]
    candidates: np.ndarray  # K booleans
    main: int = 0
    queries: int = 0
    details: dict[str, Any] = field(default_factory=dict)
    absolute: float | None = None

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values)
        if not np.issubdtype(self.values.dtype, np.floating):
            self.values = self.values.astype(float)
        self.candidates = np.asarray(self.candidates, dtype=bool)
        if self.values.ndim != 2 or self.values.shape[1] != len(self.names):
            raise ConfigError(
                f"evidence has shape {self.values.shape} for features {self.names}",
                "give one column per feature name and one row per class",
            )
        if self.candidates.shape != (self.values.shape[0],):
            raise ConfigError(
                f"{self.candidates.shape[0]} candidate flags for {self.values.shape[0]} classes",
                "give one flag per class",
            )
        if not np.isfinite(self.values).all():
            bad = sorted({self.names[j] for j in np.nonzero(~np.isfinite(self.values))[1]})
            raise ConfigError(
                f"evidence holds NaN or infinity in feature(s) {bad}",
                "the target returned non-finite outputs: check the model and its inputs",
            )

    @property
    def num_classes(self) -> int:
        return int(self.values.shape[0])

    @property
    def score(self) -> np.ndarray:
        return self.values[:, self.main]

    def reading(self, main: str, absolute: float | None) -> ClassFeatures:
        """The same evidence read through another main column (a screening criterion)."""
        if main not in self.names:
            raise ConfigError(
                f"evidence has no feature {main!r} (it has {', '.join(self.names)})",
                "pick a criterion the attack computes",
            )
        return dataclasses.replace(self, main=self.names.index(main), absolute=absolute)

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
