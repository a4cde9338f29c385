"""`python3 course.py test`: Ctrl-C stops the whole run, with a non-zero exit, and says so."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SLEEPER = '''
import os, time

def test_sleeps_until_interrupted():
    with open({marker!r}, "w") as fh:
        fh.write(str(os.getpid()))
    time.sleep(120)
'''


@pytest.mark.parametrize("ignored", [False, True], ids=["", "started with Ctrl-C ignored"])
@pytest.mark.parametrize("who", ["the whole terminal group", "only the phase's pytest"])
def test_ctrl_c_stops_the_whole_test_run(tmp_path, who, ignored):
    marker = tmp_path / "running"
    test_file = tmp_path / "test_sleeper.py"
    test_file.write_text(SLEEPER.format(marker=str(marker)))
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "course.py"), "test", str(test_file), "-k", "sleeps_until_interrupted"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True, env=dict(os.environ, SQLACOURSE_NBVAL_RUNS="1"),
        # a background job of a shell script starts with SIGINT ignored; a terminal's does not
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN if ignored else signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 180
        while not (marker.exists() and marker.read_text()) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()[0]
            time.sleep(0.2)
        assert marker.exists(), "the sleeping test never started"
        if who == "the whole terminal group":
            os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        else:
            os.kill(int(marker.read_text()), signal.SIGINT)
        out, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode != 0
    assert "interrupted" in out
    assert "phase 2/" not in out and "summary" not in out and " passed, " not in out.splitlines()[-1]
