"""The code's default decision rules are the ones chosen on the development population alone.

benchmarks/calibrate.py replays every (reading, decider, constant) of a grid on the stored
evidence of the development sweeps and writes its choice to benchmarks/results/calibration.json;
benchmarks/heldout.py then reports those frozen rules on the test population (docs/protocol.md).
A default changed in the code without rerunning the calibration fails here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from unleak.attacks.base import Attack, Rule, attack_class

ROOT = Path(__file__).resolve().parents[1]
CALIBRATION = ROOT / "benchmarks" / "results" / "calibration.json"


def calibrated() -> dict:
    return json.loads(CALIBRATION.read_text())


def test_the_calibration_saw_the_development_population_only():
    from benchmarks import calibrate, heldout

    cal = calibrated()
    assert cal["populations"] == list(calibrate.DEV) == list(heldout.DEV)
    assert not set(calibrate.DEV) & set(heldout.TEST)
    assert cal["max_fpr"] == calibrate.MAX_FPR
    assert set(cal["attacks"]) == {
        "probe-reach",
        "param-diff",
        "param-dot",
        "wb-inversion",
        "bb-genetic",
    }


def test_the_populations_do_not_share_a_model():
    """The one-command protocol runs the sweeps the table reports; no (data set, seed) original is
    in both populations, except MNIST seed 0, which heldout.slice_of drops from the test side."""
    from benchmarks import heldout, protocol

    from unleak.experiments.sweep import load_sweep_config

    assert set(protocol.TEST) == set(heldout.TEST)
    assert tuple(protocol.DEVELOPMENT) == heldout.DEV

    def originals(names):
        out = set()
        for name in names:
            config = load_sweep_config(ROOT / "benchmarks" / "sweeps" / f"{name}.yaml")
            out |= {(d, m, s) for d in config.datasets for m in config.models for s in config.seeds}
        return out

    shared = originals(heldout.DEV) & originals(heldout.TEST)
    assert shared <= {("mnist", None, 0)}


@pytest.mark.parametrize(
    "name", ["probe-reach", "param-diff", "param-dot", "wb-inversion", "bb-genetic"]
)
def test_the_default_rule_is_the_calibrated_one(name):
    chosen = calibrated()["attacks"][name]["chosen"]
    cls = attack_class(name)
    assert cls.rule == Rule(
        reading=chosen["reading"],
        decider=chosen["decider"],
        constant=chosen["constant"],
        absolute=chosen["absolute"],
    )
    assert cls.default_decider == chosen["decider"]
    # the decider an attack builds by default carries the constant (or the evidence does)
    bare = object.__new__(cls)
    decider = Attack.make_decider(bare, None)
    assert decider.name == chosen["decider"]
    for key, value in cls.rule.decider_args().items():
        assert getattr(decider, key) == value
    if cls.criteria:  # screening readings: the default criterion reads the rule's feature
        assert cls.criteria[cls.default_criterion][0] == chosen["reading"]
        if chosen["absolute"]:
            assert cls.criteria[cls.default_criterion][1] == chosen["constant"]
        default = cls.Params.model_fields.get("criterion")
        assert default is None or default.default == cls.default_criterion


def test_the_chosen_rule_keeps_its_false_positive_bound_on_development():
    for name, entry in calibrated()["attacks"].items():
        chosen = entry["chosen"]
        assert chosen["fpr"] <= calibrated()["max_fpr"], name
        assert chosen["nulls"] >= 20 and chosen["n"] >= 100, name
        better = [
            r
            for r in entry["grid"]
            if r["fpr"] <= calibrated()["max_fpr"] and r["asr"] > chosen["asr"]
        ]
        assert not better, f"{name}: the grid has a better rule than the chosen one"


def test_the_knowledge_modes_rules_are_the_ones_chosen_on_knowledge_dev():
    """Each parameter attack's rule per knowledge mode is benchmarks/knowledge.py's choice on
    knowledge-dev; kept keeps the frozen rule; dev and test share no unit or data set."""
    from benchmarks.knowledge import GAPS, POPULATIONS

    from unleak import attacks as atk

    chosen = json.loads((ROOT / "benchmarks" / "results" / "knowledge_rule.json").read_text())
    assert chosen["population"] == "knowledge-dev"
    for name in ("param-dot", "param-diff"):
        cls = atk.attack_class(name)
        assert set(cls.rules) == set(atk.MODES)
        assert cls.rules["kept"] is cls.rule
        for mode in set(atk.MODES) - {"kept"}:
            rule, pick = cls.rules[mode], chosen["rules"][f"{name}|{mode}"]
            assert (rule.decider, rule.constant, rule.absolute) == ("kmeans", pick["gap"], False)
            assert pick["gap"] in GAPS and pick["dev"]["fpr"]["rate"] <= chosen["max_dev_fpr"]
    assert not {u.name for u in POPULATIONS["dev"]} & {u.name for u in POPULATIONS["test"]}
    assert not {u.dataset for u in POPULATIONS["dev"]} & {u.dataset for u in POPULATIONS["test"]}


def test_the_verdict_rule_is_the_one_chosen_on_the_development_populations():
    """evaluation/verdict_rule.py's RULE is benchmarks/verdict.py's choice on the twelfth
    round's development populations (verdict-dev to -dev12: the earlier rounds' tests), and the
    selection saw no unit of verdict-test12."""
    from dataclasses import asdict

    from benchmarks import verdict
    from benchmarks.verdict_pop import POPULATIONS

    from unleak.evaluation.verdict import RULE, VerdictRule

    chosen = json.loads((ROOT / "benchmarks" / "results" / "verdict_rule.json").read_text())
    assert json.loads(json.dumps(asdict(RULE))) == chosen["rule"]
    assert VerdictRule.from_dict(chosen["rule"]) == RULE
    folders = [verdict.FOLDERS[p] for p in verdict.DEVELOPMENT]
    # each round made the last test development: dev, test, test2 ... test11
    assert folders == ["dev", "test", *(f"test{n}" for n in range(2, 12))]
    dev = {u.name for pop in folders for u in POPULATIONS[pop]}
    assert set(chosen["units"]) == dev
    assert not dev & {u.name for u in POPULATIONS["test12"]}
    # no (data set, seed) original is in two populations
    seen: set = set()
    for pop in POPULATIONS:
        these = {(u.dataset, u.seed) for u in POPULATIONS[pop]}
        assert not seen & these, pop
        seen |= these
    # no method of a test (the fourth round's to the twelfth's) was in another population
    methods = {pop: {m for u in POPULATIONS[pop] for m, _ in u.methods} for pop in POPULATIONS}
    for test in (f"test{n}" for n in range(4, 13)):
        others = set().union(*(methods[p] for p in POPULATIONS if p != test))
        assert not methods[test] & others, test
    # the declared wrecked choice: the most wrecked-aware hits within 5% false alarms
    ok = [
        w for w in chosen["wrecked_candidates"] if w["aware_fpr"]["k"] <= 0.05 * w["aware_fpr"]["n"]
    ]
    best = max(ok, key=lambda w: (w["aware"]["k"], w["cut"]))
    assert (best["by"], best["cut"]) == (RULE.wrecked_by, RULE.wrecked_cut)


def _stored_units(population, monkeypatch, tmp_path):
    """The population read from its stored evidence alone (as on a clone: no runs/), checked to
    be the declared population: every unit, every method setting, nothing else."""
    from benchmarks import verdict
    from benchmarks.verdict_pop import POPULATIONS, method_label

    monkeypatch.setattr(verdict, "OUT", tmp_path)
    units = verdict.load_units(population)
    declared = POPULATIONS[verdict.FOLDERS[population]]
    assert sorted(u.name for u in units) == sorted(u.name for u in declared)
    by_name = {d.name: d for d in declared}
    for u in units:
        d = by_name[u.name]
        ran = {n.split("-", 1)[1] for n in [*u.truth, *u.failed]}
        assert ran == {method_label(m, o) for m, o in d.methods}, u.name
        assert len(u.nulls) == 24 and set(u.unlearned) == set(u.truth)
    return units


@pytest.mark.parametrize(
    "population",
    [
        "dev",
        "dev2",
        "dev3",
        "dev4",
        "dev5",
        "dev6",
        "dev7",
        "dev8",
        "dev9",
        "dev10",
        "dev11",
        "dev12",
        "test12",
    ],
)
def test_the_reported_figures_replay_from_the_stored_evidence(population, monkeypatch, tmp_path):
    """verdict.json's rows of every population are the frozen RULE applied to the evidence
    committed in benchmarks/results/verdict_evidence."""
    from benchmarks import verdict

    units = _stored_units(population, monkeypatch, tmp_path)
    reported = json.loads((ROOT / "benchmarks" / "results" / "verdict.json").read_text())
    row = reported["populations"][population]["rows"]["verdict"]
    assert _same(verdict.tally(units, verdict.RULE).rates(), row)


@pytest.mark.parametrize(
    ("round_", "population", "as_then"),
    [
        ("4", "dev5", "test4"),
        ("4", "dev6", "test5"),
        ("6", "dev7", "test6"),
        ("7", "dev8", "test7"),
        ("8", "dev9", "test8"),
        ("9", "dev10", "test9"),
        ("10", "dev11", "test10"),
        ("11", "dev12", "test11"),
    ],
)
def test_an_earlier_rounds_held_out_figures_replay(
    round_, population, as_then, monkeypatch, tmp_path
):
    """The fourth round's rule on verdict-test4 and -test5, the sixth's to the eleventh's on
    verdict-test6 to -test11 (development now) give the figures recorded when they were held
    out (benchmarks/results/verdict_roundN.json): the eleventh round's merge of proto-transfer's
    answers changed no other reading."""
    from benchmarks import verdict

    from unleak.evaluation.verdict import VerdictRule

    units = _stored_units(population, monkeypatch, tmp_path)
    then = json.loads((ROOT / "benchmarks" / "results" / f"verdict_round{round_}.json").read_text())
    rule = VerdictRule.from_dict(then["rule"])
    row = then["populations"][as_then]["rows"]["verdict"]
    assert _same(verdict.tally(units, rule).rates(), row)


def _same(rates, row) -> bool:
    """Equal as JSON: an empty slice's interval is NaN, which equals nothing, itself included."""
    return json.dumps(rates, sort_keys=True) == json.dumps(row, sort_keys=True)


