"""Methods of your own and models in memory (issue 22), on real digits and real training.

A plug-in method from a file and one from an installed entry point run through ``unleak
unlearn``, an audit and a two-run sweep; its settings come from ``--set`` and YAML; its cache and
run keys follow its file's content; it runs as a null model with nothing to forget. The in-memory
audit gives the file-based audit's rows and verdict. Broken plug-ins: tests/test_robustness.py
(cases ``plugin-*``), plus a broken entry point here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

import unleak as ul
from unleak import models
from unleak.cli import main
from unleak.experiments.audit import audit, load_config
from unleak.experiments.sweep import SweepConfig, expand, load_results, run_sweep
from unleak.unlearning import PluginError, method_names, method_spec, run_unlearning

ROOT = Path(__file__).resolve().parents[1]

METHOD = '''"""a few plain gradient steps on the retained data"""
import copy

import torch
import torch.nn.functional as F

CALLS = []


def descend(model, retain, forget, *, seed, steps: int = 20, lr: float = 0.05):
    CALLS.append((len(forget), steps))
    model = copy.deepcopy(model).train()
    gen = torch.Generator().manual_seed(seed)
    params = list(model.parameters())
    for _ in range(steps):
        idx = torch.randint(0, len(retain), (64,), generator=gen)
        loss = F.cross_entropy(model(retain.x[idx]), retain.y[idx])
        with torch.no_grad():
            for p, g in zip(params, torch.autograd.grad(loss, params)):
                p -= lr * g
    return model.eval()


class Descend:
    """the same, as a class"""

    null_ok = False

    def unlearn(self, model, retain, forget, *, seed, steps: int = 5):
        return descend(model, retain, forget, seed=seed, steps=steps)
'''

SMALL = dict(
    attacks=["probe-reach/kmeans", "param-diff/kmeans"],
    baselines=["chance"],
    train={"epochs": 4},
    unlearn={"rt": {"epochs": 4}},
)


def _ok(argv: list) -> None:
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in argv])
    assert info.value.code in (0, None)


@pytest.fixture()
def method_file(tmp_path: Path) -> Path:
    path = tmp_path / "mine.py"
    path.write_text(METHOD)
    return path


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ck") / "ck"
    _ok(["train", "--model", "mlp", "--epochs", "2", "--out", out])
    return out


@pytest.fixture()
def entry_point(tmp_path: Path, monkeypatch) -> str:
    """An installed package that declares the method ``ep-descend`` (a dist-info on sys.path)."""
    (tmp_path / "ep_pkg.py").write_text(METHOD)
    info = tmp_path / "ep_pkg-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ep-pkg\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[unleak.methods]\nep-descend = ep_pkg:descend\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "ep-descend"
    from unleak.unlearning import base

    base._METHODS.pop("ep-descend", None)


def test_a_file_method_unlearns_from_the_command_line(method_file, checkpoint, tmp_path):
    spec = f"{method_file}:descend"
    _ok(
        [
            "unlearn",
            "--checkpoint",
            checkpoint,
            "--method-def",
            spec,
            "--forget",
            "3",
            "--set",
            "steps=7",
            "--out",
            tmp_path / "un",
        ]
    )
    meta = json.loads((tmp_path / "un" / "model.json").read_text())
    run = meta["unlearning"]
    assert run["method"] == spec and run["config"]["steps"] == 7
    eff = json.loads((tmp_path / "un" / "efficacy.json").read_text())
    assert eff["reference"] is not None  # beside rt, as a built-in method
    # the model it wrote is a model of the original's architecture
    assert models.read_metadata(tmp_path / "un").arch == "mlp"


def test_a_file_method_is_audited_beside_the_built_in_ones(method_file, tmp_path):
    spec = f"{method_file}:descend"
    cfg = tmp_path / "audit.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                **SMALL,
                "model": "mlp",
                "methods": ["rt"],
                "null_models": ["original", spec],
                "unlearn": {**SMALL["unlearn"], spec: {"steps": 9, "lr": 0.02}},
            }
        )
    )
    run = tmp_path / "a"
    flags = ["--method-def", spec, "--set", "steps=3", "--forget", "4", "--out", run]
    _ok(["audit", "--config", cfg, *flags])
    # its checkpoint stays inside the run directory, its settings are the file's under --set's
    ckpt = json.loads((run / "checkpoints" / "mine.py-descend" / "model.json").read_text())
    assert {k: ckpt["unlearning"]["config"][k] for k in ("steps", "lr")} == {"steps": 3, "lr": 0.02}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "audit.yaml", "mine.py"]
    assert (run / "checkpoints" / "null-mine.py-descend" / "model.json").is_file()
    rows = [json.loads(line) for line in (run / "results.jsonl").open()]
    mine = [r for r in rows if r["method"] == spec]
    assert {r["kind"] for r in mine} == {"unlearned", "null"}  # and its own null model
    assert all(r["forget"] == [4] for r in mine if r["kind"] == "unlearned")
    eff = json.loads((run / "efficacy.json").read_text())
    assert eff[spec]["reference"]["forget_acc"] is not None
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["methods"] == ["rt", spec]


def test_a_class_method_declaring_no_null_is_refused_as_a_null(method_file):
    spec = f"{method_file}:Descend"
    assert method_spec(spec).null_ok is False
    with pytest.raises(ul.UnleakError, match="null_ok = False"):
        load_config(None, null_models=[spec])


def test_an_entry_point_method_runs_through_unlearn_audit_and_sweep(
    entry_point, digits, checkpoint, tmp_path, capsys
):
    assert entry_point not in method_names()  # found by name, not imported at start-up
    _ok(["methods"])
    assert "ep_pkg:descend" in capsys.readouterr().out
    flags = ["--forget", "2", "--no-reference", "--set", "steps=2", "--out", tmp_path / "un"]
    _ok(["unlearn", "--checkpoint", checkpoint, "--method", entry_point, *flags])
    assert json.loads((tmp_path / "un" / "model.json").read_text())["unlearning"]["method"] == (
        entry_point
    )
    original = ul.train_original(dataset=digits, model="mlp", seed=0, overrides={"epochs": 2})
    retain, forget = digits.train.split_classes([2])
    model = ul.unlearn(entry_point, original.model, retain, forget, config={"steps": 3}, seed=1)
    assert isinstance(model, torch.nn.Module)
    assert method_spec(entry_point).origin == "entry point ep_pkg:descend"

    result = audit(load_config(None, model="mlp", methods=["rt", entry_point], forget=[2], **SMALL))
    assert {r.method for r in result.rows if r.kind == "unlearned"} == {"rt", entry_point}

    sweep = _two_runs(entry_point)
    outcome = run_sweep(sweep, tmp_path / "s")
    assert (outcome.total, outcome.finished, outcome.failed) == (2, 2, 0)
    assert {r.method for r in load_results(tmp_path / "s")} == {entry_point, "original"}


def test_a_broken_entry_point_is_one_line(tmp_path, monkeypatch, capsys):
    (tmp_path / "bad-0.1.dist-info").mkdir()
    (tmp_path / "bad-0.1.dist-info" / "METADATA").write_text("Name: bad\nVersion: 0.1\n")
    (tmp_path / "bad-0.1.dist-info" / "entry_points.txt").write_text(
        "[unleak.methods]\nbroken = no_such_module:fn\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(SystemExit) as info:
        main(["audit", "--methods", "broken", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert info.value.code == 2 and len(err.splitlines()) == 1, err
    assert "the entry point broken = no_such_module:fn does not load" in err
    assert not (tmp_path / "o").exists()


def _two_runs(method: str, **extra) -> SweepConfig:
    return SweepConfig.model_validate(
        {
            "name": "two",
            "datasets": ["digits"],
            "models": ["mlp"],
            "methods": [method],
            "sets_per_size": 1,
            "null_models": ["original"],
            "train": {"digits": {"epochs": 2}},
            **{k: v for k, v in SMALL.items() if k in ("attacks", "baselines")},
            **extra,
        }
    )


def test_an_edited_method_file_makes_new_runs_never_stale_ones(method_file, tmp_path):
    spec = f"{method_file}:descend"
    sweep = _two_runs(spec, unlearn={spec: {"steps": 4}})
    first = run_sweep(sweep, tmp_path / "s")
    assert (first.finished, first.failed) == (2, 0)
    before = {r.method: r.key for r in expand(sweep)}

    method_file.write_text(METHOD.replace("p -= lr * g", "p -= 0.5 * lr * g"))
    after = {r.method: r.key for r in expand(sweep)}
    assert after["original"] == before["original"]  # the null of the original is the same run
    assert after[spec] != before[spec]  # the edited method's run is a new one
    again = run_sweep(sweep, tmp_path / "s", resume=True)
    assert (again.skipped, again.finished) == (1, 1)  # only the edited method ran again

    # the leakage table `unleak sweep` prints: the method, each attack beside chance, the nulls
    from rich.console import Console

    from unleak.cli import render

    (table,) = render.leakage_tables(load_results(tmp_path / "s"))
    console = Console(width=200, record=True)
    console.print(table)
    text = console.export_text()
    assert "descend" in text and "chance" in text and "false alarms (nulls)" in text


def test_register_method_from_python(digits):
    calls = []

    def halve_head(model, retain, forget, *, seed, factor: float = 0.5):
        calls.append((seed, factor))
        out = models.clone(model)
        with torch.no_grad():
            list(out.parameters())[-2].mul_(factor)
        return out

    name = ul.register_method(halve_head)
    try:
        assert name == "halve_head" and name in method_names()
        original = ul.train_original(dataset=digits, model="mlp", seed=0, overrides={"epochs": 1})
        retain, forget = digits.train.split_classes([1])
        run = run_unlearning(name, original.model, retain, forget, {"factor": 0.25}, seed=3)
        assert calls == [(3, 0.25)] and run.config.factor == 0.25
        with pytest.raises(PluginError, match="already registered"):
            ul.register_method(halve_head)
        assert ul.register_method(halve_head, replace=True) == name
        with pytest.raises(PluginError, match="a built-in method"):
            ul.register_method(halve_head, name="rt", replace=True)
    finally:
        from unleak.unlearning import base

        base._METHODS.pop("halve_head", None)


# --------------------------------------------------------------------------- in memory


def test_the_in_memory_audit_gives_the_file_based_rows_and_verdict(
    digits, digits_original, unlearned, tmp_path
):
    original, rt = digits_original.model, unlearned["rt"]
    models.save(original, tmp_path / "orig", dataset="digits")
    models.save(rt, tmp_path / "rt", dataset="digits")
    settings = dict(
        attacks=["probe-reach/kmeans", "wb-inversion/threshold"],
        baselines=["chance"],
        null_models=["original", "prune@0.2"],
        seed=5,
    )
    name = str(tmp_path / "rt")
    by_file = audit(
        load_config(None, original=str(tmp_path / "orig"), unlearned=[name], **settings)
    )
    weights = {k: v.clone() for k, v in rt.state_dict().items()}
    in_memory = ul.audit_models(original, {name: rt}, digits, **settings)

    def comparable(result):
        return [
            {k: v for k, v in r.items() if k not in ("model", "seconds")}
            for r in result.rows.dicts()
        ]

    assert comparable(in_memory) == comparable(by_file)
    assert {k: v.to_dict() for k, v in in_memory.verdicts.items()} == {
        k: v.to_dict() for k, v in by_file.verdicts.items()
    }
    # rt forgot class 3 (conftest). Two nulls and two of the stacked rule's four attacks are far
    # from what it was fitted on, so only the forgotten class is asserted here; the exact set on
    # the default nulls and attacks is test_own_audit's
    assert 3 in in_memory.verdicts[name].removed
    assert all(torch.equal(v, weights[k]) for k, v in rt.state_dict().items())  # untouched
    assert in_memory.run_dir is None


def test_the_in_memory_audit_takes_tensors_datasets_and_loaders(
    digits, digits_original, unlearned, tmp_path
):
    from torch.utils.data import DataLoader, TensorDataset

    train, test = digits.train, digits.test
    as_loader = DataLoader(TensorDataset(train.x, train.y), batch_size=100)
    for data in (
        {"train": (train.x, train.y), "test": (test.x.numpy(), test.y.numpy())},
        {"train": as_loader, "test": TensorDataset(test.x, test.y)},
    ):
        ds = ul.data.as_dataset(data)
        assert torch.equal(ds.train.x, train.x) and torch.equal(ds.test.y, test.y)
    result = ul.audit_models(
        digits_original.model,
        unlearned["rt"],
        {"train": as_loader, "test": (test.x, test.y)},
        attacks=["probe-reach/kmeans"],
        baselines=["chance"],
        null_models=["original"],
        out=tmp_path / "run",
    )
    assert set(result.verdicts) == {"unlearned"}
    assert (tmp_path / "run" / "report.html").is_file()
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["dataset"] == "memory" and "unlearned" in summary["verdict"]
    with pytest.raises(ul.UnleakError, match="not a torch model"):
        ul.audit_models(digits_original.model, {"x": "weights.pt"}, digits)
    with pytest.raises(ul.UnleakError, match=r"not \(x, y\) pairs|DataLoader"):
        ul.audit_models(digits_original.model, unlearned["rt"], {"train": [1, 2, 3]})


def test_a_file_method_runs_on_ray_workers_as_locally(method_file, tmp_path):
    ray = pytest.importorskip("ray", reason="the ray extra is not installed")
    sweep = _two_runs(f"{method_file}:descend")
    run_sweep(sweep, tmp_path / "local")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:  # workers import the method file by its path and train their own models
        outcome = run_sweep(sweep, tmp_path / "ray", executor="ray")
    finally:
        ray.shutdown()
    assert (outcome.finished, outcome.failed) == (2, 0)

    def decisions(out: Path) -> list:
        return sorted((r.run_key, r.label, tuple(r.predicted)) for r in load_results(out))

    assert decisions(tmp_path / "ray") == decisions(tmp_path / "local")


def test_the_in_memory_audit_finds_the_probe_sets_beside_a_data_set_it_is_given(shared_data):
    """MNIST loaded from a root: probe-reach's unrelated probes (Fashion-MNIST) are read from
    that same root, without data_root= (they failed before: issue 21's first build)."""
    from unleak.experiments.own import _root_of

    mnist = ul.data.load("mnist", shared_data)
    assert _root_of(mnist) == str(shared_data.resolve())
    assert _root_of(ul.data.load("digits")) is None  # embedded: no root to take
    small = ul.data.Dataset(
        "mnist",
        mnist.train.take(torch.arange(600)),
        mnist.test.take(torch.arange(300)),
        mnist.class_names,
        mnist.source,
    )
    net = ul.models.build("mlp", small, seed=0)
    result = ul.audit_models(
        net,
        {"same": net},
        small,
        attacks=["probe-reach/gap"],
        baselines=[],
        null_models=["original", "prune@0.1"],
    )
    assert not [r.error for r in result.rows if r.error], "probe-reach could not run"
