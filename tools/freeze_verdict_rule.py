"""Freeze the verdict rule chosen by ``python -m benchmarks.verdict select`` into the package.

    python tools/freeze_verdict_rule.py

Reads ``benchmarks/results/verdict_rule.json`` (the selection, on development populations only)
and writes its rule where every audit reads it: a logistic score as the weights table at the end
of ``src/unleak/evaluation/verdict_rule.py``, a boosted-tree score as
``src/unleak/evaluation/verdict_trees.json`` (its nodes) with the rest of the rule in that file's
tail. ``tests/test_protocol.py`` checks the frozen rule against the selection.
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SELECTION = ROOT / "benchmarks" / "results" / "verdict_rule.json"
CODE = ROOT / "src" / "unleak" / "evaluation" / "verdict_rule.py"
TREES = ROOT / "src" / "unleak" / "evaluation" / "verdict_trees.json"
MARK = "# Frozen from benchmarks/results/verdict_rule.json"


def _literal(value: object) -> str:
    """Python source of a JSON scalar or list (as a tuple), strings double-quoted as ruff
    formats them, so a frozen file needs no reformatting."""
    if isinstance(value, list):
        return "(" + ", ".join(_literal(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    return json.dumps(value) if isinstance(value, str) else repr(value)


def tail(selection: dict) -> str:
    rule = dict(selection["rule"])
    stack = rule.pop("stack")
    fields = "".join(f"    {k}={_literal(v)},\n" for k, v in rule.items() if k != "voters")
    voters = f"    voters={_literal(list(rule['voters']))},\n"
    pops = selection["population"].split(" + ")
    head = (
        f"{MARK} (python -m benchmarks.verdict select, on\n"
        f"# {pops[0]} to {pops[-1]} only; frozen by tools/freeze_verdict_rule.py);\n"
        "# tests/test_protocol.py checks they agree.\n"
    )
    if "trees" in stack:
        score = "    stack=_frozen_trees(),\n"
        body = (
            "def _frozen_trees() -> Trees:\n"
            '    """The boosted trees of the chosen score, shipped beside this file."""\n'
            '    text = resources.files("unleak.evaluation").joinpath("verdict_trees.json")\n'
            '    return score_from_dict(json.loads(text.read_text(encoding="utf-8")))\n\n\n'
        )
    else:
        weights = "".join(
            f"    ({_literal(f)}, {w!r}),\n"
            for f, w in zip(stack["features"], stack["weights"], strict=True)
        )
        body = (
            "_WEIGHTS = (  # (feature, logistic weight): the stacked score of every class\n"
            f"{weights})\n"
        )
        score = (
            "    stack=Stack(\n"
            "        features=tuple(f for f, _ in _WEIGHTS),\n"
            "        weights=tuple(w for _, w in _WEIGHTS),\n"
            f"        intercept={stack['intercept']!r},\n"
            "    ),\n"
        )
    return f"{head}{body}RULE = VerdictRule(\n{voters}{fields}{score})\n"


def main() -> None:
    selection = json.loads(SELECTION.read_text())
    stack = selection["rule"]["stack"]
    code = CODE.read_text()
    code = code[: code.index(MARK)] + tail(selection)
    CODE.write_text(code)
    if "trees" in stack:
        TREES.write_text(json.dumps(stack, separators=(",", ":")) + "\n")
    elif TREES.exists():
        TREES.unlink()


if __name__ == "__main__":
    main()
