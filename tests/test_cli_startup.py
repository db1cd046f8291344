"""The command line answers ``--help`` and refuses a misspelt name without importing the
library's heavy dependencies, and its torch-free index (``unleak/catalog.json``) says what the
registries say."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "sklearn", "pandas", "matplotlib")


def _loaded_after(code: str) -> dict[str, bool]:
    probe = (
        f"{code}\nimport json, sys\nprint(json.dumps({{m: m in sys.modules for m in {HEAVY!r}}}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_importing_the_cli_loads_no_heavy_library():
    assert _loaded_after("import unleak.cli") == dict.fromkeys(HEAVY, False)


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["audit", "--help"],
        ["attack", "--help"],
        ["methods"],
        ["audit", "--attacks", "probe-reach,nope", "--out", "never"],
        ["audit", "--methods", "rt,ftt", "--out", "never"],
        ["unlearn", "--checkpoint", "c", "--method", "ng@nope", "--forget", "3", "--out", "o"],
        ["attack", "--weights", "w", "--attack", "wb-inversion", "--criterion", "nope"],
        ["attack", "--weights", "w", "--decider", "nope"],
        ["train", "--out", "o", "--dataset", "mnistt"],
        ["train", "--out", "o", "--model", "vgg"],
        ["audit", "--defences", "nope", "--out", "never"],
    ],
    ids=lambda a: " ".join(a[:3]),
)
def test_help_and_bad_names_answer_without_torch(argv):
    code = (
        "import sys\nfrom unleak.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit as e:\n    code = e.code\n"
        "sys.stdout.flush()\nsys.stderr.flush()\nprint()\nprint('CODE', code)"
    )
    loaded = _loaded_after(code)
    assert loaded == dict.fromkeys(HEAVY, False), loaded


def test_a_bad_name_gets_the_registrys_own_message(capsys):
    from unleak.cli import main
    from unleak.errors import UnleakError
    from unleak.experiments.audit import load_config
    from unleak.experiments.settings import AttackSpec

    for argv, library in [
        (["audit", "--attacks", "nope", "--out", "never"], lambda: AttackSpec(attack="nope")),
        (
            ["audit", "--methods", "ftt", "--out", "never"],
            lambda: load_config(None, methods=["ftt"]),
        ),
        (
            ["audit", "--attacks", "probe-reach/nope", "--out", "never"],
            lambda: AttackSpec.model_validate("probe-reach/nope"),
        ),
    ]:
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
        line = capsys.readouterr().err.strip()
        with pytest.raises(UnleakError) as expected:
            library()
        assert str(expected.value).split(";")[0] in line, (line, str(expected.value))


def test_the_shipped_index_matches_the_registries():
    from unleak import catalog
    from unleak.experiments import catalog_index

    shipped = catalog.index()
    assert shipped == json.loads(catalog_index.render()), (
        "src/unleak/catalog.json is stale: run python -m unleak.experiments.catalog_index"
    )
    assert set(shipped) == set(catalog.KINDS)


def test_help_lists_every_attack_from_the_registry(capsys):
    from unleak import attacks
    from unleak.cli import main

    with pytest.raises(SystemExit):
        main(["attack", "--help"])
    text = " ".join(capsys.readouterr().out.split()).replace("- ", "-")  # wrapped at hyphens
    for name in attacks.attack_names():
        assert name in text, name
