"""One source of every version: pyproject.toml's direct pins -> requirements.lock (every
package, with hashes) -> environment.yml and the installed environment."""

from __future__ import annotations

import importlib.util
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"

spec = importlib.util.spec_from_file_location("course_script", ROOT / "course.py")
course = importlib.util.module_from_spec(spec)
spec.loader.exec_module(course)


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _locked(env: dict | None = None) -> dict[str, Requirement]:
    """The locked packages by name; with ``env``, only those whose marker matches it (a
    universal lock may pin a package twice, for different Pythons)."""
    reqs = [Requirement(pin) for pin in course.locked_pins(LOCK.read_text())]
    if env is not None:
        reqs = [r for r in reqs if r.marker is None or r.marker.evaluate(env)]
    return {canonicalize_name(r.name): r for r in reqs}


def _version(req: Requirement) -> str:
    (spec_,) = req.specifier
    assert spec_.operator == "==", req
    return spec_.version


def test_the_lock_was_made_from_the_current_pyproject():
    header = re.search(r"^# requirements-digest: (\w+)$", LOCK.read_text(), re.M)
    assert header, "requirements.lock has no requirements-digest line: run `python3 course.py lock`"
    assert header[1] == course.requirements_digest(), (
        "pyproject.toml's requirements changed since requirements.lock was made: "
        "run `python3 course.py lock`")


def test_every_direct_pin_is_locked_at_its_version():
    project = _project()
    for text in project["dependencies"] + project["optional-dependencies"]["test"]:
        req = Requirement(text)
        locked = _locked(default_environment())
        if req.marker is not None and not req.marker.evaluate(default_environment()):
            continue
        name = canonicalize_name(req.name)
        assert name in locked, f"{req.name} is not in requirements.lock"
        assert _version(locked[name]) == _version(req), f"{req.name}: pyproject and lock disagree"


def test_every_locked_package_has_a_hash():
    blocks = re.split(r"\n(?=\S)", LOCK.read_text().split("\n", 3)[3])
    for block in blocks:
        if block.strip():
            assert "--hash=sha256:" in block, f"no hash for {block.splitlines()[0]}"


def test_environment_yml_is_generated_from_the_lock():
    expected = course.environment_yml("\n".join(LOCK.read_text().splitlines()[3:]) + "\n")
    assert (ROOT / "environment.yml").read_text() == expected, (
        "environment.yml drifted from requirements.lock: run `python3 course.py lock`")


def test_python_floor_is_the_same():
    assert _project()["requires-python"] == ">=3.11"
    assert course.LOCK_PYTHON == "3.11"
    version = re.search(r"- python=(\d+)\.(\d+)", (ROOT / "environment.yml").read_text())
    assert version and (int(version[1]), int(version[2])) >= (3, 11)


def test_the_installed_environment_is_exactly_the_lock():
    """Every package in this environment is locked, at the locked version, and every locked
    package meant for this platform is installed (besides the installers and the course)."""
    if Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():
        import pytest

        pytest.fail(f"run the tests with the course's own Python (.venv), not {sys.executable}")
    locked = _locked(default_environment())
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    extra = set(installed) - set(locked) - {"pip", "uv", "setuptools", "wheel", "sqlacourse"}
    assert not extra, f"installed but not locked: {sorted(extra)}"
    missing = set(locked) - set(installed)
    assert not missing, f"locked but not installed: {sorted(missing)}"
    wrong = {n: (installed[n], _version(r)) for n, r in locked.items() if installed[n] != _version(r)}
    assert not wrong, f"installed version differs from the lock: {wrong}"