def test_a_frozen_tree_score_is_the_fitted_classifier(monkeypatch, tmp_path):
    """The ninth round's tree family: a boosted-tree fit on real development rows, frozen as
    :class:`~unleak.evaluation.stacking.Trees` and read back from its JSON form, gives
    scikit-learn's own probabilities, bit for bit, without scikit-learn."""
    from dataclasses import asdict

    import numpy as np
    from benchmarks import verdict_stack
    from sklearn.ensemble import HistGradientBoostingClassifier

    from unleak.evaluation.stacking import Trees, score_from_dict

    units = _stored_units("dev5", monkeypatch, tmp_path)
    rows = verdict_stack.model_rows(units)
    x = np.concatenate([r.x for r in rows])
    y = np.concatenate([r.y for r in rows])
    model = HistGradientBoostingClassifier(**verdict_stack.TREE_SETTINGS).fit(x, y)
    frozen = verdict_stack.frozen_trees(model, verdict_stack.EVERY)
    again = score_from_dict(json.loads(json.dumps(asdict(frozen))))
    assert isinstance(again, Trees) and again == frozen
    expected = model.predict_proba(x)[:, 1]
    assert np.array_equal(frozen.of(x), expected) and np.array_equal(again.of(x), expected)
    assert 0 < int((expected >= 0.5).sum()) < len(expected)  # it separates something
