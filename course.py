#!/usr/bin/env python3
"""Set up and run the SQLAlchemy Patterns course.  Needs only Python 3.11+.

    python3 course.py lab         set up if needed, then open JupyterLab on lesson 00
    python3 course.py test        set up if needed, then run the whole test suite
    python3 course.py check       the fast checks (lint, exercise sync, notebook hygiene)
    python3 course.py outputs     re-execute lessons and solutions and store their outputs
    python3 course.py exercises   regenerate exercises/ from solutions/ (an exercise notebook a
                                  learner edited is kept; --force copies it to backups/ first)
    python3 course.py setup       only create or update the environment

"Set up" means: create .venv (the course's own virtual environment) when it
is missing, install the course and its pinned dependencies when they changed in
pyproject.toml, and register the Jupyter kernel "sqlacourse".
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".sqlacourse-installed"
KERNEL = "sqlacourse"


def say(msg: str) -> None:
    print(f"[course] {msg}", flush=True)


def run(cmd: list[str], **kw) -> int:
    return subprocess.call([str(c) for c in cmd], cwd=ROOT, **kw)


def need(cmd: list[str], what: str) -> None:
    if run(cmd) != 0:
        sys.exit(f"[course] {what} failed (command: {' '.join(map(str, cmd))})")


def _stamp() -> str:
    """What the installed environment depends on: the project's requirements and this Python."""
    import json
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = {k: project.get(k) for k in ("dependencies", "optional-dependencies", "requires-python")}
    text = json.dumps(wanted, sort_keys=True) + sys.version
    return hashlib.sha256(text.encode()).hexdigest()


def bootstrap() -> None:
    if not PY.exists():
        say(f"creating the course environment in {VENV.relative_to(ROOT)} ...")
        if run([sys.executable, "-m", "venv", VENV]) != 0:
            shutil.rmtree(VENV, ignore_errors=True)
            sys.exit("[course] could not create a virtual environment. On Debian/Ubuntu "
                     "install it with: apt install python3-venv")
    if not STAMP.exists() or STAMP.read_text() != _stamp():
        say("installing the course and its pinned dependencies (first time: about a minute) ...")
        need([PY, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
              "--editable", ".[test]"], "installing the dependencies")
        need([PY, "-m", "ipykernel", "install", "--sys-prefix", "--name", KERNEL,
              "--display-name", "SQLAlchemy Patterns"], "registering the Jupyter kernel")
        _quiet_jupyterlab()
        STAMP.write_text(_stamp())


def _quiet_jupyterlab() -> None:
    """No "news" pop-up on first start: JupyterLab reads default settings from the env."""
    import json

    settings = VENV / "share" / "jupyter" / "lab" / "settings"
    settings.mkdir(parents=True, exist_ok=True)
    overrides = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false"}}
    (settings / "overrides.json").write_text(json.dumps(overrides, indent=2) + "\n")


