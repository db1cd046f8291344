"""Property tests (hypothesis) of the deciders, the screening criteria and the feature builders:
permuting classes permutes the answer, constant scores mean nothing was forgotten, any finite
input gives an answer, and NaN or infinity gives a one-line error."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from unleak.attacks import Calibration, ClassFeatures, Queries, make_decider
from unleak.attacks.deciders import robust_z, table
from unleak.attacks.probe_reach import reach
from unleak.attacks.screening import screening_features
from unleak.errors import ConfigError, ModelError

K = st.integers(min_value=3, max_value=12)
FINITE = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
UNSUPERVISED = ("kmeans", "gap", "threshold")
SETTINGS = settings(max_examples=60, deadline=None)


@st.composite
def evidence(draw, absolute: bool | None = None):
    k = draw(K)
    f = draw(st.integers(min_value=1, max_value=3))
    values = draw(arrays(np.float64, (k, f), elements=FINITE))
    cut = (
        draw(st.sampled_from([None, 1.0, 2.0])) if absolute is None else (2.0 if absolute else None)
    )
    return ClassFeatures(values, [f"f{i}" for i in range(f)], np.ones(k, bool), absolute=cut)


def _permuted(feats: ClassFeatures, perm: np.ndarray) -> ClassFeatures:
    return ClassFeatures(
        feats.values[perm], feats.names, feats.candidates[perm], absolute=feats.absolute
    )


@SETTINGS
@given(evidence(), st.sampled_from(UNSUPERVISED), st.randoms(use_true_random=False))
def test_permuting_classes_permutes_the_answer(feats, name, rnd):
    k = feats.num_classes
    perm = np.array(rnd.sample(range(k), k))
    if len(np.unique(feats.score)) < k:
        return  # ties: which of two equal classes a decider takes is arbitrary by design
    predicted, scores = make_decider(name).decide(feats)
    again, again_scores = make_decider(name).decide(_permuted(feats, perm))
    inverse = np.argsort(perm)
    # row i of the permuted evidence is class perm[i] of the original
    assert sorted(int(perm[c]) for c in again) == sorted(predicted)
    np.testing.assert_allclose(np.asarray(again_scores)[inverse], scores, rtol=1e-9, atol=1e-9)


@SETTINGS
@given(K, FINITE, st.sampled_from(UNSUPERVISED), st.sampled_from([None, 1.0, 2.0]))
def test_constant_scores_mean_nothing_was_forgotten(k, value, name, cut):
    feats = ClassFeatures(np.full((k, 1), value), ["s"], np.ones(k, bool), absolute=cut)
    assert make_decider(name).decide(feats)[0] == []


@SETTINGS
@given(evidence(), st.sampled_from([*UNSUPERVISED, "topm"]))
def test_any_finite_evidence_gives_an_answer(feats, name):
    m = 1 if name == "topm" else None
    predicted, scores = make_decider(name, num_forgotten=m).decide(feats)
    assert all(0 <= c < feats.num_classes for c in predicted)
    assert len(predicted) < feats.num_classes and len(scores) == feats.num_classes
    if name == "topm":
        assert len(predicted) == 1


@SETTINGS
@given(evidence(absolute=False), evidence(absolute=False))
def test_calibrated_deciders_answer_any_finite_evidence(a, b):
    k = min(a.num_classes, b.num_classes)
    a = ClassFeatures(a.values[:k, :1], ["s"], np.ones(k, bool))
    b = ClassFeatures(b.values[:k, :1], ["s"], np.ones(k, bool))
    cal = Calibration("synthetic", [(a, (0,)), (b, ())])
    for name in ("youden", "tree"):
        predicted, _ = make_decider(name, calibration=cal).decide(a)
        assert all(0 <= c < k for c in predicted) and len(predicted) < k


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_scores_are_refused(bad):
    values = np.zeros((5, 1))
    values[2, 0] = bad
    with pytest.raises(ConfigError, match=r"NaN or infinity in feature\(s\) \['s'\]"):
        ClassFeatures(values, ["s"], np.ones(5, bool))

    def answers(x):
        return torch.full((len(x), 5), bad)

    with pytest.raises(ModelError, match="non-finite values"):
        Queries(answers, (1, 4, 4), 5, budget=10).query(torch.rand(2, 1, 4, 4))


@st.composite
def profiles(draw):
    k = draw(K)
    logits = draw(arrays(np.float64, (k, k), elements=st.floats(-30, 30)))
    return torch.tensor(logits).softmax(1).float()


@SETTINGS
@given(profiles(), st.sampled_from(["threshold", "entropy", "confidence"]), st.randoms())
def test_screening_features_follow_the_classes(probs, criterion, rnd):
    k = probs.shape[0]
    feats = screening_features(probs, criterion, {}, 0, {})
    assert (feats.values[:, feats.names.index("deficit")] >= 0).all()
    assert (feats.values[:, feats.names.index("entropy")] <= np.log(k) + 1e-4).all()
    perm = torch.tensor(rnd.sample(range(k), k))
    moved = screening_features(probs[perm][:, perm], criterion, {}, 0, {})
    np.testing.assert_allclose(moved.values, feats.values[perm.numpy()], atol=1e-4)


@SETTINGS
@given(arrays(np.float64, st.tuples(st.integers(1, 50), K), elements=st.floats(-50, 50)))
def test_reach_is_zero_exactly_for_classes_at_even_odds_somewhere(logits):
    log_probs = torch.tensor(logits).log_softmax(1)
    r = reach(log_probs).numpy()
    assert (r >= 0).all() and np.isfinite(r).all()
    even = log_probs.exp().max(0).values.numpy() >= 0.5
    assert np.allclose(r[even], 0.0, atol=1e-5) and (r[~even] > 0).all()
    perm = np.random.default_rng(0).permutation(logits.shape[1])
    np.testing.assert_allclose(reach(log_probs[:, perm]).numpy(), r[perm], atol=1e-5)


@SETTINGS
@given(arrays(np.float64, st.integers(2, 20), elements=FINITE))
def test_robust_z_and_the_decision_table_are_finite(values):
    mask = np.ones(len(values), bool)
    z = robust_z(values, mask)
    assert np.isfinite(z).all()
    t, names = table(ClassFeatures(values[:, None], ["s"], mask))
    assert np.isfinite(t).all() and names[-2:] == ["rank", "gap"]
