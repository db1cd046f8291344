"""Model zoo, head accessor and checkpoints (safe to load from a stranger)."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

import unleak as ul
from unleak.errors import ModelError


@pytest.mark.parametrize("arch", ["mlp", "cnn", "lenet5", "resnet18"])
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_every_zoo_model_returns_logits_and_exposes_its_head(arch, shape):
    kwargs = {"width": 8} if arch == "resnet18" else {}
    model = ul.models.build(arch, input_shape=shape, num_classes=7, seed=0, **kwargs)
    out = model(torch.rand(2, *shape))
    assert out.shape == (2, 7)
    fc = ul.models.head(model)
    assert isinstance(fc, nn.Linear) and fc.out_features == 7
    assert ul.models.head(model, shape) is fc  # the traced forward pass agrees
    assert ul.models.penultimate(model, torch.rand(3, *shape)).shape == (3, fc.in_features)


def test_cnn_and_mlp_handle_8x8_digits_and_lenet5_refuses_them(digits):
    for arch in ("cnn", "mlp"):
        assert ul.models.build(arch, digits)(digits.test.x[:4]).shape == (4, 10)
    with pytest.raises(ModelError, match="at least 28x28"):
        ul.models.build("lenet5", digits)


def test_same_seed_same_initial_weights():
    a = ul.models.build("cnn", input_shape=(1, 8, 8), num_classes=10, seed=3)
    b = ul.models.build("cnn", input_shape=(1, 8, 8), num_classes=10, seed=3)
    c = ul.models.build("cnn", input_shape=(1, 8, 8), num_classes=10, seed=4)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert not torch.equal(a.fc.weight, c.fc.weight)


def test_unknown_architecture_and_arguments():
    with pytest.raises(ModelError, match=r"unknown model 'vgg'.*known: cnn, lenet5, mlp, resnet18"):
        ul.models.build("vgg", input_shape=(1, 8, 8), num_classes=10)
    with pytest.raises(ModelError, match="no argument"):
        ul.models.build("cnn", input_shape=(1, 8, 8), num_classes=10, depth=3)
    with pytest.raises(ModelError, match="width"):
        ul.models.build("cnn", input_shape=(1, 8, 8), num_classes=10, width=-1)


class Softmaxed(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        return torch.softmax(self.fc(x.flatten(1)), 1)


class NoLinear(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 10, 8)

    def forward(self, x):
        return self.conv(x).flatten(1)


class UserNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU())
        self.classifier = nn.Linear(32, 10)
        self.unused = nn.Linear(3, 3)  # registered last, never called

    def forward(self, x):
        return self.classifier(self.body(x))


def test_head_of_user_models():
    net = UserNet()
    assert ul.models.head(net, (1, 8, 8)) is net.classifier
    with pytest.raises(ModelError, match="changes the output"):
        ul.models.head(Softmaxed(), (1, 8, 8))
    with pytest.raises(ModelError, match=r"not nn\.Linear"):
        ul.models.head(NoLinear(), (1, 8, 8))
    with pytest.raises(ModelError, match=r"no nn\.Linear"):
        ul.models.head(NoLinear())


def test_checkpoint_round_trip(tmp_path, digits):
    model = ul.models.build("cnn", digits, seed=1, width=8)
    ul.models.save(model, tmp_path / "ck", dataset="digits", seed=1)
    meta = json.loads((tmp_path / "ck" / "model.json").read_text())
    assert meta["arch"] == "cnn" and meta["num_classes"] == 10 and meta["dataset"] == "digits"
    assert meta["arch_args"]["width"] == 8 and "unleak_version" in meta
    loaded = ul.models.load(tmp_path / "ck")
    x = digits.test.x[:16]
    model.eval()
    assert torch.equal(model(x), loaded(x))


def test_checkpoint_refuses_mismatched_shapes_pickles_and_bad_metadata(tmp_path, digits):
    model = ul.models.build("cnn", digits, seed=1, width=8)
    ck = ul.models.save(model, tmp_path / "ck", dataset="digits")
    meta = json.loads((ck / "model.json").read_text())

    meta["arch_args"]["width"] = 16  # the weights are for width 8
    (ck / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match=r"has shape .* expects"):
        ul.models.load(ck)

    meta["arch_args"]["width"] = 8
    meta["arch"] = "transformer"
    (ck / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="unknown model 'transformer'"):
        ul.models.load(ck)

    (ck / "model.json").write_text("{not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        ul.models.load(ck)

    meta["arch"] = "cnn"
    (ck / "model.json").write_text(json.dumps(meta))
    torch.save(model.state_dict(), ck / "model.safetensors")  # a pickle under the right name
    with pytest.raises(ModelError, match="not a safetensors file"):
        ul.models.load(ck)


def test_save_is_all_or_nothing(tmp_path, digits, monkeypatch):
    model = ul.models.build("cnn", digits, seed=1, width=8)
    import safetensors.torch

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(safetensors.torch, "save_file", boom)
    with pytest.raises(KeyboardInterrupt):
        ul.models.save(model, tmp_path / "ck")
    assert not (tmp_path / "ck").exists()
    assert list(tmp_path.iterdir()) == []
