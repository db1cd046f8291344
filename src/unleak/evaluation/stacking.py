"""The stacked verdict: per class, the probability that it was removed, from every attack's
evidence read against your null models (docs/protocol.md, "The verdict's third round").

Each class c of a model gets one row of features, given the model's null models:

- ``ATTACK:FEATURE:z``: the feature's null z (:func:`~unleak.evaluation.model_evidence.null_z`)
  as ``sign(z) log(1 + |z|)``: how far c stands from the same class on your nulls, compressed so
  that a method moving the whole model hundreds of deviations does not drown the rest;
- ``ATTACK:FEATURE:rel``: that z's robust z among the model's K classes, clipped to +-20 and
  divided by 5: whether c also stands out from the model's other classes;
- ``ATTACK:named``: the attack names c at its own frozen rule (0 or 1);
- ``ATTACK:share``: the share of your nulls the attack flags (how much its word is worth on
  models like yours).

A frozen score fitted on the development populations by ``benchmarks/verdict.py select`` maps
the row to a probability: a :class:`Stack` (a logistic regression's weights) or, since the ninth
round, :class:`Trees` (boosted regression trees, read here without scikit-learn). An attack that
failed or did not run contributes zeros and a share of 1 (a witness that said nothing).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.special import expit

from unleak.attacks.deciders import robust_z
from unleak.evaluation.model_evidence import Evidence, null_z

REL_CLIP = 20.0
REL_SCALE = 5.0

_EVERY = {  # per attack, the per-class features its rows carry
    "probe-reach": ("rarity", "reach"),
    "wb-inversion": ("deficit", "entropy", "confidence", "steps_to_50", "steps_to_90"),
    "bb-genetic": ("deficit", "entropy", "confidence", "best_log_prob"),
    "param-diff": ("gain",),
}


def _columns(features: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    out = [f"{a}:{f}:{kind}" for a, fs in features.items() for f in fs for kind in ("z", "rel")]
    return tuple(out + [f"{a}:{kind}" for a in features for kind in ("named", "share")])


# The declared candidate feature sets (docs/protocol.md, third round).
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "core": _columns(
        {"probe-reach": ("rarity",), "wb-inversion": ("steps_to_90",), "bb-genetic": ("entropy",)}
    ),
    "voters": _columns({a: fs for a, fs in _EVERY.items() if a != "param-diff"}),
    "all": _columns(_EVERY),
    # the eleventh round's: every attack's and proto-transfer's, a reading against the original
    "proto": _columns({**_EVERY, "proto-transfer": ("drop", "confidence")}),
}


def class_features(
    target: Evidence, nulls: list[Evidence], k: int, names: tuple[str, ...]
) -> np.ndarray:
    """The (k, len(names)) feature table of ``target``'s classes against ``nulls``."""
    cache: dict[str, np.ndarray] = {}

    def z_of(spec: str) -> np.ndarray:
        if spec not in cache:
            z = null_z(target, nulls, spec)
            ok = z is not None and z.shape == (k,)
            cache[spec] = np.nan_to_num(z) if ok else np.zeros(k)
        return cache[spec]

    cols = []
    for name in names:
        parts = name.split(":")
        if len(parts) == 3:
            z = z_of(f"{parts[0]}:{parts[1]}")
            if parts[2] == "z":
                cols.append(np.sign(z) * np.log1p(np.abs(z)))
            else:
                rel = np.nan_to_num(robust_z(z, np.ones(k, bool)))
                cols.append(np.clip(rel, -REL_CLIP, REL_CLIP) / REL_SCALE)
            continue
        attack, kind = parts
        answer = next((a for a in target.answers.values() if a.attack == attack), None)
        if kind == "named":
            col = np.zeros(k)
            if answer is not None:
                col[[c for c in answer.named if 0 <= c < k]] = 1.0
            cols.append(col)
        else:
            refs = [] if answer is None else [e.answers.get(answer.label) for e in nulls]
            refs = [r for r in refs if r is not None]
            share = sum(bool(r.named) for r in refs) / len(refs) if refs else 1.0
            cols.append(np.full(k, share))
    return np.stack(cols, axis=1) if cols else np.zeros((k, 0))


def _sigmoid(logit: np.ndarray) -> np.ndarray:
    # scipy's expit, which scikit-learn's classifiers use: numpy's SIMD exp can differ from it
    # by an ulp on some CPUs, and a frozen score should give the fitted model's bits
    return expit(np.asarray(logit, float))


