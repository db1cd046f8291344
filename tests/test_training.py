"""The one training loop, on real digits."""

from __future__ import annotations

import pytest
import torch

import unleak as ul
from unleak.errors import ConfigError, DivergenceError
from unleak.training import Callback, shift_images


def test_real_training_reaches_high_accuracy_and_returns_history(digits_original):
    r = digits_original
    assert r.test_acc >= 0.97
    h = r.history
    assert len(h.epochs) == r.config.epochs and h.steps > 0 and h.seconds > 0
    assert h.epochs[-1].loss < h.epochs[0].loss
    assert h.epochs[-1].eval_acc == pytest.approx(r.test_acc, abs=1e-6)


def _weights(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_same_seed_same_weights(digits):
    cfg = ul.TrainConfig(epochs=2, batch_size=64, seed=5, augment="shift")
    a = ul.train(ul.models.build("cnn", digits, seed=5, width=8), digits.train, cfg)
    b = ul.train(ul.models.build("cnn", digits, seed=5, width=8), digits.train, cfg)
    c = ul.train(
        ul.models.build("cnn", digits, seed=5, width=8),
        digits.train,
        cfg.model_copy(update={"seed": 6}),
    )
    assert torch.equal(_weights(a), _weights(b))
    assert not torch.equal(_weights(a), _weights(c))


def test_fractional_epochs_and_callback_stop(digits):
    model = ul.models.build("mlp", digits, seed=0)
    run = ul.fit(model, digits.train, ul.TrainConfig(epochs=0.5, batch_size=64))
    full = -(-len(digits.train) // 64)
    assert run.history.steps == round(0.5 * full)

    class StopAt(Callback):
        def on_batch_end(self, state):
            if state.step == 3:
                state.stop, state.stop_reason = True, "enough"

    run = ul.fit(model, digits.train, ul.TrainConfig(epochs=5, batch_size=64), callbacks=[StopAt()])
    assert run.history.steps == 3 and run.history.stopped == "enough"


def test_a_callback_edits_the_gradients_before_the_step(digits):
    """``on_after_backward`` runs between the backward pass and the optimiser step (pgu's and
    unsc's projection use it): gradients it zeroes move nothing, even at a high rate."""
    model = ul.models.build("mlp", digits, seed=0)
    frozen = model.fc  # the zoo's head
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    kept = {id(p) for p in frozen.parameters()}

    class FreezeHead(Callback):
        calls = 0

        def on_after_backward(self, state):
            FreezeHead.calls += 1
            for p in state.model.parameters():
                if id(p) in kept:
                    p.grad.zero_()

    # no weight decay: it would move every weight, zeroed gradient or not
    cfg = ul.TrainConfig(epochs=1, batch_size=64, lr=0.5, weight_decay=0.0)
    run = ul.fit(model, digits.train, cfg, callbacks=[FreezeHead()])
    assert FreezeHead.calls == run.history.steps > 0
    for n, p in model.named_parameters():
        moved = not torch.equal(p.detach(), before[n])
        assert moved != (id(p) in kept), n  # the head kept, everything else trained


def test_class_pure_epochs_use_single_class_batches(digits):
    seen = []

    class Spy(Callback):
        def on_batch_begin(self, state):
            seen.append((state.epoch, len(state.batch_y.unique())))

    cfg = ul.TrainConfig(epochs=2, batch_size=32, class_pure_epochs=1)
    ul.fit(ul.models.build("mlp", digits), digits.train, cfg, callbacks=[Spy()])
    assert any(n > 1 for e, n in seen if e == 0)
    assert all(n == 1 for e, n in seen if e == 1)


def test_shift_moves_pixels_without_changing_content():
    x = torch.zeros(1, 1, 8, 8)
    x[0, 0, 4, 4] = 1.0
    out = shift_images(x.repeat(50, 1, 1, 1), 2, torch.Generator().manual_seed(0))
    assert out.shape == (50, 1, 8, 8)
    assert torch.all(out.sum((1, 2, 3)) == 1.0)  # the dot moves but is never cut off
    assert len({tuple(torch.nonzero(o[0])[0].tolist()) for o in out}) > 5


def test_divergence_is_reported(digits):
    def nan_loss(model, x, y):
        logits = model(x)
        return logits.sum() * float("nan"), logits

    with pytest.raises(DivergenceError, match="loss became nan"):
        ul.fit(
            ul.models.build("mlp", digits), digits.train, ul.TrainConfig(epochs=1), loss=nan_loss
        )


def test_bad_configs_are_refused(digits):
    with pytest.raises(ValueError):
        ul.TrainConfig(lr=-1)
    with pytest.raises(ValueError):
        ul.TrainConfig(epochs=1, typo_field=3)
    with pytest.raises(ConfigError, match="class_pure_epochs"):
        ul.fit(
            ul.models.build("mlp", digits),
            digits.train,
            ul.TrainConfig(epochs=1, class_pure_epochs=2),
        )


@pytest.mark.parametrize(
    "kind, settings",
    [
        ("sgd", dict(lr=0.05, momentum=0.9, weight_decay=5e-4)),
        ("sgd", dict(lr=0.1)),
        ("adam", dict(lr=0.01, weight_decay=1e-3)),
        ("adam", dict(lr=0.1)),
    ],
)
def test_unleaks_optimisers_match_torch_optim_bit_for_bit(digits, kind, settings):
    """unleak.optim exists to skip torch.optim's import of torch._dynamo; the weights must not
    move by a single bit for it, cosine schedule (torch's LambdaLR) and clipping included."""
    import math

    from unleak import optim

    def run(make, schedule):
        model = ul.models.build("cnn", digits, seed=0, width=8)
        params = [p for p in model.parameters() if p.requires_grad]
        opt, step_lr = make(params), schedule
        x, y = digits.train.x[:64], digits.train.y[:64]
        for s in range(12):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            step_lr(opt, s, before=True)
            opt.step()
            step_lr(opt, s, before=False)
        return [p.detach().clone() for p in model.parameters()]

    def factor(s):
        return 0.5 * (1 + math.cos(math.pi * min(s, 12) / 12))

    torch_cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[kind]
    ours_cls = {"sgd": optim.SGD, "adam": optim.Adam}[kind]
    scheds = {}

    def torch_make(params):
        opt = torch_cls(params, **settings)
        scheds["t"] = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        return opt

    def torch_lr(opt, s, before):
        if not before:
            scheds["t"].step()

    def ours_lr(opt, s, before):
        if before:
            opt.lr = settings["lr"] * factor(s)

    theirs = run(torch_make, torch_lr)
    ours = run(lambda params: ours_cls(params, **settings), ours_lr)
    assert all(torch.equal(a, b) for a, b in zip(theirs, ours, strict=True))


def test_training_does_not_import_torch_dynamo(digits):
    import subprocess
    import sys

    code = (
        "import sys, unleak as ul\n"
        "d = ul.data.load('digits')\n"
        "net = ul.models.build('cnn', d, seed=0, width=8)\n"
        "ul.train(net, d.train, ul.TrainConfig(epochs=0.2))\n"
        "print('torch._dynamo' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"
