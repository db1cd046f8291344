"""Class-discriminative pruning (``cdp``) on digits: the channels that single out a forgotten
class are zeroed, fine-tuning on the retained data does the rest, and the scores are the
authors' TF-IDF."""

from __future__ import annotations

import copy

import torch
from torch import nn

import unleak.unlearning.cdp  # noqa: F401  (registers the method)
from unleak.evaluation import efficacy
from unleak.unlearning import run_unlearning
from unleak.unlearning.cdp import channel_layers, class_activations, prune_class, tf_idf


def test_cdp_forgets_the_classes_and_keeps_the_rest(digits, digits_original):
    retain, fs = digits.train.split_classes([1, 7])
    before = efficacy(digits_original.model, digits.test, [1, 7])
    run = run_unlearning("cdp", digits_original.model, retain, fs, dataset="digits", seed=1)
    eff = efficacy(run.model, digits.test, [1, 7])
    assert before.forget_acc >= 0.9  # measured 0.989
    assert eff.forget_acc <= 0.2  # measured 0.022
    assert eff.retain_acc >= before.retain_acc - 0.02  # measured 0.992 -> 0.997
    assert run.history.stopped == "completed" and len(run.history.epochs) == 10


def test_the_pruned_channels_are_the_forgotten_class_s_most_discriminative(digits, digits_original):
    model = copy.deepcopy(digits_original.model)
    data = digits.train
    layers = channel_layers(model, data.x[:2])
    assert layers and all(isinstance(m, nn.Conv2d) for m in layers.values())
    scores = {n: tf_idf(a, 3) for n, a in class_activations(model, data, layers).items()}
    k = prune_class(model, data, layers, 3, 0.05)
    n = sum(len(s) for s in scores.values())
    assert k == int(0.05 * n)
    zeroed = torch.cat(
        [m.weight.flatten(1).abs().sum(1).eq(0) for m in layers.values()]
    )  # whole filters
    flat = torch.cat(list(scores.values()))
    assert int(zeroed.sum()) == k
    assert float(flat[zeroed].min()) >= float(flat[~zeroed].max())
    # the pruned model answers class 3 worse than the original, before any fine-tuning
    x3 = digits.test.x[digits.test.y == 3]
    with torch.no_grad():
        was = digits_original.model.eval()(x3).argmax(1).eq(3).float().mean()
        now = model.eval()(x3).argmax(1).eq(3).float().mean()
    assert now < was


def test_tf_idf_is_the_authors_score():
    # 3 channels x 4 classes; channel 0 fires for class 0 alone, channel 2 for every class
    a = torch.tensor(
        [[4.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]], dtype=torch.float64
    )
    s = tf_idf(a, 0)
    tf = a[:, 0] / a[:, 0].sum()
    above = torch.tensor([1.0, 2.0, 4.0])  # classes at or above the channel's own mean
    torch.testing.assert_close(s, tf * torch.log(4 / (above + 1)))
    assert s.argmax() == 0 and s[2] < 0  # an everywhere channel is the least discriminative


def test_an_mlp_has_its_hidden_units_pruned(digits):
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    layers = channel_layers(mlp, digits.train.x[:2])
    assert list(layers) == ["1"]  # the hidden layer, never the head
    assert prune_class(mlp, digits.train, layers, 3, 0.1) == 3
    assert int(mlp[1].weight.abs().sum(1).eq(0).sum()) == 3
