"""Deciders: from per-class evidence to a predicted forgotten set.

All of them read the same standardised table: each feature column as a robust z-score over the
candidate classes (median and MAD, so one forgotten class cannot hide itself by inflating the
spread), the rank of the main score and its gap to the next class down. A main score with a fixed
scale of its own (``ClassFeatures.absolute``, e.g. ``param-diff``'s reach in nats) is kept raw.

- ``topm``: the m highest scores, when the number of forgotten classes is known.
- ``kmeans``: two clusters of main z-scores (scikit-learn); the upper cluster is reported only if
  it stands apart from the rest by at least ``gap`` robust standard deviations, so the decider
  can answer "nothing forgotten".
- ``threshold``: every class whose main score exceeds a cut: the attack's documented default for
  absolute scores, else a robust z-score of 3.5 (the Iglewicz-Hoaglin outlier rule).
- ``gap``: the split of the sorted scores with the largest gap relative to the spread below it.
- ``youden``: a threshold on the main z-score that maximises TPR - FPR over shadow runs.
- ``tree``: a decision tree over the whole table, trained on shadow runs.

The last two need a :class:`Calibration` built from the attacker's own shadow experiments; its
``source`` string travels into every result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from unleak.attacks.evidence import ClassFeatures
from unleak.errors import ConfigError, unknown_name

MAD_SCALE = 1.4826  # makes the MAD a consistent estimate of the standard deviation


def robust_z(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``(v - median) / (1.4826 MAD)`` over ``mask``; NaN outside it."""
    v = np.asarray(values, float)
    out = np.full(v.shape, np.nan)
    sel = v[mask]
    if sel.size == 0:
        return out
    med = np.median(sel)
    mad = MAD_SCALE * np.median(np.abs(sel - med))
    scale = mad if mad > 1e-12 else (np.std(sel) if np.std(sel) > 1e-12 else 1.0)
    out[mask] = (sel - med) / scale
    return out


def table(feats: ClassFeatures) -> tuple[np.ndarray, list[str]]:
    """The standardised per-class table every decider reads (non-candidates are NaN)."""
    mask = feats.candidates.astype(bool)
    cols, names = [], []
    for j, name in enumerate(feats.names):
        if j == feats.main and feats.absolute is not None:
            cols.append(np.where(mask, feats.values[:, j], np.nan))
            names.append(name)
        else:
            cols.append(robust_z(feats.values[:, j], mask))
            names.append(f"z:{name}")
    z = cols[feats.main]
    rank = np.full(len(z), np.nan)
    gap = np.full(len(z), np.nan)
    idx = np.nonzero(mask)[0]
    order = idx[np.argsort(-z[idx], kind="stable")]
    for r, c in enumerate(order):
        rank[c] = r
        gap[c] = z[c] - (z[order[r + 1]] if r + 1 < len(order) else z[c])
    return np.stack([*cols, rank, gap], 1), [*names, "rank", "gap"]


@dataclass
class Calibration:
    """Shadow runs: evidence of models whose forgotten set the attacker knows (empty = null)."""

    source: str
    runs: list[tuple[ClassFeatures, tuple[int, ...]]] = field(default_factory=list)

    def labelled_rows(self) -> tuple[np.ndarray, np.ndarray]:
        xs, ys = [], []
        for feats, forgotten in self.runs:
            t, _ = table(feats)
            mask = feats.candidates.astype(bool)
            xs.append(t[mask])
            ys.append(np.isin(np.nonzero(mask)[0], forgotten).astype(int))
        if not xs:
            raise ConfigError(
                f"calibration {self.source!r} holds no shadow run", "run shadow experiments"
            )
        return np.concatenate(xs), np.concatenate(ys)


class Decider:
    name = ""
    description = ""  # one line, shown by the CLI's help and `unleak methods`
    needs_calibration = False

    def __init__(
        self, num_forgotten: int | None = None, calibration: Calibration | None = None
    ) -> None:
        self.num_forgotten = num_forgotten
        self.calibration = calibration
        if self.needs_calibration and calibration is None:
            raise ConfigError(
                f"the {self.name} decider is calibrated on shadow runs and none were given",
                "pass calibration= (see unleak.attacks.shadow) or use the kmeans decider",
            )

    @property
    def source(self) -> str:
        return self.calibration.source if self.calibration else "none (unsupervised)"

    def decide(self, feats: ClassFeatures) -> tuple[list[int], np.ndarray]:
        """The predicted forgotten classes (sorted) and each class's score.

        Naming every class is no decision (something is always kept): it becomes "nothing".
        """
        t, _ = table(feats)
        predicted = sorted(int(c) for c in self._decide(t, feats))
        if feats.num_classes > 1 and len(predicted) >= feats.num_classes:
            predicted = []
        return predicted, t[:, feats.main]

    def _decide(self, t: np.ndarray, feats: ClassFeatures) -> list[int]:
        raise NotImplementedError


