"""Audit your own models: a net unleak never saw (examples/own_model.py, plain PyTorch), its
original and an rt-unlearned copy saved with torch.save; the verdict names the forgotten class
and gives no false positive on the untouched original. Also: the folder reader, the 80-column
table, --normalize."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from rich.console import Console

import unleak as ul
from unleak.cli import render
from unleak.errors import ConfigError, DataError, ModelError
from unleak.evaluation.verdict import RULE
from unleak.experiments.audit import load_config

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "own_model.py"


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    """The README's example, run as a user would: the script, then `unleak audit`."""
    out = tmp_path_factory.mktemp("own")
    subprocess.run([sys.executable, str(EXAMPLE), str(out)], check=True, timeout=600)
    cmd = [
        sys.executable,
        "-m",
        "unleak.cli",
        "audit",
        "--model-def",
        f"{EXAMPLE}:OwnNet",
        "--dataset",
        f"npz:{out / 'digits.npz'}",
        "--original",
        str(out / "original.pt"),
        "--unlearned",
        str(out / "unlearned.pt"),
        "--unlearned",
        str(out / "original.pt"),  # the untouched original, audited as if unlearned
        "--out",
        str(out / "audit"),
    ]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=900, env={"COLUMNS": "80", **_env()}
    )
    assert proc.returncode == 0, proc.stderr
    return out, proc.stdout


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


def test_the_verdict_finds_the_class_and_no_false_positive(own):
    out, stdout = own
    summary = json.loads((out / "audit" / "summary.json").read_text())
    verdict = summary["verdict"]
    unlearned, original = str(out / "unlearned.pt"), str(out / "original.pt")
    # the twelfth round's rule (docs/protocol.md) calls class 8 removed beside 3 (score 0.45
    # at the cut 0.3, its test accuracy intact): a false removal the README shows, as the sixth
    # to eighth and the eleventh rounds' rules made; the ninth and tenth read 3 alone. Your
    # labels contradict it, and the verdict line says so. Pinned so a change is seen.
    assert verdict[unlearned]["removed"] == [3, 8]
    assert verdict[unlearned]["status"]["3"] == "removed"
    assert verdict[unlearned]["removed_kept_accuracy"] == [8]  # the call the labels contradict
    assert "contradict removed for 8" in " ".join(stdout.split())
    assert verdict[original]["removed"] == []
    assert verdict[original]["damaged"] == []
    # the default nulls: 24, so that no false alarm bounds the verdict's FPR under 15%; the
    # fourth round's rule calls one of them (a head re-fit: class 8) here, 1/24, <= 20%
    assert verdict[unlearned]["null_models"] == 24
    assert verdict[unlearned]["judged_nulls"] == 24
    assert verdict[unlearned]["false_alarms"] <= 1
    assert verdict[unlearned]["fpr_hi"] <= 0.21
    assert not verdict[unlearned]["wrecked"] and not verdict[original]["wrecked"]
    assert verdict[unlearned]["votes"]["3"]  # which attacks named it
    probability = verdict[unlearned]["probability"]  # the stacked score, per class
    assert (
        probability[3] >= RULE.z_cut > max(p for c, p in enumerate(probability) if c not in (3, 8))
    )
    assert verdict[unlearned]["caveat"] == ""  # 24 nulls, every attack the score reads
    voters = {v["attack"]: v for v in verdict[unlearned]["voters"]}
    assert set(voters) == set(RULE.voters)
    assert all(v["nulls"] == 24 for v in voters.values())
    assert any(c == [3] for c in verdict[unlearned]["answers"].values())  # each attack's answer
    assert "param-dot/kmeans" in verdict[unlearned]["failed"]  # needs --known-classes: said
    # the verdict comes first, in the terminal and in the report
    text = " ".join(stdout.split())
    assert text.startswith(f"{unlearned}: REMOVED, the label leaks: class 3 (")
    assert verdict[unlearned]["accuracy"][3] < 0.1 and verdict[unlearned]["hurt_by_accuracy"] == []
    assert "on your null models (<= " in text
    html = (out / "audit" / "report.html").read_text()
    assert html.index("id='verdict'") < html.index('id="setup"')
    # nobody said what was forgotten: no exact-set hit is counted for the unlearned models
    assert "exact hits" in stdout and " 1/2 " not in stdout and " 2/2 " not in stdout


