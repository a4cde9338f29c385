"""Progress is never lost, never destroys a file that is not its own, never hangs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest

from sqlacourse import progress_store as store


@pytest.fixture
def progress_path(tmp_path, monkeypatch):
    path = tmp_path / "progress.json"
    monkeypatch.setenv("SQLACOURSE_PROGRESS_FILE", str(path))
    store._said.clear()
    return path


def _entries(path):
    return json.loads(path.read_text(encoding="utf-8"))


def test_checks_and_hints_are_recorded(progress_path):
    store.record_check("01-x", False)
    store.record_check("01-x", True)
    store.record_check("01-x", False)  # a later failure never takes a PASS back
    store.record_hint("01-x", 2)
    entry = _entries(progress_path)["01-x"]
    assert (entry["attempts"], entry["passed"], entry["hints"]) == (3, True, 2)


WORKER = """
import sys
from sqlacourse import progress_store as store
n, me = int(sys.argv[1]), sys.argv[2]
for i in range(n):
    store.record_check("shared", i == n - 1 and me == "p0")
    store.record_check(me, i == 0)
"""


def test_concurrent_processes_lose_no_attempt_and_no_pass(progress_path):
    procs, n = 4, 50
    running = [subprocess.Popen([sys.executable, "-c", WORKER, str(n), f"p{k}"],
                                env=os.environ.copy()) for k in range(procs)]
    assert all(p.wait(timeout=120) == 0 for p in running)
    entries = _entries(progress_path)
    assert entries["shared"]["attempts"] == procs * n
    assert entries["shared"]["passed"] is True
    for k in range(procs):
        assert entries[f"p{k}"] == entries[f"p{k}"] | {"attempts": n, "passed": True}


def test_entries_written_before_are_read_and_kept(progress_path):
    progress_path.write_text(json.dumps({"01-x": {"attempts": 2, "passed": True, "hints": 1}}))
    assert store.load()["01-x"]["passed"] is True
    store.record_check("01-y", False)
    entries = _entries(progress_path)
    assert entries["01-x"]["attempts"] == 2 and entries["01-x"]["passed"] is True


@pytest.mark.parametrize("content", [
    '{"format": "sqlacourse-progress", "exercises": {"01-x": {"attempts": 3, "pass',  # cut short
    '{"format": "sqlacourse-progress", "version": 1, "exercises": ["01-x"]}',
    '{"format": "sqlacourse-progress", "exercises": {"01-x": {"attempts": "many", "passed": "yes"}}}',
    '{"01-x": {"attempts": [1], "passed": "yes", "hints": {"n": 2}}}',
])
def test_a_damaged_progress_file_is_kept_aside_with_a_message(progress_path, content, capsys):
    progress_path.write_text(content)
    from sqlacourse import hint, progress

    progress()
    store.load()
    hint("00-count-customers")
    store.record_check("01-x", True)
    kept = list(progress_path.parent.glob("progress.json.damaged-*"))
    assert len(kept) == 1 and kept[0].read_text() == content
    assert "kept as" in capsys.readouterr().err
    assert _entries(progress_path)["01-x"]["passed"] is True


@pytest.mark.parametrize("content", [
    "[1, 2, 3]", '"just a string"', "42", '{"01-x": "yes"}', '{"01-x": {"attempts": 1, "x": []}}',
])
def test_wrong_types_at_the_default_place_raise_nothing(tmp_path, monkeypatch, content, capsys):
    monkeypatch.delenv("SQLACOURSE_PROGRESS_FILE", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    store._said.clear()
    path = store.progress_file()
    path.parent.mkdir(parents=True)
    path.write_text(content)
    from sqlacourse import check, hint, progress

    assert "not done yet" in progress()
    hint("00-count-customers")
    check("00-count-customers", None)
    kept = list(path.parent.glob("progress.json.damaged-*"))
    assert len(kept) == 1 and kept[0].read_text() == content
    assert "kept as" in capsys.readouterr().err


@pytest.mark.parametrize("content", ["my thesis, chapter 1\n", '{"settings": {"theme": "dark"}}', "[1, 2]"])
def test_an_unrelated_file_named_by_the_variable_is_never_written(progress_path, content, capsys):
    progress_path.write_text(content)
    from sqlacourse import check, hint, progress

    check("00-count-customers", None)
    hint("00-count-customers")
    assert "not done yet" in progress()
    assert progress_path.read_text() == content
    assert list(progress_path.parent.iterdir()) == [progress_path]  # not even a lock file beside it
    assert "not a course progress file" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["fifo", "directory", "symlink to a fifo"])
def test_a_fifo_or_a_folder_at_the_path_neither_hangs_nor_crashes(progress_path, kind, capsys):
    if kind == "directory":
        progress_path.mkdir()
    else:
        fifo = progress_path.with_name("pipe")
        os.mkfifo(fifo)
        if kind == "fifo":
            fifo.rename(progress_path)
        else:
            progress_path.symlink_to(fifo)
    from sqlacourse import check, hint, progress

    done = []

    def work():
        check("00-count-customers", None)
        hint("00-count-customers")
        progress()
        done.append(True)

    t = threading.Thread(target=work, daemon=True)
    t.start()
    t.join(30)
    assert done, f"check()/hint()/progress() hung on a {kind}"
    assert progress_path.is_dir() if kind == "directory" else not progress_path.is_file()
    assert "progress" in capsys.readouterr().err


def test_progress_switched_off_with_devnull_writes_nothing(monkeypatch):
    monkeypatch.setenv("SQLACOURSE_PROGRESS_FILE", os.devnull)
    before = os.stat(os.devnull)
    store.record_check("01-x", True)
    after = os.stat(os.devnull)
    assert (after.st_mode, after.st_rdev, after.st_ino) == (before.st_mode, before.st_rdev, before.st_ino)
    assert store.load() == {}


def test_a_held_lock_delays_but_never_hangs(progress_path, monkeypatch, capsys):
    import fcntl

    monkeypatch.setattr(store, "LOCK_WAIT", 0.5)
    store.record_check("01-x", True)
    lock = progress_path.with_name(".progress.json.lock")
    with open(lock, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        t0 = time.monotonic()
        store.record_check("01-x", False)
        assert time.monotonic() - t0 < 5
    assert "not saved" in capsys.readouterr().err
    assert _entries(progress_path)["01-x"]["attempts"] == 1
