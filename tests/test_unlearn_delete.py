"""DELETE (``delete``): the original distilled on the forget data, its logit of the forgotten class
masked out, on real digits; the masked-teacher KL on a tiny batch; where the forgotten images go."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import unleak.unlearning.delete  # noqa: F401  (registers the method)
from unleak.evaluation import efficacy
from unleak.models.inference import predict_logits
from unleak.unlearning import run_unlearning
from unleak.unlearning.delete import DELETEConfig, delete_loss, masked_teacher


@pytest.fixture(scope="module")
def delete_3(digits, digits_original):
    retain, fs = digits.train.split_classes([3])
    return run_unlearning("delete", digits_original.model, retain, fs, dataset="digits", seed=1)


def test_delete_forgets_one_class_and_keeps_the_rest(digits, digits_original, delete_3):
    # the authors' 20 epochs over 137 forget images in batches of 128: 2 steps an epoch
    assert delete_3.history.steps == 40
    before = efficacy(digits_original.model, digits.test, [3])
    eff = efficacy(delete_3.model, digits.test, [3])
    assert before.forget_acc >= 0.9  # measured 0.978
    assert eff.forget_acc <= 0.25  # measured 0.065
    assert eff.retain_acc >= before.retain_acc - 0.03  # measured 0.993 -> 0.988


def test_delete_sends_forget_images_to_the_originals_next_choice(digits, digits_original, delete_3):
    """The dark knowledge: a forgotten image goes to the class the original ranked first once its
    own class is masked, and the forgotten class's probability collapses."""
    x = digits.test.x[digits.test.y == 3]
    ref = predict_logits(digits_original.model, x)
    ref[:, 3] = -1e10
    out = predict_logits(delete_3.model, x)
    assert float((out.argmax(1) == ref.argmax(1)).float().mean()) >= 0.5  # measured 0.76
    assert float(out.softmax(1)[:, 3].mean()) <= 0.25  # measured 0.98 -> 0.06


def test_delete_loss_is_kl_to_the_masked_renormalised_teacher():
    teacher = nn.Linear(3, 4, bias=False)
    student = nn.Linear(3, 4, bias=False)
    torch.manual_seed(0)
    x, y = torch.randn(2, 3), torch.tensor([1, 2])
    t_logits = teacher(x).detach()
    target = masked_teacher(t_logits, y, 1e10).softmax(1)
    # no mass on each row's own class, the rest the teacher's softmax renormalised
    assert torch.all(target[torch.arange(2), y] == 0)
    for i, c in enumerate(y.tolist()):
        rest = [k for k in range(4) if k != c]
        assert torch.allclose(target[i, rest], t_logits[i, rest].softmax(0), atol=1e-6)
    assert torch.allclose(target.sum(1), torch.ones(2))
    value, logits = delete_loss(teacher, DELETEConfig(), (1, 2))(student, x, y)
    expected = (target * (target.clamp_min(1e-30).log() - F.log_softmax(logits, 1))).sum() / 2
    assert float(value.detach()) == pytest.approx(float(expected.detach()), abs=1e-6)
    # every forgotten class masked on request: class 2 loses its mass in row 0 as well
    both = masked_teacher(t_logits, y, 1e10, torch.tensor([1, 2])).softmax(1)
    assert torch.all(both[:, [1, 2]] == 0)
    assert torch.allclose(both[:, [0, 3]], t_logits[:, [0, 3]].softmax(1), atol=1e-6)
