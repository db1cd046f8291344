"""Unlearning methods on real digits: they forget, keep the rest, and refuse the impossible."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils import parameters_to_vector

import unleak as ul
from unleak.errors import ConfigError, ForgetSetError
from unleak.evaluation import efficacy
from unleak.unlearning import method_names, run_unlearning
from unleak.unlearning.au import UpdateLog, UpdateRecorder, subtract_updates

METHODS = ["rt", "ft", "rl", "au", "ng", "scrub", "salun", "l1-sparse", "boundary-shrink"]


def test_the_methods_are_registered():
    assert set(METHODS) <= set(method_names())


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("forget", [[3], [1, 7]])
def test_each_method_forgets_and_keeps_the_retained_classes(
    digits, digits_original, method, forget
):
    orig = digits_original
    before = efficacy(orig.model, digits.test, forget)
    retain, fs = digits.train.split_classes(forget)
    run = run_unlearning(
        method,
        orig.model,
        retain,
        fs,
        dataset="digits",
        seed=1,
        updates=orig.updates,
        original_config=orig.config,
    )
    after = efficacy(run.model, digits.test, forget)
    assert before.forget_acc > 0.9
    assert after.forget_acc <= 0.10, f"{method} kept {after.forget_acc:.3f} of {forget}"
    assert after.retain_acc >= before.retain_acc - 0.05
    # the input model is untouched
    assert efficacy(orig.model, digits.test, forget).forget_acc == before.forget_acc


def test_subtracting_every_recorded_update_gives_back_the_initial_weights(digits):
    model = ul.models.build("cnn", digits, seed=0, width=8)
    initial = parameters_to_vector(model.parameters()).detach().clone()
    recorder = UpdateRecorder(from_epoch=0)
    ul.fit(model, digits.train, ul.TrainConfig(epochs=2, batch_size=64), callbacks=[recorder])
    trained = parameters_to_vector(model.parameters()).detach().clone()
    assert not torch.allclose(trained, initial)
    log = recorder.log()
    every_class = tuple(range(10))
    n = subtract_updates(model, log, every_class)
    assert n == sum(log.batches.values())
    torch.testing.assert_close(parameters_to_vector(model.parameters()), initial, atol=1e-5, rtol=0)
    # and the log survives its file format
    again = UpdateLog.from_tensors(log.to_tensors())
    assert again.batches == log.batches


def test_amnesiac_needs_recorded_updates(digits, digits_original):
    retain, fs = digits.train.split_classes([2])
    with pytest.raises(ConfigError, match="record-updates"):
        run_unlearning("au", digits_original.model, retain, fs, dataset="digits")


def test_random_label_pools(digits):
    from unleak.unlearning.base import UnlearnContext
    from unleak.unlearning.rl import random_labels

    _, fs = digits.train.split_classes([2, 5])
    ctx = UnlearnContext(forget_classes=(2, 5), num_classes=10)
    gen = torch.Generator().manual_seed(0)
    excl = random_labels(fs, ctx, "exclude-forgotten", gen)
    assert not set(excl.tolist()) & {2, 5}
    anyl = random_labels(fs, ctx, "all", gen)
    assert torch.all(anyl != fs.y) and set(anyl.tolist()) & {2, 5}


def test_impossible_requests_are_refused(digits, digits_original):
    m = digits_original.model
    retain, fs = digits.train.split_classes([4])
    with pytest.raises(ForgetSetError, match="all 10 classes"):
        run_unlearning("ft", m, digits.train.take(torch.arange(0)), digits.train)
    with pytest.raises(ForgetSetError, match="both the retained and the forget"):
        run_unlearning("ft", m, digits.train, fs)
    with pytest.raises(ForgetSetError, match="no sample"):
        run_unlearning("ft", m, retain, fs.take(torch.arange(0)))
    with pytest.raises(ConfigError, match="unknown unlearning method 'sisa'"):
        run_unlearning("sisa", m, retain, fs)
    with pytest.raises(ConfigError, match="ng configuration: lr"):
        run_unlearning("ng", m, retain, fs, {"lr": -1})
    with pytest.raises(ConfigError, match=r"extra_forbidden|Extra inputs"):
        run_unlearning("ng", m, retain, fs, {"lrr": 0.1})
