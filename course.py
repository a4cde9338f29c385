#!/usr/bin/env python3
"""Set up and run the SQLAlchemy Patterns course.  Needs only Python 3.11+.

    python3 course.py lab         set up if needed, then open JupyterLab on lesson 00
    python3 course.py test        set up if needed, then run the whole test suite
    python3 course.py check       the fast checks (lint, exercise sync, notebook hygiene)
    python3 course.py outputs     re-execute lessons and solutions and store their outputs
    python3 course.py exercises   regenerate exercises/ from solutions/ (an exercise notebook a
                                  learner edited is kept; --force copies it to backups/ first)
    python3 course.py setup       only create or update the environment
    python3 course.py lock        remake requirements.lock and environment.yml from pyproject.toml
    python3 course.py progress    your done and not-done exercises per lesson
    python3 course.py grade PATH.ipynb [--json]
                                  run an exercise notebook in a fresh kernel and grade it
    python3 course.py grade CLASS/ ['GLOB' ...] [--jobs N] [--csv F] [--json-file F] [--feedback DIR]
                                  grade many notebooks in parallel into a gradebook

Any other arguments go through: to JupyterLab for "lab" (for example
python3 course.py lab --no-browser --port 8889), to pytest for "test"
(besides --skip-browser, which skips the browser phase).

"Set up" means: create .venv (the course's own virtual environment) when it
is missing, install exactly the packages locked in requirements.lock (with uv,
itself installed from the package index; with pip if uv cannot be had) when the
lock changed, install the course package, and register the Jupyter kernel
"sqlacourse".
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


LOCK = ROOT / "requirements.lock"
ENV_YML = ROOT / "environment.yml"
UV = "uv==0.13.9"  # the installer; pip with the same lock when uv cannot be had
LOCK_PYTHON = "3.11"  # the oldest Python the course supports; the lock covers newer ones too


def requirements_digest() -> str:
    """What the lock is made from: pyproject.toml's requirements."""
    import json
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = {k: project.get(k) for k in ("dependencies", "optional-dependencies", "requires-python")}
    return hashlib.sha256(json.dumps(wanted, sort_keys=True).encode()).hexdigest()


def _stamp() -> str:
    """What the installed environment depends on: the lock file and this Python."""
    text = LOCK.read_text(encoding="utf-8") + sys.version
    return hashlib.sha256(text.encode()).hexdigest()


def _uv_home() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "sqlacourse" / UV.replace("==", "-")