def lab(extra: list[str]) -> int:
    # root_dir: with only a file argument JupyterLab would serve notebooks/ alone,
    # and exercises/ and solutions/ would be out of reach of its file browser.
    cmd = [BIN / "jupyter", "lab", f"--ServerApp.root_dir={ROOT}", "notebooks/00-orientation.ipynb",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # containers run as root; JupyterLab refuses without it
    say("starting JupyterLab (stop it with Ctrl-C) ...")
    os.chdir(ROOT)
    os.execv(str(cmd[0]), [str(c) for c in cmd + extra])
    return 0


def check() -> int:
    t0 = time.monotonic()
    steps = [
        ("lint", [PY, "-m", "ruff", "check", "src", "tests", "notebooks", "solutions", "exercises", "course.py", "conftest.py"]),
        ("exercise sync, hygiene, environment files",
         [PY, "-m", "pytest", "-q", "tests/test_sync.py", "tests/test_hygiene.py", "tests/test_environment.py"]),
    ]
    failed = [name for name, cmd in steps if run(cmd) != 0]
    say(f"check {'FAILED: ' + ', '.join(failed) if failed else 'passed'} in {time.monotonic() - t0:.1f} s")
    return 1 if failed else 0


def _counts(xml_path: Path) -> tuple[int, int, int]:
    try:
        root = ET.parse(xml_path).getroot()
    except (OSError, ET.ParseError):
        return 0, 0, 0
    suites = [root] if root.tag == "testsuite" else list(root)
    tests = sum(int(s.get("tests", 0)) for s in suites)
    bad = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
    skipped = sum(int(s.get("skipped", 0)) for s in suites)
    return tests - bad - skipped, bad, skipped


def _run_phase(cmd: list, env: dict[str, str]) -> tuple[int, bool]:
    """Run one phase; ``(exit code, interrupted)``.  Ctrl-C reaches the phase's pytest too
    (same process group): it is given time to stop cleanly (and stop its PostgreSQL)."""
    proc = subprocess.Popen([str(c) for c in cmd], cwd=ROOT, env=env)
    try:
        return proc.wait(), False
    except KeyboardInterrupt:
        pass
    for wait in (60, 10):
        try:
            proc.wait(timeout=wait)
            break
        except (KeyboardInterrupt, subprocess.TimeoutExpired):
            if wait == 60:
                proc.terminate()
            else:
                proc.kill()
    proc.wait()
    return proc.returncode, True


def test(extra: list[str]) -> int:
    nbval_runs = int(os.environ.get("SQLACOURSE_NBVAL_RUNS", "3"))
    pytest = [PY, "-m", "pytest", "-p", "no:cacheprovider", "-o", "console_output_style=classic"]
    sanitize = ["--nbval-sanitize-with", "tests/nbval-sanitize.cfg"]
    phases = [("helper package, graders, sync, hygiene, notebooks graded (SQLite)",
               pytest + ["-m", "not postgres", "tests"])]
    phases += [(f"strict nbval on notebooks/ and solutions/, run {i} of {nbval_runs} (SQLite)",
                pytest + ["--nbval", "notebooks", "solutions"] + sanitize)
               for i in range(1, nbval_runs + 1)]
    phases += [
        ("PostgreSQL-only tests, the grader tests and every solution graded (embedded PostgreSQL)",
         pytest + ["--backend", "embedded", "-m", "postgres or solutions or both_backends", "tests"]),
        ("lax nbval on notebooks/ and solutions/ (embedded PostgreSQL)",
         pytest + ["--backend", "embedded", "--nbval-lax", "notebooks", "solutions"]),
    ]
    totals = [0, 0, 0]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, (title, cmd) in enumerate(phases, 1):
            say(f"phase {n}/{len(phases)}: {title}")
            xml = Path(tmp) / f"phase{n}.xml"
            marker = Path(tmp) / f"phase{n}.interrupted"  # written by conftest.py on Ctrl-C
            env = dict(os.environ, SQLACOURSE_INTERRUPT_MARKER=str(marker))
            t0 = time.monotonic()
            code, interrupted = _run_phase(cmd + ["--junitxml", xml] + extra, env)
            if interrupted or marker.exists() or code in (-signal.SIGINT, 128 + signal.SIGINT):
                say(f"interrupted (Ctrl-C) during phase {n}/{len(phases)}: the test run stopped "
                    "there; the phases after it did not run, and nothing is reported as passed.")
                return 130
            p, f, s = _counts(xml)
            if code != 0 and f == 0:
                f = 1  # pytest failed without a test failing (collection, usage ...)
            totals = [totals[0] + p, totals[1] + f, totals[2] + s]
            results.append((title, code, p, f, s, time.monotonic() - t0))
    say("summary:")
    for title, code, p, f, s, secs in results:
        status = "ok  " if code == 0 else "FAIL"
        print(f"  {status} {title}: {p} passed, {f} failed, {s} skipped ({secs:.0f} s)")
    print(f"{totals[0]} passed, {totals[1]} failed, {totals[2]} skipped")
    return 0 if all(r[1] == 0 for r in results) else 1


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "help"
    if command in ("help", "-h", "--help"):
        print(__doc__)
        return 0
    if command not in {"lab", "test", "check", "outputs", "exercises", "setup"}:
        print(f"unknown command {command!r}\n{__doc__}", file=sys.stderr)
        return 2
    bootstrap()
    if command == "lab":
        return lab(argv[1:])
    if command == "test":
        try:
            return test(argv[1:])
        except KeyboardInterrupt:
            say("interrupted (Ctrl-C): the test run stopped; nothing is reported as passed.")
            return 130
    if command == "check":
        return check()
    if command in ("outputs", "exercises"):
        return run([PY, "-m", "sqlacourse", command, *argv[1:]])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
