"""JupyterLab in a real browser: every lesson and exercise notebook, Run All, as a learner would.

JupyterLab is started by the course's own command (``python3 course.py lab``) and driven
with Playwright in Debian's Chromium (``/usr/bin/chromium``, or ``$SQLACOURSE_CHROMIUM``);
Playwright's own browser downloads are never used. For each notebook: open it, Run All,
wait until every code cell has run and the kernel is idle, then assert

* no error output (except in cells tagged ``raises-exception``),
* no error in the browser console (the course's JupyterLab extensions included),
* every plot rendered as a picture and every ER diagram drawn (as many as the stored
  outputs hold), and every ``check()`` cell's feedback rendered.

Then one exercise cell gets a wrong and a right answer typed in, and its check must say so.
Nothing is saved: autosave is off for this server, and the test fails if a notebook file
changed. A failure keeps a screenshot in ``test-artifacts/browser/``.

Run by ``python3 course.py test`` as a phase of its own (``--skip-browser`` skips it, and
the summary says so).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
NOTEBOOKS = sorted(ROOT.glob("notebooks/*.ipynb")) + sorted(ROOT.glob("exercises/*.ipynb"))
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
RUN_TIMEOUT_MS = 240_000


def chromium_path() -> str | None:
    explicit = os.environ.get("SQLACOURSE_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).exists() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _digest(paths) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


@pytest.fixture(scope="module")
def lab():
    """JupyterLab started with `python3 course.py lab`, autosave off, its own settings."""
    if chromium_path() is None:
        pytest.fail("Chromium is not installed, so JupyterLab cannot be tested in a browser. "
                    "Install Debian's package (`sudo apt-get install chromium`), point "
                    "SQLACOURSE_CHROMIUM at a Chromium binary, or skip this phase explicitly "
                    "with `python3 course.py test --skip-browser`.")
    before = _digest(NOTEBOOKS)
    tmp = Path(tempfile.mkdtemp(prefix="sqlacourse-browser-"))
    settings = tmp / "settings"
    (settings / "@jupyterlab" / "docmanager-extension").mkdir(parents=True)
    (settings / "@jupyterlab" / "docmanager-extension" / "plugin.jupyterlab-settings").write_text(
        json.dumps({"autosave": False}))
    (settings / "@jupyterlab" / "notebook-extension").mkdir(parents=True)
    (settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings").write_text(
        json.dumps({"windowingMode": "none"}))  # every cell in the page, to look at them all
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(settings),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"),
               SQLACOURSE_PROGRESS_FILE=str(tmp / "progress.json"))
    log = open(tmp / "lab.log", "w")
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "course.py"), "lab", "--no-browser", f"--port={port}",
         "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}",
         "--LabApp.expose_app_in_browser=True"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail("JupyterLab did not start:\n" + (tmp / "lab.log").read_text()[-3000:])
                time.sleep(0.3)
        yield {"base": base, "token": token}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)
        after = _digest(NOTEBOOKS)
        assert after == before, "a notebook file was changed by the browser test"


@pytest.fixture(scope="module")
def browser(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, lab, request):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.console_errors = []
    pg.on("console", lambda m: pg.console_errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.console_errors.append(f"uncaught: {e}"))
    yield pg
    if getattr(request.node, "rep_call_failed", False):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = request.node.name.replace("/", "_").replace("[", "-").rstrip("]")
        shot = ARTIFACTS / f"{name}.png"
        pg.screenshot(path=str(shot), full_page=True)
        print(f"screenshot of the failure: {shot.relative_to(ROOT)}")
    context.close()
    _shut_down_kernels(lab)


KERNEL_IDLE = """() => {
    const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
    return !!k && k.status === 'idle' && w.content.model.cells.length > 0;
}"""

ALL_RAN = """() => {
    const w = window.jupyterapp.shell.currentWidget;
    const cells = w.content.model.cells;
    for (let i = 0; i < cells.length; i++) {
        const c = cells.get(i);
        if (c.type === 'code' && (c.executionCount === null || c.executionState === 'running')) return false;
    }
    return w.sessionContext.session.kernel.status === 'idle';
}"""

CELLS = """() => {
    const cells = window.jupyterapp.shell.currentWidget.content.model.cells;
    const out = [];
    for (let i = 0; i < cells.length; i++) {
        const c = cells.get(i).toJSON();
        if (c.cell_type === 'code') out.push(c);
    }
    return out;
}"""


def _shut_down_kernels(lab) -> None:
    """End every session the page started, so kernels do not pile up between tests."""
    base, auth = lab["base"], {"Authorization": f"token {lab['token']}"}
    with urllib.request.urlopen(urllib.request.Request(f"{base}/api/sessions", headers=auth)) as r:
        sessions = json.load(r)
    for session in sessions:
        req = urllib.request.Request(f"{base}/api/sessions/{session['id']}", headers=auth, method="DELETE")
        urllib.request.urlopen(req).close()


def open_notebook(page, lab, rel: str) -> None:
    """Open ``rel`` alone: a workspace of its own, reset, so no earlier tab is restored."""
    workspace = "t" + secrets.token_hex(4)
    page.goto(f"{lab['base']}/lab/workspaces/{workspace}/tree/{rel}?reset&token={lab['token']}")
    page.wait_for_function(KERNEL_IDLE, timeout=90_000)


def run_all(page) -> list[dict]:
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(ALL_RAN, timeout=RUN_TIMEOUT_MS, polling=500)
    return page.evaluate(CELLS)


def _stored(path: Path, mime: str) -> int:
    nb = json.loads(path.read_text())
    return sum(1 for c in nb["cells"] if c["cell_type"] == "code"
               for o in c.get("outputs", []) if mime in o.get("data", {}))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[f"{p.parent.name}/{p.name}" for p in NOTEBOOKS])
def test_run_all_in_jupyterlab(page, lab, path):
    rel = path.relative_to(ROOT).as_posix()
    open_notebook(page, lab, rel)
    cells = run_all(page)

    errors = [f"cell {i + 1}: {o['ename']}: {o['evalue']}"
              for i, c in enumerate(cells) for o in c["outputs"]
              if o["output_type"] == "error" and "raises-exception" not in c["metadata"].get("tags", [])]
    assert not errors, f"{rel}: error output after Run All: {errors}"

    images = page.locator(".jp-RenderedImage img")
    want_images = max(_stored(path, "image/png"),
                      sum(1 for c in cells for o in c["outputs"] if "image/png" in o.get("data", {})))
    assert images.count() == want_images, f"{rel}: {images.count()} pictures shown, {want_images} expected"
    for i in range(images.count()):
        assert images.nth(i).evaluate("img => img.complete && img.naturalWidth > 0"), f"{rel}: picture {i + 1} is broken"

    want_diagrams = _stored(path, "text/vnd.mermaid")
    if want_diagrams:
        # JupyterLab draws Mermaid as an SVG picture: <img src="data:image/svg+xml,...">
        diagrams = page.locator(".jp-RenderedMermaid img")
        page.wait_for_function(
            f"() => document.querySelectorAll('.jp-RenderedMermaid img').length >= {want_diagrams}",
            timeout=30_000)
        for i in range(diagrams.count()):
            drawn = diagrams.nth(i).evaluate(
                "img => img.complete && img.naturalWidth > 0 && img.src.includes('%3Cg')")
            assert drawn, f"{rel}: ER diagram {i + 1} was not drawn"

    checks = sum(1 for c in cells if "".join(c["source"]).lstrip().startswith("check("))
    feedback = page.locator(".jp-OutputArea-output", has_text="passed")
    assert feedback.count() >= checks, f"{rel}: {checks} check() cells, {feedback.count()} feedbacks shown"

    assert not page.console_errors, f"{rel}: browser console errors: {page.console_errors}"


WRONG = "def count_customers(session):\n    return len(session.scalars(select(Customer)).all())\n"
RIGHT = "def count_customers(session):\n    return session.scalar(select(func.count()).select_from(Customer))\n"


def _type_and_check(page, index: int, code: str) -> str:
    """Replace code cell ``index``'s text by typing, run it and the check under it; the
    check's rendered feedback."""
    editor = page.locator(".jp-Notebook .jp-CodeCell").nth(index).locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(code)
    page.keyboard.press("Shift+Enter")  # run the answer; the check cell below is selected
    page.wait_for_function(ALL_RAN, timeout=60_000, polling=300)
    page.keyboard.press("Shift+Enter")  # run the check
    page.wait_for_function(ALL_RAN, timeout=60_000, polling=300)
    output = page.locator(".jp-Notebook .jp-CodeCell").nth(index + 1).locator(".jp-OutputArea-output")
    return output.inner_text()


def test_a_learner_types_a_wrong_then_a_right_answer(page, lab):
    open_notebook(page, lab, "exercises/00-orientation.ipynb")
    cells = run_all(page)
    index = next(i for i, c in enumerate(cells) if "def count_customers" in "".join(c["source"]))

    wrong = _type_and_check(page, index, WRONG)
    assert "not passed" in wrong and "in Python" in wrong, wrong

    right = _type_and_check(page, index, RIGHT)
    assert "passed" in right and "not passed" not in right, right
    assert not page.console_errors, page.console_errors
