"""The command line: real runs, and one-line errors with exit code 2 and nothing half-written."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from unleak.cli import main


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in args])
    captured = capsys.readouterr()
    return int(info.value.code or 0), captured.out, captured.err


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error:")
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("ck") / "orig"
    with pytest.raises(SystemExit) as info:
        main(
            [
                "train",
                "--dataset",
                "digits",
                "--epochs",
                "4",
                "--seed",
                "0",
                "--out",
                str(out),
                "--record-updates",
            ]
        )
    assert info.value.code in (0, None)
    return out


def test_train_writes_a_checkpoint_and_prints_accuracy(checkpoint, capsys, tmp_path):
    assert (checkpoint / "model.safetensors").is_file() and (
        checkpoint / "updates.safetensors"
    ).is_file()
    meta = json.loads((checkpoint / "model.json").read_text())
    assert meta["dataset"] == "digits" and meta["seed"] == 0 and meta["train_config"]["epochs"] == 4
    assert meta["test_accuracy"] > 0.8
    code, out, _ = run_cli(
        capsys,
        "train",
        "--dataset",
        "digits",
        "--model",
        "mlp",
        "--epochs",
        "2",
        "--out",
        tmp_path / "m",
    )
    assert code == 0 and "test accuracy" in out


def test_unlearn_writes_model_metadata_and_efficacy(checkpoint, capsys, tmp_path):
    out = tmp_path / "ng"
    code, text, err = run_cli(
        capsys,
        "unlearn",
        "--checkpoint",
        checkpoint,
        "--method",
        "ng",
        "--forget",
        "3,7",
        "--seed",
        "1",
        "--out",
        out,
    )
    assert code == 0, err
    assert {p.name for p in out.iterdir()} == {
        "model.safetensors",
        "model.json",
        "efficacy.json",
        "run.json",
    }
    meta = json.loads((out / "model.json").read_text())
    assert meta["unlearning"]["method"] == "ng" and meta["unlearning"]["forget"] == [3, 7]
    assert meta["seed"] == 1 and meta["unlearning"]["config"]["lr"] > 0
    eff = json.loads((out / "efficacy.json").read_text())
    assert eff["forget"] == [3, 7] and eff["forget_acc"] <= 0.1
    assert eff["reference"]["forget_acc"] <= 0.1  # rt on the same forget set
    assert "rt (reference)" in text


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["train", "--dataset", "imagenet"], ["unknown data set 'imagenet'"]),
        (["train", "--model", "vgg"], ["unknown model 'vgg'"]),
        (["train", "--model", "lenet5"], ["lenet5 needs images of at least 28x28"]),
        (["train", "--epochs", "-1"], ["epochs"]),
        (["train", "--arch-arg", "depth=3"], ["no argument"]),
    ],
)
def test_bad_training_input(capsys, tmp_path, args, needles):
    out = tmp_path / "out"
    code, _, err = run_cli(capsys, *args, "--out", out)
    assert_one_line_error(code, err, *needles)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_missing_files_name_where_to_put_them(capsys, tmp_path):
    code, _, err = run_cli(
        capsys,
        "train",
        "--dataset",
        "mnist",
        "--data-root",
        tmp_path / "empty",
        "--out",
        tmp_path / "o",
    )
    assert_one_line_error(
        code,
        err,
        "missing file",
        "MNIST/raw/train-images-idx3-ubyte.gz",
        "unleak data download mnist",
    )
    assert not (tmp_path / "o").exists()


def test_md5_mismatch(capsys, tmp_path, shared_data):
    raw = tmp_path / "MNIST" / "raw"
    shutil.copytree(shared_data / "MNIST" / "raw", raw)
    with (raw / "t10k-labels-idx1-ubyte.gz").open("r+b") as fh:
        fh.seek(100)
        fh.write(b"\xff")
    code, out, err = run_cli(capsys, "data", "check", "mnist", "--data-root", tmp_path)
    assert_one_line_error(code, err, "md5 mismatch", "t10k-labels-idx1-ubyte.gz")
    code, out, _ = run_cli(capsys, "data", "check", "mnist", "--data-root", shared_data)
    assert code == 0 and out.count("ok") >= 4


@pytest.mark.parametrize(
    ("breakage", "needles"),
    [
        ("shapes", ["has shape", "expects"]),
        ("pickle", ["not a safetensors file"]),
        ("json", ["not valid JSON"]),
    ],
)
def test_bad_checkpoints(checkpoint, capsys, tmp_path, breakage, needles):
    ck = tmp_path / "ck"
    shutil.copytree(checkpoint, ck)
    meta = json.loads((ck / "model.json").read_text())
    if breakage == "shapes":
        meta["num_classes"] = 5
        (ck / "model.json").write_text(json.dumps(meta))
    elif breakage == "pickle":
        (ck / "model.safetensors").write_bytes(b"\x80\x04\x95 pickled torch.save output")
    else:
        (ck / "model.json").write_text("{")
    out = tmp_path / "out"
    code, _, err = run_cli(
        capsys, "unlearn", "--checkpoint", ck, "--method", "ft", "--forget", "3", "--out", out
    )
    assert_one_line_error(code, err, *needles)
    assert not out.exists()


@pytest.mark.parametrize(
    ("method", "forget", "needles"),
    [
        ("ng", "", ["empty"]),
        ("ng", "0,1,2,3,4,5,6,7,8,9", ["all 10 classes"]),
        ("ng", "12", ["out of range"]),
        ("ng", "3,3", ["repeats"]),
        ("ng", "three", ["not a list of class indices"]),
        ("sisa", "3", ["unknown unlearning method 'sisa'"]),
    ],
)
def test_bad_unlearning_requests(checkpoint, capsys, tmp_path, method, forget, needles):
    out = tmp_path / "out"
    code, _, err = run_cli(
        capsys,
        "unlearn",
        "--checkpoint",
        checkpoint,
        "--method",
        method,
        "--forget",
        forget,
        "--out",
        out,
    )
    assert_one_line_error(code, err, *needles)
    assert not out.exists()


def test_amnesiac_without_recorded_updates(capsys, tmp_path):
    ck = tmp_path / "plain"
    code, _, _ = run_cli(capsys, "train", "--model", "mlp", "--epochs", "1", "--out", ck)
    assert code == 0
    code, _, err = run_cli(
        capsys,
        "unlearn",
        "--checkpoint",
        ck,
        "--method",
        "au",
        "--forget",
        "3",
        "--out",
        tmp_path / "au",
    )
    assert_one_line_error(code, err, "no recorded updates", "--record-updates")


def test_console_script_entry_point(tmp_path):
    exe = shutil.which("unleak") or str(
        __import__("pathlib").Path(sys.executable).parent / "unleak"
    )
    proc = subprocess.run(
        [exe, "data", "check", "nope"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: unknown data set 'nope'")


USER_MODEL = """
import torch
from torch import nn