class TopM(Decider):
    name = "topm"
    description = "the m highest-scoring classes, m the number of forgotten classes (known)"

    def __init__(
        self, num_forgotten: int | None = None, calibration: Calibration | None = None
    ) -> None:
        super().__init__(num_forgotten, calibration)
        if not num_forgotten or num_forgotten < 1:
            raise ConfigError(
                "the topm decider needs the number of forgotten classes",
                "pass num_forgotten= (--num-forgotten N) or use the kmeans decider",
            )

    @property
    def source(self) -> str:
        return f"none (number of forgotten classes given: {self.num_forgotten})"

    def _decide(self, t: np.ndarray, feats: ClassFeatures) -> list[int]:
        z = t[:, feats.main]
        idx = np.nonzero(feats.candidates)[0]
        return idx[np.argsort(-z[idx], kind="stable")][: self.num_forgotten].tolist()


class KMeansGap(Decider):
    name = "kmeans"
    description = "two clusters of the scores, kept only when their gap stands out (unsupervised)"

    def __init__(
        self,
        num_forgotten: int | None = None,
        calibration: Calibration | None = None,
        gap: float = 1.0,
    ) -> None:
        super().__init__(num_forgotten, calibration)
        self.gap = gap

    @property
    def source(self) -> str:
        return f"none (unsupervised, gap test {self.gap:g})"

    def _decide(self, t: np.ndarray, feats: ClassFeatures) -> list[int]:
        from sklearn.cluster import KMeans

        idx = np.nonzero(feats.candidates)[0]
        z = t[idx, feats.main]
        if len(idx) < 3 or np.ptp(z) < 1e-9:
            return []
        labels = KMeans(n_clusters=2, n_init=10, random_state=0).fit(z[:, None]).labels_
        upper = labels == labels[np.argmax(z)]
        if upper.sum() > (~upper).sum():  # the outliers are low, not high: nothing stands out
            return []
        low = z[~upper]
        floor = 0.5 if feats.absolute is None else 0.25 * feats.absolute
        spread = max(MAD_SCALE * np.median(np.abs(low - np.median(low))), floor)
        separation = (z[upper].min() - low.max()) / spread
        if feats.absolute is not None and z[upper].min() < 0.5 * feats.absolute:
            return []  # two clusters of small values: nothing is far from reach
        return idx[upper].tolist() if separation >= self.gap else []


class LargestGap(Decider):
    """The split of the sorted scores with the largest gap, relative to the spread below it."""

    name = "gap"
    description = "the split of the sorted scores with the largest relative gap (unsupervised)"

    def __init__(
        self,
        num_forgotten: int | None = None,
        calibration: Calibration | None = None,
        gap: float = 2.0,
        max_share: float = 0.5,
    ) -> None:
        super().__init__(num_forgotten, calibration)
        self.gap, self.max_share = gap, max_share

    @property
    def source(self) -> str:
        return f"none (unsupervised, largest gap >= {self.gap:g} spreads)"

    def split(self, z: np.ndarray) -> tuple[int, float]:
        """``(m, ratio)``: the best number of classes above the gap and that gap's ratio."""
        s = np.sort(z)[::-1]
        best = (0, 0.0)
        for m in range(1, max(1, int(self.max_share * len(s))) + 1):
            rest = s[m:]
            if len(rest) < 2:
                break
            spread = max(MAD_SCALE * np.median(np.abs(rest - np.median(rest))), self._floor)
            ratio = (s[m - 1] - s[m]) / spread
            if ratio > best[1]:
                best = (m, float(ratio))
        return best

    _floor = 1e-3

    def _decide(self, t: np.ndarray, feats: ClassFeatures) -> list[int]:
        idx = np.nonzero(feats.candidates)[0]
        z = t[idx, feats.main]
        self._floor = 1e-3 if feats.absolute is None else 0.25 * feats.absolute
        m, ratio = self.split(z)
        if m == 0 or ratio < self.gap:
            return []
        return idx[np.argsort(-z, kind="stable")][:m].tolist()


