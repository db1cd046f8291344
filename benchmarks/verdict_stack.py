"""The stacked candidates (docs/protocol.md, "The verdict's third round", refitted in the
fourth; the seventh adds the training bound to the grid, the ninth a boosted-tree family beside
the logistic one): every class of every development model as a row of features against its
nulls, the fits, and the choice leave one development population out.

Used by ``python -m benchmarks.verdict select``; nothing here reads a test population.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from unleak.evaluation.stacking import FEATURE_SETS, Stack, Trees, class_features
from unleak.evaluation.verdict import lost_retained

C_GRID = (0.01, 0.1, 1.0)
CUTS = (0.3, 0.5, 0.7)
TRAIN_FORGET_MAX = 0.5  # an unlearned model trains the fit when it kept at most this much
# the seventh round's grid adds 1.0, every sound model: one that kept its forget set labels its
# classes removed too, so the fit may learn what the attacks see of a request left in place
TRAIN_MAX = (TRAIN_FORGET_MAX, 1.0)
EVERY = FEATURE_SETS["proto"]  # every candidate's columns are a subset of these
# the ninth round's boosted trees (declared settings; scikit-learn's defaults otherwise)
TREE_SETTINGS = {"learning_rate": 0.1, "max_iter": 200, "min_samples_leaf": 80, "random_state": 0}


def rounded(x: float) -> float:
    """Weights are frozen in code at this precision (the selection file keeps the same)."""
    return float(f"{x:.6g}") if math.isfinite(x) else 0.0


@dataclass
class ModelRows:
    """One model's class rows: features (k, len(EVERY)), truth (k,), whether it is a null."""

    x: np.ndarray
    y: np.ndarray
    null: bool
    forget_acc: float
    wrecked: bool = False  # by labels: it kept under half the original's retained accuracy


@dataclass(frozen=True)
class Candidate:
    features: str  # a FEATURE_SETS key
    c: float  # the logistic family's inverse regularisation (0 for trees)
    cut: float
    train_max: float = TRAIN_FORGET_MAX  # forget-set accuracy up to which a model trains the fit
    family: str = "logistic"  # or "trees" (the ninth round's)

    def key(self) -> tuple:
        # declared ties: the logistic family, fewer features, smaller C, higher cut, then the
        # earlier rounds' bound
        return (
            self.family != "logistic",
            len(FEATURE_SETS[self.features]),
            self.c,
            -self.cut,
            self.train_max,
        )

    def fitted(self) -> tuple:
        """What the fit depends on: candidates that differ only in their cut share one fit."""
        return (self.family, self.features, self.c, self.train_max)


def forget_acc(truth: dict[str, Any]) -> float:
    """A model's mean test accuracy on its forget set (truth.json's per-class accuracy)."""
    return float(np.mean([truth["per_class"][c] for c in truth["forget"]]))


def model_rows(units: list[Any]) -> list[ModelRows]:
    """Rows of every unlearned model and every null (judged with the unit's other nulls)."""
    out = []
    for u in units:
        for name, ev in u.unlearned.items():
            t = u.truth[name]
            y = np.isin(np.arange(u.k), t["forget"]).astype(int)
            fa = forget_acc(t)
            wrecked = lost_retained(t["per_class"], u.original, t["forget"])
            x = class_features(ev, u.nulls, u.k, EVERY)
            out.append(ModelRows(x, y, False, fa, wrecked))
        for i, e in enumerate(u.nulls):
            rest = u.nulls[:i] + u.nulls[i + 1 :]
            x = class_features(e, rest, u.k, EVERY)
            out.append(ModelRows(x, np.zeros(u.k, int), True, 0.0))
    return out


def _cols(features: str) -> list[int]:
    return [EVERY.index(f) for f in FEATURE_SETS[features]]


def frozen_trees(model: HistGradientBoostingClassifier, features: tuple[str, ...]) -> Trees:
    """The fitted binary classifier's trees as :class:`Trees` rows (scikit-learn keeps them in
    ``_predictors``, one per iteration, and the starting log-odds in ``_baseline_prediction``;
    ``tests/test_protocol.py`` checks the frozen score against ``predict_proba``)."""
    trees = []
    for (predictor,) in model._predictors:
        nodes = predictor.nodes
        trees.append(
            tuple(
                (
                    -1.0 if n["is_leaf"] else float(n["feature_idx"]),
                    float(n["num_threshold"]),
                    float(n["left"]),
                    float(n["right"]),
                    float(n["value"]),
                )
                for n in nodes
            )
        )
    return Trees(features, float(model._baseline_prediction.ravel()[0]), tuple(trees))