def _evidence(model: str, features: dict[str, dict[str, list[float]]], named=None):
    """An Evidence of three attacks: ``features[attack]`` its per-class features, ``named``
    the classes each names at its own rule."""
    from unleak.evaluation.verdict import Answer, Evidence

    ev = Evidence(model)
    for attack in ("probe-reach", "wb-inversion", "bb-genetic"):
        classes = (named or {}).get(attack, [])
        ev.answers[attack] = Answer(
            attack, attack, "queries", classes, [0.0] * 4, features.get(attack, {})
        )
    return ev


CALIBRATED = {"probe-reach": "rarity", "wb-inversion": "steps_to_90", "bb-genetic": "entropy"}


def _nulls(n: int = 6, k: int = 4) -> list:
    rng = np.random.default_rng(0)
    return [
        _evidence(f"n{i}", {a: {f: list(rng.normal(0, 0.1, k))} for a, f in CALIBRATED.items()})
        for i in range(n)
    ]


def test_a_named_vote_counts_only_attacks_that_flag_no_null():
    from unleak.evaluation.verdict import VerdictRule, judge, null_false_alarms

    rule = VerdictRule(
        ("probe-reach", "wb-inversion", "bb-genetic"), 1, 0.0, "named", 0.0, "probe-reach:rarity", 4
    )
    nulls = _nulls()
    nulls[0].answers["bb-genetic"].named = [2]  # bb-genetic flags one null: it is not heard
    mine = {a: {f: [0.0] * 4} for a, f in CALIBRATED.items()}
    mine["probe-reach"]["rarity"] = [0.0, 0.0, 0.0, 5.0]  # class 3: far weaker than on nulls
    target = _evidence("m", mine, {"probe-reach": [1], "bb-genetic": [2]})
    v = judge(target, nulls, rule, 4)
    assert v.removed == [1]  # probe-reach's word; bb-genetic's [2] is not counted
    assert v.votes == {1: ["probe-reach"]}
    heard = {x.attack: (x.votes, x.false_alarms) for x in v.voters}
    assert heard == {"probe-reach": (True, 0), "wb-inversion": (True, 0), "bb-genetic": (False, 1)}
    assert v.damaged == [3] and v.status == {0: "intact", 1: "removed", 2: "intact", 3: "damaged"}
    assert v.answers["bb-genetic"] == [2]  # its answer stays visible
    # leave one out: the null bb-genetic flagged is judged with the 5 others, where bb-genetic
    # is clean, so it is a false alarm of the verdict
    loo = null_false_alarms(nulls, rule, 4)
    assert [bool(x.removed) for x in loo] == [True, False, False, False, False, False]


def test_a_stacked_rule_reads_each_class_against_your_nulls_and_the_other_classes():
    from unleak.evaluation.stacking import FEATURE_SETS, Stack, class_features
    from unleak.evaluation.verdict import VerdictRule, judge, null_false_alarms

    # the frozen rule is stacked over the voters' features (benchmarks/results/verdict_rule.json)
    assert RULE.vote_by == "stacked" and RULE.stack is not None
    assert set(RULE.stack.features) <= set(FEATURE_SETS["all"])
    assert RULE.stack.attacks() == list(RULE.voters)
    # a stack of three features: far from the nulls, apart from the other classes, named
    names = ("probe-reach:rarity:z", "probe-reach:rarity:rel", "bb-genetic:named")
    stack = Stack(names, (1.0, 1.0, 1.0), -4.0)
    rule = VerdictRule(("probe-reach", "bb-genetic"), 1, 1.0, "stacked", 0.5, "x:y", 1e9, 0, stack)
    nulls = _nulls(n=12, k=10)
    mine = {a: {f: [0.0] * 10} for a, f in CALIBRATED.items()}
    mine["probe-reach"]["rarity"][1] = 3.0  # ~30 null SDs out
    target = _evidence("m", mine, {"bb-genetic": [1, 2]})
    x = class_features(target, nulls, 10, names)
    assert x.shape == (10, 3) and x[1, 0] > 3 and x[1, 1] == 4.0  # log(1 + 30), clipped / 5
    v = judge(target, nulls, rule, 10)
    assert v.removed == [1]  # class 2 is only named
    assert v.probability[1] > 0.9 and v.probability[2] < 0.1
    assert v.votes == {1: ["bb-genetic"], 2: ["bb-genetic"]}
    assert "class 1 (score " in v.sentence()
    # 12 nulls, not the 24 it was fitted on: the verdict says to trust the score less
    assert "removal score read on 12 null models" in v.caveat and "trust it less" in v.sentence()
    assert not any(x.removed for x in null_false_alarms(nulls, rule, 10))
    # a method that moves the whole model: every class far from the nulls, none from the others
    moved = {a: {f: [3.0 + 0.01 * c for c in range(10)]} for a, f in CALIBRATED.items()}
    assert judge(_evidence("m", moved), nulls, rule, 10).removed == []
    # an attack that failed is a witness that said nothing: zeros, and all nulls "flagged"
    share = class_features(_evidence("m", mine), nulls, 10, ("param-diff:share",))
    assert (share == 1.0).all()