class TinyNet(nn.Module):
    def __init__(self, hidden=32):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(64, hidden), nn.ReLU())
        self.classifier = nn.Linear(hidden, 10)

    def forward(self, x):
        return self.classifier(self.body(x))


class Probabilities(TinyNet):
    def forward(self, x):
        return super().forward(x).softmax(1)
"""


@pytest.fixture
def user_model(tmp_path):
    import torch
    from safetensors.torch import save_file

    src = tmp_path / "mynet.py"
    src.write_text(USER_MODEL)
    namespace: dict = {}
    exec(compile(USER_MODEL, str(src), "exec"), namespace)
    torch.manual_seed(0)
    net = namespace["TinyNet"](hidden=32)
    save_file(net.state_dict(), str(tmp_path / "w.safetensors"))
    return src, tmp_path / "w.safetensors"


def test_attack_a_user_model_definition(capsys, tmp_path, user_model):
    src, weights = user_model
    out = tmp_path / "r.json"
    code, text, err = run_cli(
        capsys,
        "attack",
        "--weights",
        weights,
        "--model-def",
        f"{src}:TinyNet",
        "--model-arg",
        "hidden=32",
        "--attack",
        "param-diff",
        "--set",
        "cache=false",
        "--json",
        out,
    )
    assert code == 0, err
    result = json.loads(out.read_text())
    assert len(result["scores"]) == 10 and isinstance(result["predicted"], list)
    assert "predicted forgotten" in text


def test_attack_on_a_checkpoint_folder_with_json(checkpoint, capsys, tmp_path):
    out = tmp_path / "r.json"
    code, _, err = run_cli(
        capsys, "attack", "--weights", checkpoint, "--attack", "wb-inversion", "--json", out
    )
    assert code == 0, err
    assert json.loads(out.read_text())["attack"] == "wb-inversion"


def test_bad_attack_inputs(capsys, tmp_path, user_model, checkpoint):
    import numpy as np

    src, weights = user_model
    code, _, err = run_cli(
        capsys, "attack", "--weights", weights, "--model-def", f"{src}:Probabilities"
    )
    assert_one_line_error(code, err, "changes the output of its last nn.Linear")
    code, _, err = run_cli(capsys, "attack", "--weights", weights, "--model-def", f"{src}:Missing")
    assert_one_line_error(code, err, "no nn.Module class 'Missing'")
    code, _, err = run_cli(capsys, "attack", "--weights", checkpoint, "--decider", "median")
    assert_one_line_error(code, err, "unknown decider for param-diff 'median'")
    code, _, err = run_cli(capsys, "attack", "--weights", checkpoint, "--attack", "param-dot")
    assert_one_line_error(code, err, "--known-classes")
    five = tmp_path / "five.npz"
    np.savez(
        five,
        x=np.random.default_rng(0).integers(0, 256, (50, 8, 8), dtype=np.uint8),
        y=np.arange(50) % 5,
    )
    code, _, err = run_cli(
        capsys, "attack", "--weights", checkpoint, "--dataset", f"npz:{five}", "--arch", "cnn"
    )
    assert_one_line_error(code, err, "fc.weight has shape")
    code, _, err = run_cli(
        capsys,
        "attack",
        "--weights",
        weights,
        "--model-def",
        f"{src}:TinyNet",
        "--dataset",
        f"npz:{five}",
    )
    assert_one_line_error(code, err, "10 outputs, the data set 5 classes")