class Threshold(Decider):
    name = "threshold"
    description = "classes past a cut: the attack's frozen one, else a robust z-score of 3.5"

    def __init__(
        self,
        num_forgotten: int | None = None,
        calibration: Calibration | None = None,
        z: float = 3.5,
        cut: float | None = None,
    ) -> None:
        super().__init__(num_forgotten, calibration)
        self.z, self.cut = z, cut
        self._used = ""

    @property
    def source(self) -> str:
        return f"none ({self._used or 'fixed cut'})"

    def _decide(self, t: np.ndarray, feats: ClassFeatures) -> list[int]:
        if self.cut is not None or feats.absolute is not None:
            cut = self.cut if self.cut is not None else feats.absolute
            self._used = f"fixed cut: score > {cut:g}"
        else:
            cut = self.z
            self._used = f"robust outlier rule: z > {cut:g}"
        z = np.nan_to_num(t[:, feats.main], nan=-np.inf)
        return [int(c) for c in np.nonzero(feats.candidates & (z > cut))[0]]


class Youden(Decider):
    name = "youden"
    description = "the cut that maximises Youden's J on shadow runs (calibrated)"
    needs_calibration = True

    def __init__(
        self, num_forgotten: int | None = None, calibration: Calibration | None = None
    ) -> None:
        super().__init__(num_forgotten, calibration)
        self.threshold: float | None = None

    def fit(self, main: int) -> float:
        from sklearn.metrics import roc_curve

        assert self.calibration is not None
        x, y = self.calibration.labelled_rows()
        if y.min() == y.max():
            raise ConfigError(
                "shadow runs hold only one kind of class", "add forgotten and null shadows"
            )
        fpr, tpr, thr = roc_curve(y, x[:, main])
        best = int(np.argmax(tpr - fpr))
        self.threshold = (
            float(thr[best]) if np.isfinite(thr[best]) else float(np.nanmax(x[:, main]))
        )
        return self.threshold

    @property
    def source(self) -> str:
        assert self.calibration is not None
        extra = f", threshold z >= {self.threshold:.3g}" if self.threshold is not None else ""
        return f"{self.calibration.source}{extra}"

    def _decide(self, t: np.ndarray, feats: ClassFeatures) -> list[int]:
        thr = self.threshold if self.threshold is not None else self.fit(feats.main)
        z = np.nan_to_num(t[:, feats.main], nan=-np.inf)
        return [int(c) for c in np.nonzero(feats.candidates & (z >= thr))[0]]


class Tree(Decider):
    name = "tree"
    description = "a decision tree fitted to shadow runs' per-class features (calibrated)"
    needs_calibration = True

    def __init__(
        self,
        num_forgotten: int | None = None,
        calibration: Calibration | None = None,
        max_depth: int = 3,
    ) -> None:
        super().__init__(num_forgotten, calibration)
        self.max_depth = max_depth
        self.model: Any = None

    def fit(self) -> Any:
        from sklearn.tree import DecisionTreeClassifier

        assert self.calibration is not None
        x, y = self.calibration.labelled_rows()
        self.model = DecisionTreeClassifier(
            max_depth=self.max_depth, class_weight="balanced", random_state=0
        ).fit(np.nan_to_num(x), y)
        return self.model

    @property
    def source(self) -> str:
        assert self.calibration is not None
        return f"{self.calibration.source}, tree depth {self.max_depth}"

    def _decide(self, t: np.ndarray, feats: ClassFeatures) -> list[int]:
        model = self.model or self.fit()
        idx = np.nonzero(feats.candidates)[0]
        pred = model.predict(np.nan_to_num(t[idx]))
        return idx[pred == 1].tolist()


DECIDERS: dict[str, type[Decider]] = {
    d.name: d for d in (TopM, KMeansGap, LargestGap, Threshold, Youden, Tree)
}


def make_decider(
    decider: str | Decider,
    *,
    num_forgotten: int | None = None,
    calibration: Calibration | None = None,
    **args: float,
) -> Decider:
    """A decider by name (or pass one through); ``args``: its constants (z, gap, cut)."""
    if isinstance(decider, Decider):
        return decider
    try:
        cls = DECIDERS[decider]
    except KeyError:
        raise ConfigError(
            unknown_name("decider", decider, list(DECIDERS)), "pick one of those"
        ) from None
    return cls(num_forgotten=num_forgotten, calibration=calibration, **args)