def test_a_model_that_lost_most_of_its_classes_reads_as_wrecked():
    from unleak.evaluation.verdict import VerdictRule, judge, lost_retained, null_false_alarms

    assert RULE.wrecked_by == "hurt" and 0 < RULE.wrecked_cut <= 1  # the frozen reading
    named = ("probe-reach",), 1, 1.0, "named", 0.0, "probe-reach:rarity", 4
    rule = VerdictRule(*named, wrecked_by="hurt", wrecked_cut=0.6)
    nulls = _nulls(n=12, k=10)
    mine = {a: {f: [0.0] * 10} for a, f in CALIBRATED.items()}
    mine["probe-reach"]["rarity"] = [5.0] * 5 + [0.0] * 5  # five classes far weaker
    five = judge(_evidence("m", mine, {"probe-reach": [0, 1]}), nulls, rule, 10)
    assert five.removed == [0, 1] and five.damaged == [2, 3, 4] and not five.wrecked
    mine["probe-reach"]["rarity"] = [5.0] * 7 + [0.0] * 3  # seven of ten: more than a forget set
    seven = judge(_evidence("m", mine, {"probe-reach": [0, 1]}), nulls, rule, 10)
    assert seven.wrecked and seven.alarm and seven.to_dict()["wrecked"] is True
    text = seven.sentence()
    assert text.startswith("WRECKED: 7 of 10 classes removed or damaged")
    assert "cannot be told from the damage; removed: class 0 (" in text
    assert not any(x.alarm for x in null_false_alarms(nulls, rule, 10))
    # the labelled check: under half the original's accuracy on the classes outside the forget set
    original = [1.0] * 10
    assert lost_retained([0.0] + [0.4] * 9, original, [0])
    assert not lost_retained([0.0] + [0.9] * 9, original, [0])
    assert not lost_retained([], original, [0])


def test_the_verdict_text():
    from unleak.evaluation.verdict import Verdict, Voter

    v = Verdict(
        "m.pt",
        removed=[3],
        damaged=[7],
        votes={3: ["probe-reach", "wb-inversion"]},
        voters=[Voter("probe-reach", 0, 24, True), Voter("wb-inversion", 0, 24, True)],
        nulls=24,
        false_alarms=0,
        judged_nulls=24,
    )
    assert v.sentence(["a", "b", "c", "cat", "e", "f", "g", "h"]) == (
        "REMOVED, the label leaks: class 3 (cat) (2 of 2 voters: probe-reach, wb-inversion); "
        "damaged: 7 (h); verdict's false alarms 0/24 on your null models (<= 14%, 95%)"
    )
    d = v.to_dict()
    assert d["removed"] == [3] and d["damaged"] == [7] and d["fpr"] == 0.0
    assert d["requested"] == [] and d["requested_not_removed"] == []
    # told the request: what it left in place, and what was removed beyond it
    v.requested, v.accuracy = [3, 5], [1.0] * 3 + [0.0] + [1.0] + [0.97] + [1.0] * 2
    v.removed = [3, 6]
    assert (
        "; you asked to forget 3, 5: not read removed: 5 (test accuracy 0.97); removed beyond "
        "it: 6; verdict's" in v.sentence()
    )
    assert v.to_dict()["requested_not_removed"] == [5]
    v.requested = [3, 6]
    assert "; you asked to forget 3, 6: all read removed; verdict's" in v.sentence()
    # with the original's accuracy too: a removed class that kept its accuracy is said
    v.original_accuracy = [1.0] * 8
    assert v.to_dict()["removed_kept_accuracy"] == [6]
    assert "; your test labels contradict removed for 6 (test accuracy 1.00, original 1.00)" in (
        v.sentence()
    )
    none = Verdict("m.pt")
    assert none.sentence() == (
        "no verdict without null models; false-alarm rate not measured (no null models: give "
        "your original)"
    )


