"""The audit end to end on real digits: run directory, refusals, stage failures, the report."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import torch
import yaml
from tests.browser import chromium, rendered_dom, screenshot

import unleak as ul
from unleak.errors import ConfigError
from unleak.experiments.audit import RUN_LAYOUT, audit, load_config

SMALL = dict(
    methods=["rt", "ng"],
    attacks=["param-diff/kmeans", "wb-inversion/threshold"],
    baselines=["chance", "oracle"],
    null_models=["original"],
    train={"epochs": 6},
    unlearn={"rt": {"epochs": 6}},
)


@pytest.fixture(scope="module")
def small_audit(tmp_path_factory):
    out = tmp_path_factory.mktemp("audit") / "run"
    return audit(load_config(None, forget=[3], **SMALL), out)


def test_run_directory_layout(small_audit):
    run = small_audit.run_dir
    for name in RUN_LAYOUT:
        assert (run / name).exists(), name
    assert {p.name for p in (run / "checkpoints").iterdir()} == {"original", "rt", "ng"}
    rows = [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]
    assert len(rows) == len(small_audit.rows) == 3 * 4  # (rt, ng, null) x (2 attacks + 2 baselines)
    for r in rows:
        assert {
            "predicted",
            "forget",
            "hit",
            "scores",
            "chance",
            "calibration",
            "forget_acc",
        } <= set(r)
    env = json.loads((run / "env.json").read_text())
    assert (
        env["seed"] == 0 and env["torch"] and set(env["seconds"]) >= {"train", "unlearn", "attack"}
    )
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert cfg["forget"] == [3] and cfg["model"] == "cnn"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["forget"] == [3] and summary["rows"]
    frame = small_audit.to_frame()
    assert set(frame["method"]) == {"rt", "ng", "original"}
    s = small_audit.summary()
    assert {"asr", "chance", "fpr", "forget_acc"} <= set(s.columns)
    eff = json.loads((run / "efficacy.json").read_text())
    assert eff["ng"]["forget_acc"] <= 0.1 and eff["ng"]["reference"]["forget_acc"] <= 0.1


def test_audit_finds_the_forgotten_class(small_audit):
    hits = {(r.method, r.label): r.hit for r in small_audit.rows if r.kind == "unlearned"}
    assert hits[("rt", "param-diff/kmeans")] and hits[("ng", "wb-inversion[threshold]/threshold")]
    assert hits[("rt", "oracle/threshold")]


@pytest.mark.parametrize(
    ("settings", "needle"),
    [
        ({"datset": "digits"}, "datset"),
        ({"methods": ["rt", "sisa"]}, "unknown method"),
        ({"attacks": ["param-diff/median"]}, "unknown decider for param-diff 'median'"),
        ({"attacks": ["membership"]}, "unknown attack 'membership'"),
        ({"query_budget": -5}, "query_budget"),
        ({"forget": [3, 3]}, "twice"),
        ({"methods": ["rt"], "unlearn": {"ft": {"lr": 0.1}}}, "not among the methods"),
        ({"null_models": ["nothing"]}, "unknown null model"),
        ({"unlearn": {"ft": {"lr": 1e6}}}, "unlearn.ft: ft configuration: lr"),
        ({"train": {"epoch": 3}}, "train.epoch"),
    ],
)
def test_bad_configs_are_refused_before_any_work(settings, needle, tmp_path):
    with pytest.raises(ConfigError, match=re.escape(needle)):
        load_config(None, **settings)
    path = tmp_path / "audit.yaml"
    path.write_text(yaml.safe_dump(settings))
    with pytest.raises(ConfigError):
        load_config(path)


def test_impossible_forget_set_is_refused_before_training(tmp_path, monkeypatch):
    from unleak.experiments import model_cache

    def no_training(*a, **k):
        raise AssertionError("training started")

    monkeypatch.setattr(model_cache.ModelCache, "original", no_training)
    with pytest.raises(ul.errors.ForgetSetError, match="out of range"):
        audit(load_config(None, forget=[12]), tmp_path / "run")
    with pytest.raises(ConfigError, match="youden/tree"):
        audit(load_config(None, attacks=["param-diff/youden"], shadow="digits"), tmp_path / "run2")


def test_a_failing_stage_is_reported_not_fatal(tmp_path, monkeypatch):
    from unleak.errors import DivergenceError
    from unleak.unlearning import base

    spec = base.method_spec("ng")

    def diverge(*args, **kwargs):
        raise DivergenceError("loss became nan at epoch 0, step 3", "lower the learning rate")

    monkeypatch.setitem(
        base._METHODS, "ng", base.MethodSpec("ng", diverge, spec.config_cls, spec.description)
    )
    result = audit(load_config(None, forget=[5], **SMALL), tmp_path / "run")
    assert "loss became nan" in result.efficacy["ng"]["error"]
    assert any(r.error and r.method == "ng" for r in result.rows)
    assert any(r.method == "rt" and r.hit for r in result.rows)  # the rest of the audit ran
    assert "failed" in (tmp_path / "run" / "report.html").read_text()


def test_the_audit_opens_with_a_headline_and_per_attack_tallies(small_audit):
    result = small_audit
    line = result.headline()
    assert line.startswith("Forgotten class 3")
    hits = {
        m: sum(r.hit for r in result.rows if r.method == m and r.attack in ATTACKS) for m in MODELS
    }
    assert f"(rt {hits['rt']}, ng {hits['ng']})" in line
    alarms = sum(bool(r.predicted) for r in result.rows if r.kind == "null" and r.attack in ATTACKS)
    assert f"{alarms} false alarm" in line and "in 2 readings of 1 null model" in line
    tallies = {t.label: t for t in result.tallies()}
    assert set(tallies) == {r.label for r in result.rows if r.attack in ATTACKS}  # no baseline
    for t in tallies.values():  # every unlearned model and null model once; chance beside
        assert (t.models, t.nulls) == (2, 1) and 0 < t.chance < 1
        assert t.asr_ci[0] <= t.asr <= t.asr_ci[1]
    summary = json.loads((result.run_dir / "summary.json").read_text())
    assert summary["headline"] == line
    assert [a["attack"] for a in summary["attacks"]] == list(tallies)
    page = (result.run_dir / "report.html").read_text()
    assert page.index('id="headline"') < page.index("id='efficacy'")
    assert "false alarms / null models" in page


ATTACKS = ("param-diff", "wb-inversion")
MODELS = ("rt", "ng")


@pytest.mark.skipif(
    chromium() is None, reason="needs Debian's chromium package (.ci/run installs it)"
)
def test_report_renders_in_a_real_browser(small_audit):
    page = small_audit.run_dir / "report.html"
    dom = rendered_dom(page)
    assert "unleak audit: digits" in dom
    assert "Unlearning efficacy" in dom and "Threat model of each attack" in dom
    assert dom.count("<svg") >= 6  # per-class score charts, inline
    assert dom.count("data:image/png;base64,") >= 1  # inverted prototypes, inline
    assert "http://" not in dom and "https://" not in dom  # self-contained
    for method in ("rt", "ng"):
        assert f'<td class="l">{method}</td>' in dom
    shot_dir = Path(os.environ.get("UNLEAK_SCREENSHOT_DIR", small_audit.run_dir))
    shot = screenshot(page, shot_dir / "report.png")
    assert shot.stat().st_size > 10_000


def test_cheap_null_kinds_remove_nothing(digits, digits_original):
    """brief@, head@ and noise@ null models (the default nulls of an audit of your own) keep
    every class, and a #R replicate is another model of the same kind."""
    from unleak.evaluation import efficacy
    from unleak.experiments.nulls import build_null, check_null_kind, null_config
    from unleak.models.inference import per_class_accuracy

    orig = digits_original
    fc0 = orig.model.state_dict()
    made = {}
    for kind in ("brief@0.01#1", "brief@0.01#2", "head@0.1#1", "noise@0.05#1", "prune@0.3"):
        cfg = null_config(check_null_kind(kind), orig.config, digits, "cnn", 3)
        made[kind] = build_null(kind, orig.model, orig.config, digits, cfg)
        acc = per_class_accuracy(made[kind], digits.test.x, digits.test.y, 10)
        assert float(acc.min()) >= 0.8, (kind, acc)
    a, b = made["brief@0.01#1"].state_dict(), made["brief@0.01#2"].state_dict()
    assert any(not torch.equal(a[k], b[k]) for k in a)  # replicates differ
    head = made["head@0.1#1"].state_dict()
    changed = [k for k in head if not torch.equal(head[k], fc0[k])]
    assert changed and all(k.startswith("fc.") for k in changed)  # only the head moved
    assert efficacy(made["noise@0.05#1"], digits.test, [3]).retain_acc >= 0.9
    assert torch.equal(orig.model.state_dict()["fc.weight"], fc0["fc.weight"])  # untouched


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("prune@0.3#2", "the same model under every seed"),
        ("noise@0.05#0", "must be 1 to 99"),
        ("noise@3", "needs a number in (0.0, 1.0]"),
        ("brief@x#2", "needs a number"),
    ],
)
def test_bad_null_replicates_are_refused(kind, message):
    from unleak.experiments.nulls import check_null_kind

    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_null_kind(kind)