def _uv() -> Path | None:
    """uv, installed from the package index on first use: into a per-user bootstrap folder
    by this Python's pip, or else into the course's environment; None if it cannot be had."""
    exe = "uv.exe" if os.name == "nt" else "uv"
    home = _uv_home()
    for candidate in (home / "bin" / exe, BIN / exe):
        if candidate.exists():
            return candidate
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    pip = ["-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    if run([sys.executable, *pip, "--target", home, UV], **quiet) == 0 and (home / "bin" / exe).exists():
        return home / "bin" / exe
    shutil.rmtree(home, ignore_errors=True)
    if not PY.exists():
        _make_venv(None)
    if run([PY, *pip, UV], **quiet) == 0 and (BIN / exe).exists():
        return BIN / exe
    say(f"{UV} could not be installed: installing with pip instead (slower)")
    return None


def _make_venv(uv: Path | None) -> None:
    say(f"creating the course environment in {VENV.relative_to(ROOT)} ...")
    made = uv is not None and run([uv, "venv", "--quiet", "--seed", "--python", sys.executable, VENV]) == 0
    if not made and run([sys.executable, "-m", "venv", VENV]) != 0:
        shutil.rmtree(VENV, ignore_errors=True)
        sys.exit("[course] could not create a virtual environment. On Debian/Ubuntu "
                 "install it with: apt install python3-venv")


def _install(uv: Path | None) -> None:
    """Install exactly the locked packages (checked against their hashes), then the course."""
    if uv is not None:
        base = [uv, "pip", "install", "--quiet", "--python", PY]
    else:
        base = [PY, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    need(base + ["--require-hashes", "-r", LOCK], "installing the locked dependencies")
    need(base + ["--no-deps", "--editable", "."], "installing the course package")


def _register_kernel() -> None:
    """The Jupyter kernel "SQLAlchemy Patterns" inside the environment: the kernel.json
    that `ipykernel install --sys-prefix` writes, without starting a Python for it."""
    import json

    kernel = VENV / "share" / "jupyter" / "kernels" / KERNEL
    kernel.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [str(PY), "-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "SQLAlchemy Patterns",
        "language": "python",
        "metadata": {"debugger": True, "supported_encryption": ["curve"]},
        "kernel_protocol_version": "5.5",
    }
    (kernel / "kernel.json").write_text(json.dumps(spec, indent=1) + "\n", encoding="utf-8")


def bootstrap() -> None:
    if not LOCK.exists():
        sys.exit(f"[course] {LOCK.name} is missing: make it with `python3 course.py lock`")
    if PY.exists() and STAMP.exists() and STAMP.read_text() == _stamp():
        return
    t0 = time.monotonic()
    uv = None if os.environ.get("SQLACOURSE_INSTALLER") == "pip" else _uv()
    if not PY.exists():
        _make_venv(uv)
    say(f"installing the course and the packages locked in {LOCK.name} ...")
    _install(uv)
    _register_kernel()
    _configure_jupyterlab()
    STAMP.write_text(_stamp())
    say(f"environment ready ({time.monotonic() - t0:.0f} s)")


def locked_pins(lock_text: str) -> list[str]:
    """``name==version`` (with its environment marker, if any) for each package of a lock."""
    return [line.rstrip(" \\") for line in lock_text.splitlines()
            if line and not line[0].isspace() and not line.startswith("#")]


def environment_yml(lock_text: str) -> str:
    lines = [
        "# conda / Binder: the packages of requirements.lock, same versions.",
        "# Generated by `python3 course.py lock`: do not edit (tests/test_environment.py checks it).",
        "name: sqlacourse",
        "channels:",
        "  - conda-forge",
        "dependencies:",
        "  - python=3.12",
        "  - pip",
        "  - pip:",
    ]
    lines += [f"      - {pin}" for pin in locked_pins(lock_text)]
    lines.append("      - --editable .")
    return "\n".join(lines) + "\n"


def lock() -> int:
    """Remake requirements.lock (every package, with hashes) and environment.yml from pyproject.toml."""
    uv = _uv()
    if uv is None:
        sys.exit(f"[course] `lock` needs uv ({UV}) from the package index")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "lock.txt"
        need([uv, "pip", "compile", "--quiet", "pyproject.toml", "--extra", "test", "--universal",
              "--generate-hashes", "--python-version", LOCK_PYTHON, "--no-header",
              "--no-annotate", "-o", out], "resolving the dependencies")
        body = out.read_text(encoding="utf-8")
    LOCK.write_text(
        "# Every package the course installs, with its hashes. Made by `python3 course.py lock`\n"
        "# from pyproject.toml: do not edit. `course.py setup` installs it with uv (or pip).\n"
        f"# requirements-digest: {requirements_digest()}\n" + body, encoding="utf-8")
    ENV_YML.write_text(environment_yml(body), encoding="utf-8")
    say(f"wrote {LOCK.name} ({len(locked_pins(body))} packages) and {ENV_YML.name}")
    return 0


def _configure_jupyterlab() -> None:
    """Defaults for the course's JupyterLab, kept inside the environment: no "news" pop-up,
    and jupysql-plugin's settings plugin off (jupysql-plugin 0.4 applies its settings to a
    notebook toolbar that does not exist yet and logs a TypeError; without it only its
    "Format SQL" button is gone, and its SQL highlighting and table widget stay)."""
    import json

    settings = VENV / "share" / "jupyter" / "lab" / "settings"
    settings.mkdir(parents=True, exist_ok=True)
    overrides = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false"}}
    (settings / "overrides.json").write_text(json.dumps(overrides, indent=2) + "\n")
    labconfig = VENV / "etc" / "jupyter" / "labconfig"
    labconfig.mkdir(parents=True, exist_ok=True)
    page_config = {"disabledExtensions": {"jupysql-plugin:settings": True}}
    (labconfig / "page_config.json").write_text(json.dumps(page_config, indent=2) + "\n")


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
        ("lint", [PY, "-m", "ruff", "check", "src", "tests", "notebooks", "solutions", "exercises", "course.py", "conftest.py", "benchmarks"]),
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


BROWSER_PHASE = "JupyterLab in Chromium: Run All on every lesson and exercise notebook (SQLite)"


def _count_tests(cmd: list) -> int:
    out = subprocess.run([str(c) for c in cmd] + ["--collect-only", "-q"], cwd=ROOT,
                         capture_output=True, text=True).stdout
    return sum(1 for line in out.splitlines() if "::" in line)


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
    # Started with Ctrl-C ignored (a background job of a script inherits that), neither this
    # process nor the phases would stop on it: take it back, so Ctrl-C always stops the run.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    skip_browser = "--skip-browser" in extra
    extra = [a for a in extra if a != "--skip-browser"]
    nbval_runs = int(os.environ.get("SQLACOURSE_NBVAL_RUNS", "2"))
    pytest = [PY, "-m", "pytest", "-p", "no:cacheprovider", "-o", "console_output_style=classic"]
    sanitize = ["--nbval-sanitize-with", "tests/nbval-sanitize.cfg"]
    phases = [("helper package, graders, sync, hygiene, notebooks graded (SQLite)",
               pytest + ["-m", "not postgres and not browser", "tests"])]
    phases += [(f"strict nbval on notebooks/ and solutions/, run {i} of {nbval_runs} (SQLite)",
                pytest + ["--nbval", "notebooks", "solutions"] + sanitize)
               for i in range(1, nbval_runs + 1)]
    phases += [
        ("PostgreSQL-only tests, the grader tests and every solution graded (embedded PostgreSQL)",
         pytest + ["--backend", "embedded", "-m", "postgres or solutions or both_backends", "tests"]),
        ("lax nbval on notebooks/ and solutions/ (embedded PostgreSQL)",
         pytest + ["--backend", "embedded", "--nbval-lax", "notebooks", "solutions"]),
        (BROWSER_PHASE, pytest + ["-m", "browser", "tests/test_browser.py"]),
    ]
    totals = [0, 0, 0]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, (title, cmd) in enumerate(phases, 1):
            if title == BROWSER_PHASE and skip_browser:
                skipped = _count_tests(cmd)
                say(f"phase {n}/{len(phases)}: {title}: SKIPPED (--skip-browser), {skipped} tests not run")
                totals[2] += skipped
                results.append((title + " [skipped by --skip-browser]", 0, 0, 0, skipped, 0.0))
                continue
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
        status = ("SKIP" if p == f == 0 and s else "ok  ") if code == 0 else "FAIL"
        print(f"  {status} {title}: {p} passed, {f} failed, {s} skipped ({secs:.0f} s)")
    print(f"{totals[0]} passed, {totals[1]} failed, {totals[2]} skipped")
    return 0 if all(r[1] == 0 for r in results) else 1


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "help"
    if command in ("help", "-h", "--help"):
        print(__doc__)
        return 0
    if command not in {"lab", "test", "check", "outputs", "exercises", "setup", "lock", "progress", "grade"}:
        print(f"unknown command {command!r}\n{__doc__}", file=sys.stderr)
        return 2
    if command == "lock":
        return lock()
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
    if command in ("progress", "grade"):
        # From the caller's folder, so that a relative notebook path means what it says.
        return subprocess.call([str(PY), "-m", "sqlacourse", command, *argv[1:]])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
