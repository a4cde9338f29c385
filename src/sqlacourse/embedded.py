"""A private PostgreSQL server started from pip alone (the ``pgserver`` wheel).

``start()`` returns the server's URL.  The server lives in a temporary folder
and is stopped, and its folder deleted, when the process that started it
ends: by pgserver's own exit hook when Python exits normally, and in every
other case (a kernel killed by Jupyter, a test run interrupted) by a small
watchdog process that waits for the owner to disappear.  No postgres process
is left behind.

pgserver ships wheels for CPython up to 3.12; on a newer Python the course
still installs and runs on SQLite, and ``available()`` says why PostgreSQL
is not.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_server = None
_datadir: Path | None = None


def available() -> tuple[bool, str]:
    import importlib.util

    if importlib.util.find_spec("pgserver") is None:
        return False, (
            "the embedded PostgreSQL needs the 'pgserver' package, which has wheels "
            f"for CPython 3.9 to 3.12 only (this is {sys.version.split()[0]}). "
            "Point SQLACOURSE_DATABASE_URL at a PostgreSQL server instead."
        )
    return True, ""


def _pg_ctl() -> Path:
    import pgserver

    return Path(pgserver.__file__).parent / "pginstall" / "bin" / "pg_ctl"


def _system_user() -> str | None:
    return "pgserver" if hasattr(os, "geteuid") and os.geteuid() == 0 else None


def stop_server(datadir: Path) -> None:
    """Stop the server in ``datadir`` (if it runs) and delete the folder."""
    if (datadir / "postmaster.pid").exists():
        subprocess.run(
            [str(_pg_ctl()), "-D", str(datadir), "-m", "fast", "-w", "stop"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            user=_system_user(),
            check=False,
            timeout=60,
        )
    shutil.rmtree(datadir, ignore_errors=True)


def _spawn_watchdog(datadir: Path) -> None:
    subprocess.Popen(
        [sys.executable, "-m", "sqlacourse.embedded", "--watch", str(os.getpid()), str(datadir)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )


def start() -> str:
    """Start (once per process) the embedded server; return its sync URL."""
    global _server, _datadir
    if _server is None:
        ok, why = available()
        if not ok:
            raise RuntimeError(why)
        import logging
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pgserver's RuntimeDirWarning on stderr
            import pgserver

        logging.getLogger("pgserver").setLevel(logging.ERROR)
        _datadir = Path(tempfile.mkdtemp(prefix="sqlacourse-pg-"))
        if _system_user():
            os.chmod(_datadir, 0o777)
        _spawn_watchdog(_datadir)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _server = pgserver.get_server(_datadir, cleanup_mode="delete")
        atexit.register(stop_server, _datadir)
    return _server.get_uri()


def _watch(owner_pid: int, datadir: Path) -> None:
    while True:
        try:
            os.kill(owner_pid, 0)
        except ProcessLookupError:
            break
        except PermissionError:
            pass
        time.sleep(0.5)
    stop_server(datadir)


if __name__ == "__main__":  # the watchdog
    if len(sys.argv) == 4 and sys.argv[1] == "--watch":
        _watch(int(sys.argv[2]), Path(sys.argv[3]))
