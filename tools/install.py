"""Install unleak into a virtual environment, for `make`: uv where it can be had, pip otherwise.

    python tools/install.py VENV EXTRAS          # e.g. .venv "" or .venv dev,ray

Both install the same pins (constraints.txt: the CPU build of torch). uv unpacks and links in
parallel: into a fresh venv it takes ~9 s where pip takes ~50 s (docs/results.md, "make demo").
uv does not read pip's configuration, so the index settings pip has on this machine (pip.conf,
PIP_* variables) are handed to it as the matching UV_* variables; where uv cannot be installed or
fails, pip runs as before.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# pip setting -> uv variable (uv takes lists separated by spaces)
PIP_TO_UV = {
    "index-url": "UV_INDEX_URL",
    "extra-index-url": "UV_EXTRA_INDEX_URL",
    "find-links": "UV_FIND_LINKS",
    "constraint": "UV_CONSTRAINT",  # a machine-wide cap pip applies to every install
    "cert": "SSL_CERT_FILE",
}


def pip_settings(python: str) -> dict[str, str]:
    """pip's effective settings (files and PIP_* variables), later sources winning."""
    out = subprocess.run(
        [python, "-m", "pip", "config", "list"], capture_output=True, text=True, check=False
    ).stdout
    settings: dict[str, str] = {}
    for line in out.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            settings[key.rpartition(".")[2]] = value.strip().strip("'\"")
    return settings


def uv_env(python: str) -> dict[str, str]:
    env = dict(os.environ)
    for key, value in pip_settings(python).items():
        var = PIP_TO_UV.get(key)
        if var and var not in env:
            env[var] = value
    env.setdefault("UV_INDEX_STRATEGY", "unsafe-best-match")  # pip's rule: best version anywhere
    return env


def run(cmd: list[str], env: dict[str, str] | None = None) -> bool:
    return subprocess.run(cmd, env=env, check=False).returncode == 0


def main(venv: str, extras: str) -> int:
    py = sys.executable
    target = str(Path(venv) / "bin" / "python")
    # pip >= 22.3 installs into another interpreter (--python): the venv then needs no pip of its
    # own (ensurepip costs 3.5 s)
    help_text = subprocess.run([py, "-m", "pip", "--help"], capture_output=True, text=True).stdout
    outer = "--python <python>" in help_text
    make_venv = [py, "-m", "venv", *(["--without-pip"] if outer else []), venv]
    if not Path(target).exists() and not run(make_venv):
        return 1
    pip = [py, "-m", "pip", "--python", target] if outer else [target, "-m", "pip"]
    spec = f"{ROOT}[{extras}]" if extras else str(ROOT)
    constraints = str(ROOT / "constraints.txt")
    uv = shutil.which("uv") or str(Path(venv) / "bin" / "uv")
    if not Path(uv).exists():  # uv itself comes from the package index, into the venv
        run([*pip, "install", "--quiet", "uv"])
    if Path(uv).exists():
        cmd = [uv, "pip", "install", "--quiet", "--python", target, "-c", constraints, "-e", spec]
        if run(cmd, uv_env(py)):
            return 0
        sys.stderr.write("uv could not install; trying pip\n")
    fallback = [*pip, "install", "--quiet", "--no-compile", "-c", constraints, "-e", spec]
    return 0 if run(fallback) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else ""))
