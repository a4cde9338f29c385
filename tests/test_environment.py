"""environment.yml (conda, Binder) and pyproject.toml pin the same dependencies."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _norm(req: str) -> str:
    return re.sub(r"\s+", "", req).replace('"', "'").lower()


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_norm(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]}
    pip_lines, in_pip = [], False
    for line in (ROOT / "environment.yml").read_text().splitlines():
        if re.match(r"\s*- pip:\s*$", line):
            in_pip = True
            continue
        if in_pip and re.match(r"\s{4,}- ", line):
            pip_lines.append(line.strip()[2:].strip())
        elif in_pip and line.strip() and not line.startswith(" " * 4):
            in_pip = False
    listed = {_norm(r) for r in pip_lines if not r.startswith("--")}
    assert listed == wanted, f"only in pyproject: {wanted - listed}; only in environment.yml: {listed - wanted}"
    assert "--editable ." in pip_lines, "environment.yml must install the course package itself"


def test_python_floor_is_the_same():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.11"
    version = re.search(r"- python=(\d+)\.(\d+)", (ROOT / "environment.yml").read_text())
    assert version and (int(version[1]), int(version[2])) >= (3, 11)
