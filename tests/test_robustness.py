"""Hostile and careless input: the catalogue of docs/robustness.md, one parametrised case each.

Every case runs the real command line (in process) and checks the promise: one line on stderr,
``error: <problem>; <fix>.``, exit code 2, no traceback, and nothing written where the output
would have gone. ``test_the_catalogue_is_documented`` keeps docs/robustness.md and this list in
step.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from unleak.cli import main

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Case:
    id: str
    args: Callable[[Path, dict], list[str]]
    needle: str


def _npz(path: Path, **arrays) -> str:
    np.savez(path, **arrays)
    return f"npz:{path}"


def _x(n: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, 8, 8), dtype=np.uint8)


def _file(path: Path, content: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def _user(path: Path, body: str) -> str:
    _file(path, "import torch\nfrom torch import nn\n" + body)
    return f"{path}:Net"


TRAIN = ["train", "--dataset", "digits", "--model", "mlp", "--epochs", "1"]


def train(t: Path, *extra: object) -> list:
    """``unleak train`` of a small mlp into ``t/o``, with ``extra`` options."""
    return [*TRAIN, "--out", t / "o", *extra]


CATALOGUE = [
    # ------------------------------------------------------------------ command line
    Case("cli-misspelt-flag", lambda t, f: ["audit", "--fogret", "3"], "No such option: --fogret"),
    Case("cli-unknown-command", lambda t, f: ["trian"], "No such command 'trian'"),
    Case("cli-missing-option", lambda t, f: ["train"], "Missing option '--out'"),
    Case("cli-not-a-number", lambda t, f: train(t, "--seed", "abc"), "Invalid value for '--seed'"),
    Case("cli-seed-beyond-64-bits", lambda t, f: train(t, "--seed", 2**70), "out of range"),
    Case("cli-negative-seed", lambda t, f: train(t, "--seed", -1), "out of range"),
    Case(
        "cli-zero-epochs", lambda t, f: train(t, "--epochs", 0), "epochs: Input should be greater"
    ),
    Case("cli-nan-learning-rate", lambda t, f: train(t, "--lr", "nan"), "finite number"),
    Case("cli-cuda-on-cpu-torch", lambda t, f: train(t, "--device", "cuda"), "sees no CUDA GPU"),
    Case("cli-unknown-device", lambda t, f: train(t, "--device", "tpu"), "not a torch device"),
    Case(
        "cli-negative-record-epochs",
        lambda t, f: train(t, "--record-updates", "--record-epochs", -3),
        "record between 1 and 1 epochs",
    ),
    Case("cli-unknown-arch-arg", lambda t, f: train(t, "--arch-arg", "depth=3"), "no argument"),
    Case("cli-bad-arch-arg", lambda t, f: train(t, "--arch-arg", "hidden=[0]"), "is invalid"),
    Case(
        "cli-set-without-value",
        lambda t, f: [
            "unlearn",
            "--checkpoint",
            f["ckpt"],
            "--method",
            "ft",
            "--forget",
            "3",
            "--set",
            "lr",
            "--out",
            t / "o",
        ],
        "is not KEY=VALUE",
    ),
    Case(
        "cli-huge-query-budget",
        lambda t, f: [
            "attack",
            "--weights",
            f["ckpt"],
            "--attack",
            "bb-genetic",
            "--query-budget",
            "1e23",
        ],
        "Invalid value for '--query-budget'",
    ),
    Case(
        "cli-tiny-query-budget",
        lambda t, f: [
            "attack",
            "--weights",
            f["ckpt"],
            "--attack",
            "bb-genetic",
            "--query-budget",
            "5",
        ],
        "query_budget: Input should be greater than or equal to 10",
    ),
    Case(
        "cli-zero-workers",
        lambda t, f: ["sweep", f["sweep"], "--out", t / "s", "--workers", "0"],
        "use at least 1 worker",
    ),
    Case(
        "cli-zero-limit",
        lambda t, f: ["sweep", f["sweep"], "--out", t / "s", "--limit", "0"],
        "give a positive number of runs",
    ),
    Case(
        "cli-negative-limit",
        lambda t, f: ["sweep", f["sweep"], "--out", t / "s", "--limit", "-1"],
        "give a positive number of runs",
    ),
    Case(
        "cli-unknown-executor",
        lambda t, f: ["sweep", f["sweep"], "--out", t / "s", "--executor", "dask"],
        "unknown executor 'dask'",
    ),
    Case(
        "cli-empty-methods",
        lambda t, f: ["audit", "--methods", "", "--out", t / "o"],
        "unknown method(s) ['']",
    ),
    Case(
        "cli-unknown-attack",
        lambda t, f: ["audit", "--attacks", "membership", "--out", t / "o"],
        "unknown attack 'membership'",
    ),
    Case(
        "cli-unknown-decider",
        lambda t, f: ["audit", "--attacks", "param-diff/median", "--out", t / "o"],
        "unknown decider for param-diff 'median'",
    ),
    Case(
        "cli-num-forgotten-too-large",
        lambda t, f: ["attack", "--weights", f["ckpt"], "--num-forgotten", "50"],
        "--num-forgotten 50 with 10 classes",
    ),
    Case(
        "cli-num-forgotten-negative",
        lambda t, f: ["attack", "--weights", f["ckpt"], "--num-forgotten", "-1"],
        "--num-forgotten -1 with 10 classes",
    ),
    Case(
        "cli-known-class-out-of-range",
        lambda t, f: [
            "attack",
            "--weights",
            f["ckpt"],
            "--attack",
            "param-dot",
            "--known-classes",
            "0,99",
        ],
        "class(es) [99] out of range",
    ),
    Case(
        "cli-known-class-twice",
        lambda t, f: [
            "attack",
            "--weights",
            f["ckpt"],
            "--attack",
            "param-dot",
            "--known-classes",
            "3,3",
        ],
        "repeats class(es) [3]",
    ),
    Case(
        "cli-forget-not-numbers",
        lambda t, f: ["audit", "--forget", "three", "--out", t / "o"],
        "is not a list of class indices",
    ),
    Case(
        "cli-forget-every-class",
        lambda t, f: ["audit", "--forget", "0,1,2,3,4,5,6,7,8,9", "--out", t / "o"],
        "holds all 10 classes",
    ),
    Case(
        "cli-unknown-defence",
        lambda t, f: ["audit", "--defences", "dp", "--out", t / "o"],
        "unknown defence 'dp'",
    ),
    Case(
        "cli-weights-defence-on-attack",
        lambda t, f: ["attack", "--weights", f["ckpt"], "--defence", "decoy"],
        "decoy changes a model's weights",
    ),
    Case(
        "cli-output-defence-on-unlearn",
        lambda t, f: [
            "unlearn",
            "--checkpoint",
            f["ckpt"],
            "--method",
            "ft",
            "--forget",
            "3",
            "--defence",
            "top-k",
            "--out",
            t / "o",
        ],
        "top-k hardens the query interface",
    ),
    Case(
        "cli-bad-normalize",
        lambda t, f: ["audit", "--unlearned", "x.pt", "--normalize", "0.1", "--out", t / "o"],
        "--normalize '0.1' is not MEAN,STD",
    ),
    Case(
        "cli-zero-std",
        lambda t, f: ["audit", "--unlearned", "x.pt", "--normalize", "0.1,0", "--out", t / "o"],
        "positive standard deviations",
    ),
    Case(
        "cli-own-model-def-without-unlearned",
        lambda t, f: ["audit", "--model-def", "a.py:Net", "--out", t / "o"],
        "give unlearned too",
    ),
    # ------------------------------------------------------------------ configuration files
    Case(
        "config-unknown-key",
        lambda t, f: ["audit", "--config", _file(t / "c.yaml", "datset: x"), "--out", t / "o"],
        "datset: Extra inputs",
    ),
    Case(
        "config-binary-file",
        lambda t, f: ["audit", "--config", _file(t / "c.yaml", b"\xff\xfe\x00"), "--out", t / "o"],
        "is not a text file",
    ),
    Case(
        "config-bad-yaml",
        lambda t, f: ["audit", "--config", _file(t / "c.yaml", "a: [1, 2"), "--out", t / "o"],
        "is not valid YAML",
    ),
    Case(
        "config-not-a-mapping",
        lambda t, f: ["audit", "--config", _file(t / "c.yaml", "- 1\n"), "--out", t / "o"],
        "does not hold a mapping",
    ),
    Case(
        "config-is-a-folder",
        lambda t, f: ["audit", "--config", t, "--out", t / "o"],
        "is a folder, not a audit file",
    ),
    Case(
        "config-missing",
        lambda t, f: ["audit", "--config", t / "none.yaml", "--out", t / "o"],
        "no audit configuration file",
    ),
    Case(
        "sweep-empty-file",
        lambda t, f: ["sweep", _file(t / "s.yaml", ""), "--out", t / "s"],
        "datasets: Field required",
    ),
    Case(
        "sweep-binary-file",
        lambda t, f: ["sweep", _file(t / "s.yaml", b"\x00\x01\xff"), "--out", t / "s"],
        "is not a text file",
    ),
    Case(
        "sweep-no-methods",
        lambda t, f: [
            "sweep",
            _file(t / "s.yaml", "datasets: [digits]\nmethods: []\n"),
            "--out",
            t / "s",
        ],
        "methods: List should have at least 1 item",
    ),
    Case(
        "sweep-negative-seed",
        lambda t, f: [
            "sweep",
            _file(t / "s.yaml", "datasets: [digits]\nseeds: [-1]\n"),
            "--out",
            t / "s",
        ],
        "seeds must be whole numbers",
    ),
    Case(
        "sweep-unknown-model",
        lambda t, f: [
            "sweep",
            _file(t / "s.yaml", "datasets: [digits]\nmodels: [vgg]\n"),
            "--out",
            t / "s",
        ],
        "unknown model 'vgg'",
    ),
    Case(
        "sweep-bad-recipe",
        lambda t, f: [
            "sweep",
            _file(t / "s.yaml", "datasets: [digits]\nmethods: [ft]\nunlearn: {ft: {lr: -1}}\n"),
            "--out",
            t / "s",
        ],
        "unlearn.ft: ft configuration: lr",
    ),
    Case(  # a training override of the grid: refused before --out (or its parent) exists
        "sweep-bad-train-override",
        lambda t, f: [
            "sweep",
            _file(
                t / "s.yaml", "datasets: [digits]\nmethods: [rt]\ntrain: {digits: {epochs: -1}}\n"
            ),
            "--out",
            t / "o" / "s13",
        ],
        "training configuration is invalid: epochs",
    ),
    Case(
        "config-defence-settings-unlisted",
        lambda t, f: [
            "audit",
            "--config",
            _file(t / "c.yaml", "defence_settings: {top-k: {k: 2}}"),
            "--out",
            t / "o",
        ],
        "defence_settings for ['top-k']",
    ),
    Case(
        "config-null-twice",
        lambda t, f: [
            "audit",
            "--config",
            _file(t / "c.yaml", "null_models: [original, original]"),
            "--out",
            t / "o",
        ],
        "a null model is listed twice",
    ),
    Case(
        "config-unknown-null",
        lambda t, f: [
            "audit",
            "--config",
            _file(t / "c.yaml", "null_models: [prune@2]"),
            "--out",
            t / "o",
        ],
        "needs a number in",
    ),
    # ------------------------------------------------------------------ data files
    Case(
        "npz-string-labels",
        lambda t, f: [
            *TRAIN,
            "--dataset",
            _npz(t / "d.npz", x=_x(20), y=np.array(["cat", "dog"] * 10)),
            "--out",
            t / "o",
        ],
        "labels are strings, not integers",
    ),
    Case(
        "npz-huge-label",
        lambda t, f: [
            *TRAIN,
            "--dataset",
            _npz(t / "d.npz", x=_x(20), y=np.array([0, 2**40] * 10)),
            "--out",
            t / "o",
        ],
        "which would make 1099511627777 classes",
    ),
    Case(
        "npz-label-gap",
        lambda t, f: [
            *TRAIN,
            "--dataset",
            _npz(t / "d.npz", x=_x(30), y=np.array([0, 1, 42] * 10)),
            "--out",
            t / "o",
        ],
        "class(es) 2, 3, 4, 5, 6 ... of 0..42 have no sample",
    ),
    Case(
        "npz-three-samples",
        lambda t, f: [
            *TRAIN,
            "--dataset",
            _npz(t / "d.npz", x=_x(3), y=np.array([0, 1, 1])),
            "--out",
            t / "o",
        ],
        "fewer than 5 samples",
    ),
    Case(
        "npz-object-arrays",
        lambda t, f: [
            *TRAIN,
            "--dataset",
            _npz(t / "d.npz", x=np.array([None] * 4, dtype=object), y=np.arange(4)),
            "--out",
            t / "o",
        ],
        "object arrays",
    ),
    Case(
        "npz-not-a-zip",
        lambda t, f: [*TRAIN, "--dataset", f"npz:{_file(t / 'd.npz', 'x')}", "--out", t / "o"],
        "no zip archive",
    ),
    Case(
        "npz-no-labels",
        lambda t, f: [*TRAIN, "--dataset", _npz(t / "d.npz", x=_x(20)), "--out", t / "o"],
        "has no array(s) ['y']",
    ),
    Case(
        "npz-floats-outside-box",
        lambda t, f: [
            *TRAIN,
            "--dataset",
            _npz(t / "d.npz", x=np.full((20, 8, 8), 3.0), y=np.arange(20) % 2),
            "--out",
            t / "o",
        ],
        "outside [0, 1]",
    ),
    Case(
        "npz-nan-images",
        lambda t, f: [
            *TRAIN,
            "--dataset",
            _npz(t / "d.npz", x=np.full((20, 8, 8), np.nan), y=np.arange(20) % 2),
            "--out",
            t / "o",
        ],
        "images contain NaN",
    ),
    Case(
        "npz-nan-labels",
        lambda t, f: [
            *TRAIN,
            "--dataset",
            _npz(t / "d.npz", x=_x(20), y=np.array([0.0, np.nan] * 10)),
            "--out",
            t / "o",
        ],
        "labels hold NaN",
    ),
    Case(
        "folder-one-class",
        lambda t, f: [*TRAIN, "--dataset", f"folder:{_folder(t, 1)}", "--out", t / "o"],
        "has 1 class sub-folder(s)",
    ),
    Case(
        "folder-missing",
        lambda t, f: [*TRAIN, "--dataset", f"folder:{t / 'nope'}", "--out", t / "o"],
        "no folder",
    ),
    Case(
        "data-unknown-name",
        lambda t, f: [*TRAIN, "--dataset", "imagenet", "--out", t / "o"],
        "unknown data set 'imagenet'",
    ),
    Case(
        "data-missing-files",
        lambda t, f: [*TRAIN, "--dataset", "mnist", "--data-root", t / "empty", "--out", t / "o"],
        "missing file(s)",
    ),
    # ------------------------------------------------------------------ checkpoints, model files
    Case(
        "ckpt-huge-input-shape",
        lambda t, f: ["attack", "--weights", _meta(t, f, input_shape=[1, 10**9, 10**9])],
        "is not an unleak checkpoint: input_shape",
    ),
    Case(
        "ckpt-json-not-json",
        lambda t, f: ["attack", "--weights", _meta(t, f, text="{")],
        "is not valid JSON",
    ),
    Case(
        "ckpt-pickle-as-safetensors",
        lambda t, f: ["attack", "--weights", _weights(t, f, b"\x80\x04\x95 pickled")],
        "is not a safetensors file",
    ),
    Case(
        "ckpt-full-pickle-pt",
        lambda t, f: ["attack", "--weights", f["whole_pt"], "--model-def", f["user"]],
        "weights-only loading refuses",
    ),
    Case(
        "ckpt-pt-without-model-def",
        lambda t, f: ["attack", "--weights", f["state_pt"]],
        "is a weights file with no architecture beside it",
    ),
    Case(
        "ckpt-wrong-data-set-shape",
        lambda t, f: [
            "attack",
            "--weights",
            f["ckpt"],
            "--dataset",
            "mnist",
            "--data-root",
            f["shared"],
        ],
        "holds a model of 10 classes of (1, 8, 8), mnist has 10 of (1, 28, 28)",
    ),
    Case(
        "ckpt-nan-weights",
        lambda t, f: ["attack", "--weights", _nan_weights(t, f)],
        "holds NaN or infinity",
    ),
    Case("ckpt-missing", lambda t, f: ["attack", "--weights", t / "none"], "no model.json"),
    Case(
        "modeldef-systemexit",
        lambda t, f: [
            "attack",
            "--weights",
            f["state_pt"],
            "--model-def",
            _user(t / "m.py", "raise SystemExit(0)\n"),
        ],
        "importing",
    ),
    Case(
        "modeldef-syntax-error",
        lambda t, f: [
            "attack",
            "--weights",
            f["state_pt"],
            "--model-def",
            _user(t / "m.py", "def (\n"),
        ],
        "SyntaxError",
    ),
    Case(
        "modeldef-not-path-class",
        lambda t, f: ["attack", "--weights", f["state_pt"], "--model-def", "nets.py"],
        "is not PATH.py:CLASS",
    ),
    Case(
        "modeldef-bad-argument",
        lambda t, f: [
            "attack",
            "--weights",
            f["state_pt"],
            "--model-def",
            f["user"],
            "--model-arg",
            "x=1",
        ],
        "pass its constructor arguments",
    ),
    Case(
        "unlearn-out-is-checkpoint",
        lambda t, f: [
            "unlearn",
            "--checkpoint",
            f["ckpt"],
            "--method",
            "ft",
            "--forget",
            "3",
            "--out",
            f["ckpt"],
        ],
        "the original's own folder",
    ),
    # ------------------------------------------------------------------ stores, outputs
    Case(
        "store-corrupt",
        lambda t, f: ["report", _store(t, b"this is not sqlite" * 100)],
        "is not a readable results store",
    ),
    Case(
        "store-foreign", lambda t, f: ["report", _store(t, None)], "is a database of something else"
    ),
    Case("store-missing", lambda t, f: ["report", t], "holds no results.sqlite"),
    Case(
        "resume-foreign-store",
        lambda t, f: ["sweep", f["sweep"], "--out", _store(t, None), "--resume"],
        "is a database of something else",
    ),
    Case("out-is-a-file", lambda t, f: [*TRAIN, "--out", _file(t / "f", "x")], "is a file"),
    Case(
        "json-is-a-folder",
        lambda t, f: ["attack", "--weights", f["ckpt"], "--json", t],
        "is a folder",
    ),
    Case("out-unwritable", lambda t, f: [*TRAIN, "--out", "/proc/unleak/out"], "cannot write"),
    # ------------------------------------------------------------------ plug-in methods
    Case(
        "plugin-missing-file",
        lambda t, f: _unlearn_with(t, f, f"{t / 'nope.py'}:m"),
        "no method file",
    ),
    Case(
        "plugin-name-not-defined",
        lambda t, f: _unlearn_with(t, f, _method(t, GOOD_METHOD).replace(":m", ":mine")),
        "defines no 'mine'",
    ),
    Case(
        "plugin-syntax-error",
        lambda t, f: _unlearn_with(t, f, _method(t, "def m(:\n")),
        "importing",
    ),
    Case(
        "plugin-not-path-name",
        lambda t, f: _unlearn_with(t, f, "mine.txt:m"),
        "is not PATH.py:NAME",
    ),
    Case(
        "plugin-wrong-signature",
        lambda t, f: _unlearn_with(t, f, _method(t, "def m(model):\n    return model\n")),
        "takes 1 positional argument(s), not model, retain, forget",
    ),
    Case(
        "plugin-no-seed",
        lambda t, f: _unlearn_with(t, f, _method(t, "def m(model, retain, forget):\n    pass\n")),
        "takes no seed keyword",
    ),
    Case(
        "plugin-unknown-setting",
        lambda t, f: [*_unlearn_with(t, f, _method(t, GOOD_METHOD)), "--set", "stpes=3"],
        "configuration: stpes: Extra inputs are not permitted",
    ),
    Case(
        "plugin-raises",
        lambda t, f: _unlearn_with(t, f, _method(t, _body("raise RuntimeError('boom')"))),
        "raised RuntimeError: boom",
    ),
    Case(
        "plugin-returns-no-model",
        lambda t, f: _unlearn_with(t, f, _method(t, _body("return 3"))),
        "returned int, not a torch model",
    ),
    Case(
        "plugin-returns-other-architecture",
        lambda t, f: _unlearn_with(t, f, _method(t, _body("return torch.nn.Linear(2, 2)"))),
        "returned a model of another architecture",
    ),
    Case(
        "plugin-changes-its-input",
        lambda t, f: _unlearn_with(
            t,
            f,
            _method(t, _body("next(model.parameters()).data.mul_(0.5)", "return model")),
        ),
        "changed the model it was given in place",
    ),
    Case(
        "plugin-nan-weights",
        lambda t, f: _unlearn_with(
            t,
            f,
            _method(
                t,
                _body(
                    "model = copy.deepcopy(model)",
                    "next(model.parameters()).data.fill_(float('nan'))",
                    "return model",
                ),
            ),
        ),
        "returned NaN or infinite weights",
    ),
    Case(  # the audit stops (a broken method of yours is not a result): no run directory
        "plugin-raises-in-audit",
        lambda t, f: [
            "audit",
            "--model",
            "mlp",
            "--methods",
            "rt",
            "--method-def",
            _method(t, _body("raise ValueError('no')")),
            "--forget",
            "3",
            "--out",
            t / "o",
        ],
        "raised ValueError: no",
    ),
    Case(
        "audit-set-without-method-def",
        lambda t, f: ["audit", "--set", "steps=3", "--out", t / "o"],
        "--set sets a method of your own's settings",
    ),
    Case(
        "plugin-missing-in-sweep",
        lambda t, f: [
            "sweep",
            _file(t / "s.yaml", f"datasets: [digits]\nmethods: [{t / 'gone.py'}:m]\n"),
            "--out",
            t / "o",
        ],
        "no method file",
    ),
    Case(
        "config-null-replicate-of-deterministic",
        lambda t, f: [
            "audit",
            "--config",
            _file(t / "c.yaml", "null_models: [original, prune@0.3#2]"),
            "--out",
            t / "o",
        ],
        "is the same model under every seed",
    ),
    Case(
        "config-null-replicate-zero",
        lambda t, f: [
            "audit",
            "--config",
            _file(t / "c.yaml", "null_models: [brief@0.01#0]"),
            "--out",
            t / "o",
        ],
        "the replicate after # must be 1 to 99",
    ),
    Case(
        "attack-unknown-knowledge-mode",
        lambda t, f: [
            "attack",
            "--weights",
            f["ckpt"],
            "--attack",
            "param-dot",
            "--knowledge",
            "everything",
        ],
        "unknown knowledge mode 'everything'",
    ),
    Case(
        "attack-public-init-without-checkpoint",
        lambda t, f: [
            "attack",
            "--weights",
            f["ckpt"],
            "--attack",
            "param-diff",
            "--knowledge",
            "public-init",
        ],
        "--public-init goes with --knowledge public-init",
    ),
    Case(
        "attack-public-init-of-another-architecture",
        lambda t, f: [
            "attack",
            "--weights",
            f["ckpt"],
            "--attack",
            "param-dot",
            "--knowledge",
            "public-init",
            "--public-init",
            f["other_arch"],
            "--json",
            t / "r.json",
        ],
        "give the checkpoint of the target's own architecture",
    ),
    Case(
        "config-knowledge-public-init",
        lambda t, f: [
            "audit",
            "--config",
            _file(t / "c.yaml", "knowledge: {mode: public-init}"),
            "--out",
            t / "o",
        ],
        "needs the public checkpoint the original was fine-tuned from",
    ),
]

GOOD_METHOD = """import copy


