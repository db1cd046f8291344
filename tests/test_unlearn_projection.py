"""Kodge et al.'s gradient-free projection (``projection``) on real digits: each layer's weight
projected off the forget-only part of its input space."""

from __future__ import annotations

import pytest
import torch

import unleak.unlearning.projection  # noqa: F401
from unleak.evaluation import efficacy
from unleak.unlearning import run_unlearning
from unleak.unlearning.projection import (
    ProjectionConfig,
    layer_inputs,
    projected_layers,
    sample_images,
    scaled_space,
    spaces,
    update_matrix,
)


@pytest.fixture(scope="module")
def forgot_3(digits, digits_original):
    retain, fs = digits.train.split_classes([3])
    return run_unlearning(
        "projection", digits_original.model, retain, fs, dataset="digits", seed=1
    ).model


def test_projection_forgets_one_class_and_keeps_the_rest(digits, digits_original, forgot_3):
    before = efficacy(digits_original.model, digits.test, [3])
    eff = efficacy(forgot_3, digits.test, [3])
    assert before.forget_acc >= 0.9  # measured 0.978
    assert eff.forget_acc <= 0.1  # measured 0.000
    assert eff.retain_acc >= before.retain_acc - 0.03  # measured 0.993 -> 0.988


def test_each_weight_is_w_times_the_update_it_computed(digits, digits_original, forgot_3):
    original = digits_original.model
    retain, fs = digits.train.split_classes([3])
    config = ProjectionConfig(seed=1)
    found = spaces(original, retain, fs, config)
    # every conv and linear layer: the first (pixels) and the head too, as the authors'
    assert "features.0" in found and "fc" in found and len(found) == 7
    got = dict(forgot_3.named_modules())
    before = dict(original.named_modules())
    for name, (mr, mf) in found.items():
        for m in (mr, mf):
            assert torch.allclose(m, m.T, atol=1e-10), name
            eig = torch.linalg.eigvalsh(m)
            # importance alpha r / ((alpha - 1) r + 1) lies in [0, 1]: M shrinks, never grows
            assert eig.min() >= -1e-8 and eig.max() <= 1 + 1e-8, name
        p = update_matrix(mr, mf)
        assert torch.allclose(p, torch.eye(len(mf), dtype=mf.dtype) - mf + mf @ mr)
        w = before[name].weight.detach().double().flatten(1)
        want = (w @ p.T).float().reshape(got[name].weight.shape)
        assert torch.allclose(got[name].weight, want, atol=1e-6), name
        assert not torch.allclose(got[name].weight, before[name].weight), name


def test_the_scaled_space_is_the_authors_svd_formula(digits, digits_original):
    """eigh of the Gram matrix stands in for their SVD: the same ``U diag(l) U^T``."""
    original = digits_original.model
    retain, fs = digits.train.split_classes([3])
    r, _ = sample_images(retain, fs, 900, 1)
    layers = projected_layers(original, r.x[:2])
    inputs = layer_inputs(original, r.x, layers, 10000, 0)
    for name in ("features.3", "fc"):  # a conv's patches and the head's features
        a, alpha = inputs[name], 100.0
        u, s, _ = torch.linalg.svd(a.T, full_matrices=False)
        ratio = s**2 / (s**2).sum()
        want = (u * (alpha * ratio / ((alpha - 1) * ratio + 1))) @ u.T
        assert torch.allclose(scaled_space(a, alpha), want, atol=1e-8), name


def test_nothing_but_the_layer_weights_changes(digits, digits_original, forgot_3):
    original = digits_original.model
    edited = {f"{n}.weight" for n in projected_layers(original, digits.test.x[:2])}
    new = forgot_3.state_dict()
    for name, value in original.state_dict().items():
        # biases, batch-norm affine and running statistics untouched
        assert torch.equal(value, new[name]) == (name not in edited), name


def test_a_larger_forget_importance_forgets_more(digits, digits_original):
    """Three classes at once: the authors' alpha_f 3 (tuned for one class) forgets part."""
    retain, fs = digits.train.split_classes([2, 5, 8])
    eff = {
        a: efficacy(
            run_unlearning(
                "projection", digits_original.model, retain, fs, {"alpha_f": a}, seed=1
            ).model,
            digits.test,
            [2, 5, 8],
        )
        for a in (3.0, 30.0)
    }
    # measured 0.978 -> 0.604 at 3, 0.097 at 30; retained 0.997 at both
    assert eff[30.0].forget_acc <= eff[3.0].forget_acc - 0.3
    assert eff[30.0].retain_acc >= eff[3.0].retain_acc - 0.02