class _Score(ABC):
    """What every frozen score shares: its columns, and reading them off a model's evidence."""

    features: tuple[str, ...]

    @abstractmethod
    def of(self, x: np.ndarray) -> np.ndarray:
        """The probability of each row of a feature table whose columns are ``features``."""

    def probability(self, target: Evidence, nulls: list[Evidence], k: int) -> np.ndarray:
        """Per class of ``target``, the probability that it was removed."""
        return self.of(class_features(target, nulls, k, self.features))

    def attacks(self) -> list[str]:
        """The attacks whose evidence the score reads, in order."""
        return list(dict.fromkeys(f.split(":")[0] for f in self.features))


@dataclass(frozen=True)
class Stack(_Score):
    """A frozen logistic model over :func:`class_features` columns."""

    features: tuple[str, ...]
    weights: tuple[float, ...]
    intercept: float

    def of(self, x: np.ndarray) -> np.ndarray:
        """The probability of each row of a feature table whose columns are ``features``."""
        return _sigmoid(x @ np.asarray(self.weights, float) + self.intercept)

    def describe(self, cut: float) -> str:
        return (
            f"a logistic score of {len(self.features)} per-class features of "
            f"{', '.join(self.attacks())} (each read against your nulls) at least {cut:g}"
        )


@dataclass(frozen=True)
class Trees(_Score):
    """A frozen ensemble of boosted regression trees over :func:`class_features` columns: the
    probability is the sigmoid of ``baseline`` plus one leaf value per tree.

    Each tree is a table of nodes, one row ``(feature, threshold, left, right, value)`` per node,
    the root first: a row with ``feature < 0`` is a leaf worth ``value``; otherwise a row goes
    to ``left`` when its column ``feature`` is at most ``threshold``, else to ``right``. (The
    rows' features are finite: :func:`class_features` zeroes what an attack did not measure.)
    """

    features: tuple[str, ...]
    baseline: float
    trees: tuple[tuple[tuple[float, ...], ...], ...]

    @cached_property
    def _table(self) -> np.ndarray:
        # every tree's nodes in one (trees, most nodes, 5) array, short trees padded with leaves
        most = max((len(t) for t in self.trees), default=1)
        table = np.zeros((len(self.trees), most, 5))
        table[:, :, 0] = -1
        for i, t in enumerate(self.trees):
            table[i, : len(t)] = t
        return table

    def of(self, x: np.ndarray) -> np.ndarray:
        """The probability of each row of a feature table whose columns are ``features``."""
        x = np.asarray(x, float)
        t = self._table
        feat, thr = t[:, :, 0].astype(int), t[:, :, 1]
        left, right, value = t[:, :, 2].astype(int), t[:, :, 3].astype(int), t[:, :, 4]
        tree = np.arange(len(t))[:, None]
        rows = np.arange(len(x))[None, :]
        at = np.zeros((len(t), len(x)), int)  # every row's node in every tree, walked together
        for _ in range(t.shape[1]):  # a path is never longer than the tree
            f = feat[tree, at]
            inner = f >= 0
            if not inner.any():
                break
            go_left = x[rows, np.maximum(f, 0)] <= thr[tree, at]
            at = np.where(inner, np.where(go_left, left[tree, at], right[tree, at]), at)
        raw = np.full(len(x), float(self.baseline))
        for leaf in value[tree, at]:  # tree by tree, as scikit-learn adds them
            raw += leaf
        return _sigmoid(raw)

    def describe(self, cut: float) -> str:
        return (
            f"a boosted-tree score ({len(self.trees)} trees) of {len(self.features)} per-class "
            f"features of {', '.join(self.attacks())} (each read against your nulls) at least "
            f"{cut:g}"
        )


def score_from_dict(d: dict) -> Stack | Trees:
    """A frozen score from its JSON form (``dataclasses.asdict`` of it)."""
    if "trees" in d:
        trees = tuple(tuple(tuple(float(v) for v in node) for node in t) for t in d["trees"])
        return Trees(tuple(d["features"]), float(d["baseline"]), trees)
    return Stack(tuple(d["features"]), tuple(d["weights"]), d["intercept"])


FITTED_NULLS = 24  # the development audits' default null models, every one of them


def caveat(stack: Stack | Trees, target: Evidence, nulls: list[Evidence]) -> str:
    """A warning when ``target`` is judged far from how the stack was fitted (fewer nulls, or
    attacks missing); empty otherwise."""
    ran = {a.attack for a in target.answers.values()}
    missing = [a for a in stack.attacks() if a not in ran]
    if len(nulls) >= FITTED_NULLS and not missing:
        return ""
    here = f"{len(nulls)} null models" + (f", without {', '.join(missing)}" if missing else "")
    return (
        f"removal score read on {here}; it was fitted on {FITTED_NULLS} nulls and every one of "
        f"{', '.join(stack.attacks())}: trust it less"
    )