def test_the_terminal_table_fits_80_columns(own):
    _, stdout = own
    lines = stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    assert "…" not in stdout


def test_the_demo_table_fits_80_columns(tmp_path):
    from unleak.experiments.audit import audit, load_config

    result = audit(
        load_config(
            None,
            forget=[3],
            methods=["rt", "ng"],
            null_models=["original"],
            train={"epochs": 3},
            unlearn={"rt": {"epochs": 3}},
        )
    )
    console = Console(width=80, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(render.audit_table(result))
    text = console.export_text()
    assert "…" not in text and all(len(line) <= 80 for line in text.splitlines())
    assert "rt" in text and "original (null)" in text


def test_folder_data_in_imagefolder_layout(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in ("cat", "dog", "emu"):
        (tmp_path / "pets" / c).mkdir(parents=True)
        for i in range(6):
            pixels = rng.integers(0, 256, (8, 8), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "pets" / c / f"{i}.png")
    data = ul.data.load(f"folder:{tmp_path / 'pets'}")
    assert data.class_names == ("cat", "dog", "emu") and data.input_shape == (1, 8, 8)
    assert len(data.train) + len(data.test) == 18 and set(data.test.y.tolist()) == {0, 1, 2}
    # mixed sizes, an unreadable image, an empty class: one line each, naming the file
    Image.fromarray(np.zeros((9, 8), np.uint8)).save(tmp_path / "pets" / "emu" / "big.png")
    with pytest.raises(DataError, match=r"big.png is 8x9 but the first image is 8x8"):
        ul.data.load(f"folder:{tmp_path / 'pets'}")
    (tmp_path / "pets" / "emu" / "big.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"big.png is not a readable image"):
        ul.data.load(f"folder:{tmp_path / 'pets'}")
    (tmp_path / "pets" / "emu" / "big.png").unlink()
    (tmp_path / "pets" / "fox").mkdir()
    with pytest.raises(DataError, match=r"fox holds no image"):
        ul.data.load(f"folder:{tmp_path / 'pets'}")


def test_normalize_wraps_a_model_trained_on_normalised_inputs(own):
    out, _ = own
    spec = importlib.util.spec_from_file_location("own_model", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    net = module.OwnNet()
    net.load_state_dict(torch.load(out / "original.pt", weights_only=True))
    wrapped = ul.models.userdef.with_normalization(net, [0.5], [0.25])
    x = torch.rand(4, 1, 8, 8)
    torch.testing.assert_close(wrapped(x), net((x - 0.5) / 0.25))
    assert ul.models.head(wrapped) is net.classifier
    with pytest.raises(ConfigError, match="normalize needs as many std"):
        load_config(None, unlearned=["x.pt"], normalize={"mean": [0.1, 0.2], "std": [0.3]})


def test_a_full_pickle_is_refused_and_a_state_dict_accepted(tmp_path):
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    torch.save(net.state_dict(), tmp_path / "state.pt")
    torch.save({"state_dict": net.state_dict(), "epoch": 3}, tmp_path / "wrapped.pt")
    torch.save(net, tmp_path / "whole.pt")  # a full pickle: would run code when loaded
    for name in ("state.pt", "wrapped.pt"):
        tensors = ul.models.checkpoint.read_tensors(tmp_path / name)
        assert set(tensors) == set(net.state_dict())
    with pytest.raises(ModelError, match="weights-only loading refuses"):
        ul.models.checkpoint.read_tensors(tmp_path / "whole.pt")