def m(model, retain, forget, *, seed, steps: int = 1):
    return copy.deepcopy(model)
"""


def _body(*lines: str) -> str:
    """A method of the contract whose body is ``lines``."""
    return "import copy\nimport torch\n\n\ndef m(model, retain, forget, *, seed):\n" + "".join(
        f"    {line}\n" for line in lines
    )


def _method(t: Path, source: str) -> str:
    return f"{_file(t / 'method.py', source)}:m"


def _unlearn_with(t: Path, f: dict, spec: str) -> list:
    """``unleak unlearn`` of class 3 from the small checkpoint with the method ``spec``."""
    return [
        "unlearn",
        "--checkpoint",
        f["ckpt"],
        "--method-def",
        spec,
        "--forget",
        "3",
        "--no-reference",
        "--out",
        t / "o",
    ]


def _folder(t: Path, classes: int) -> Path:
    from PIL import Image

    for c in range(classes):
        d = t / "imgs" / f"c{c}"
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(d / "a.png")
    return t / "imgs"


def _copy_ckpt(t: Path, f: dict) -> Path:
    import shutil

    dst = t / "ck"
    shutil.copytree(f["ckpt"], dst)
    return dst


def _meta(t: Path, f: dict, text: str | None = None, **changes) -> Path:
    ck = _copy_ckpt(t, f)
    if text is not None:
        (ck / "model.json").write_text(text)
    else:
        meta = json.loads((ck / "model.json").read_text())
        (ck / "model.json").write_text(json.dumps({**meta, **changes}))
    return ck


def _weights(t: Path, f: dict, content: bytes) -> Path:
    ck = _copy_ckpt(t, f)
    (ck / "model.safetensors").write_bytes(content)
    return ck


def _nan_weights(t: Path, f: dict) -> Path:
    from safetensors.torch import load_file, save_file

    ck = _copy_ckpt(t, f)
    state = load_file(str(ck / "model.safetensors"))
    first = next(k for k, v in state.items() if v.is_floating_point())
    state[first] = torch.full_like(state[first], float("nan"))
    save_file(state, str(ck / "model.safetensors"))
    return ck


def _store(t: Path, content: bytes | None) -> Path:
    d = t / "sw"
    d.mkdir(exist_ok=True)
    if content is not None:
        (d / "results.sqlite").write_bytes(content)
    else:
        con = sqlite3.connect(d / "results.sqlite")
        con.execute("CREATE TABLE users (name TEXT)")
        con.commit()
        con.close()
    return d


USER_NET = """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        return self.fc(x.flatten(1))
"""


@pytest.fixture(scope="module")
def fx(tmp_path_factory) -> dict:
    """A small checkpoint, a user model file with .pt weights, a tiny sweep file, ../shared."""
    base = tmp_path_factory.mktemp("fx")
    with pytest.raises(SystemExit) as info:
        main([*TRAIN, "--out", str(base / "ckpt")])
    assert info.value.code in (0, None)
    with pytest.raises(SystemExit) as info:
        main(
            [
                "train",
                "--dataset",
                "digits",
                "--model",
                "cnn",
                "--epochs",
                "1",
                "--out",
                str(base / "cnn"),
            ]
        )
    assert info.value.code in (0, None)
    user = _user(base / "net.py", USER_NET)
    ns: dict = {}
    exec(compile("import torch\nfrom torch import nn\n" + USER_NET, "net", "exec"), ns)
    net = ns["Net"]()
    torch.save(net.state_dict(), base / "state.pt")
    torch.save(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10)), base / "whole.pt")
    sweep = _file(base / "sweep.yaml", "datasets: [digits]\nmethods: [ft]\n")
    shared = ROOT.parent / "shared" / "data"
    return {
        "ckpt": base / "ckpt",
        "other_arch": base / "cnn",
        "user": user,
        "state_pt": base / "state.pt",
        "whole_pt": base / "whole.pt",
        "sweep": sweep,
        "shared": shared,
    }


@pytest.mark.parametrize("case", CATALOGUE, ids=lambda c: c.id)
def test_bad_input_gets_one_line_exit_2_and_nothing_written(case, fx, tmp_path, capsys):
    if case.id == "ckpt-wrong-data-set-shape" and not fx["shared"].exists():
        pytest.skip("needs ../shared/data")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    argv = [str(a) for a in case.args(tmp_path, fx)]
    inputs = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert info.value.code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    assert re.search(r"; .+\.$", lines[0]), f"no fix after the problem: {lines[0]}"
    assert case.needle in lines[0], lines[0]
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert after == inputs, f"wrote {set(after) - set(inputs)} (before: {before})"


def test_the_catalogue_is_documented():
    doc = (ROOT / "docs" / "robustness.md").read_text()
    missing = [c.id for c in CATALOGUE if f"`{c.id}`" not in doc]
    assert not missing, f"docs/robustness.md lacks {missing}"
    assert len(CATALOGUE) >= 60
