"""Pytest set-up shared by tests/ and the nbval runs over notebooks/ and solutions/.

``--backend embedded`` starts a private PostgreSQL (pgserver) for the run and
points the course at it through SQLACOURSE_DATABASE_URL, which the notebook
kernels inherit; it is stopped when pytest exits (or, if pytest is killed, by
the watchdog that ``sqlacourse.embedded`` starts).
"""

from __future__ import annotations

import os
import tempfile


def pytest_addoption(parser):
    parser.addoption(
        "--backend", default="sqlite", choices=["sqlite", "embedded", "env"],
        help="sqlite (default), embedded (a private PostgreSQL), or env "
             "(keep SQLACOURSE_DATABASE_URL as it is)",
    )


def pytest_configure(config):
    backend = config.getoption("--backend")
    # Checks made during tests must not touch the learner's own progress file.
    os.environ["SQLACOURSE_PROGRESS_FILE"] = os.path.join(
        tempfile.mkdtemp(prefix="sqlacourse-progress-"), "progress.json")
    if backend == "sqlite":
        os.environ.pop("SQLACOURSE_DATABASE_URL", None)
    elif backend == "embedded":
        from sqlacourse import embedded

        ok, why = embedded.available()
        if not ok:
            raise SystemExit(f"--backend embedded: {why}")
        os.environ["SQLACOURSE_DATABASE_URL"] = embedded.start()


def pytest_collection_modifyitems(config, items):
    # The graders must judge alike on SQLite and PostgreSQL: their tests run on both.
    import pytest

    for item in items:
        if item.path.name.startswith("test_graders_"):
            item.add_marker(pytest.mark.both_backends)


def pytest_runtest_makereport(item, call):
    # Lets a fixture see whether its test failed (the browser test keeps a screenshot then).
    if call.when == "call":
        item.rep_call_failed = call.excinfo is not None


def pytest_keyboard_interrupt(excinfo):
    # Tells `course.py test` that this phase was stopped by Ctrl-C (pytest's exit status 2
    # also means "collection errors"), so that it stops the whole run.
    marker = os.environ.get("SQLACOURSE_INTERRUPT_MARKER")
    if marker:
        with open(marker, "w", encoding="utf-8") as fh:
            fh.write("interrupted\n")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    # The graders' mutation scores (tests/test_graders_mutation.py), shown whatever -s says.
    path = os.environ.get("SQLACOURSE_MUTATION_TABLE")
    if path and os.path.exists(path):
        terminalreporter.write_sep("-", "graders' mutation scores")
        terminalreporter.write_line(open(path, encoding="utf-8").read().rstrip())