def fit(rows: list[ModelRows], cand: Candidate) -> Stack | Trees:
    cols = _cols(cand.features)
    # a wrecked model gives no label of what removal looks like either (fourth round)
    train = [r for r in rows if r.null or (r.forget_acc <= cand.train_max and not r.wrecked)]
    x = np.concatenate([r.x[:, cols] for r in train])
    y = np.concatenate([r.y for r in train])
    if cand.family == "trees":
        return frozen_trees(
            HistGradientBoostingClassifier(**TREE_SETTINGS).fit(x, y), FEATURE_SETS[cand.features]
        )
    lr = LogisticRegression(C=cand.c, max_iter=5000).fit(x, y)
    return Stack(
        FEATURE_SETS[cand.features],
        tuple(rounded(w) for w in lr.coef_[0]),
        rounded(float(lr.intercept_[0])),
    )


def probabilities(stack: Stack | Trees, rows: list[ModelRows]) -> list[np.ndarray]:
    """Each model's per-class probabilities, read in one pass over all the rows."""
    cols = [EVERY.index(f) for f in stack.features]
    p = stack.of(np.concatenate([r.x[:, cols] for r in rows]))
    return np.split(p, np.cumsum([len(r.x) for r in rows])[:-1])


def score(rows: list[ModelRows], probs: list[np.ndarray], cut: float) -> dict[str, int]:
    """Exact-set hits on the unlearned rows, false alarms (any class removed) on the nulls, for
    the rows' probabilities ``probs`` (:func:`probabilities`) read at ``cut``."""
    out = {"hits": 0, "models": 0, "false_alarms": 0, "nulls": 0}
    for r, p in zip(rows, probs, strict=True):
        said = p >= cut
        if r.null:
            out["nulls"] += 1
            out["false_alarms"] += bool(said.any())
        else:
            out["models"] += 1
            out["hits"] += bool((said == r.y.astype(bool)).all())
    return out


def _add(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {k: a.get(k, 0) + b[k] for k in b}


def lopo(
    by_pop: dict[str, list[ModelRows]], cands: list[Candidate]
) -> dict[Candidate, dict[str, int]]:
    """Per candidate: fit on all populations but one, score the one; pooled over the held-out
    ones (one fit per fold for the candidates that share it)."""
    total: dict[Candidate, dict[str, int]] = {c: {} for c in cands}
    for held in by_pop:
        train = [r for p, rs in by_pop.items() if p != held for r in rs]
        probs = {}
        for cand in cands:
            if cand.fitted() not in probs:
                probs[cand.fitted()] = probabilities(fit(train, cand), by_pop[held])
            s = score(by_pop[held], probs[cand.fitted()], cand.cut)
            total[cand] = _add(total[cand], s)
    return total


def candidates() -> list[Candidate]:
    logistic = [Candidate(*x) for x in itertools.product(FEATURE_SETS, C_GRID, CUTS, TRAIN_MAX)]
    # the ninth round's trees on all features; the eleventh round's on proto's too
    trees = [
        Candidate(f, 0.0, cut, b, "trees")
        for f, cut, b in itertools.product(("all", "proto"), CUTS, TRAIN_MAX)
    ]
    return logistic + trees


def choose(by_pop: dict[str, list[ModelRows]]) -> tuple[Candidate, list[dict[str, Any]]]:
    """The declared choice on ``by_pop``: the highest pooled leave-one-population-out hit rate
    with at most 5% false alarms; ties: lower false alarms, then Candidate.key."""
    table = list(lopo(by_pop, candidates()).items())
    ok = [(c, t) for c, t in table if t["false_alarms"] <= 0.05 * t["nulls"]]
    best, _ = min(
        ok,
        key=lambda ct: (
            -ct[1]["hits"] / ct[1]["models"],
            ct[1]["false_alarms"] / ct[1]["nulls"],
            ct[0].key(),
        ),
    )
    return best, [{"candidate": c.__dict__, **t} for c, t in table]


def held_out(by_pop: dict[str, list[ModelRows]]) -> dict[str, Any]:
    """The stacked family's procedure once per development population: choose on the others
    (their own leave-one-out), refit on them, score the one held out."""
    total: dict[str, int] = {}
    chosen = {}
    for held in by_pop:
        rest = {p: rs for p, rs in by_pop.items() if p != held}
        cand, _ = choose(rest)
        stack = fit([r for rs in rest.values() for r in rs], cand)
        s = score(by_pop[held], probabilities(stack, by_pop[held]), cand.cut)
        chosen[held] = {"candidate": cand.__dict__, **s}
        total = _add(total, s)
    return {"pooled": total, "by_held_out": chosen}
