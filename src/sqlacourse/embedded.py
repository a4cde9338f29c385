"""A private PostgreSQL server started from pip alone (the ``pgserver`` wheel).

``start()`` returns the server's URL.  The server lives in a temporary folder
and is stopped, and its folder deleted, when the process that started it
ends: by pgserver's own exit hook when Python exits normally, and in every
other case (a kernel killed by Jupyter, a test run interrupted) by a small
watchdog process that waits for the owner to disappear.  No postgres process
is left behind.

As root, pgserver runs PostgreSQL as a system user ``pgserver`` and opens
every parent folder of the data folder and of its binaries to other users
(``chmod g+rx,o+rx`` up to ``/``): a 0700 home would become 0755.  The course
therefore keeps the data in a fresh folder under a parent of its own,
``<tmp>/sqlacourse-pgserver``, whose parents already let anyone pass, and
checks that nothing pgserver would open is closed today: if something is
(say the course lives in a 0700 home), it refuses with a clear message
instead of widening anyone's permissions.

pgserver ships wheels for CPython up to 3.12; on a newer Python the course
still installs and runs on SQLite, and ``available()`` says why PostgreSQL
is not.
"""

from __future__ import annotations

import atexit
import os
import shutil
import stat
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


_TRAVERSE = stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH


def closed_parents(path: Path) -> list[Path]:
    """The parents of ``path`` that other users may not traverse today (pgserver, as root,
    would ``chmod g+rx,o+rx`` them)."""
    closed = []
    for parent in Path(os.path.abspath(path)).parents:
        try:
            mode = parent.stat().st_mode
        except OSError:
            continue
        if mode & _TRAVERSE != _TRAVERSE:
            closed.append(parent)
    return closed


def _refuse_widening(path: Path) -> None:
    """Stands in for pgserver's ``ensure_prefix_permissions``: never opens a folder."""
    closed = closed_parents(path)
    if closed:
        raise RuntimeError(
            "As root, the embedded PostgreSQL runs as the system user 'pgserver', which must be "
            f"able to reach {path}; but {closed[0]} is closed to other users "
            f"(mode {stat.S_IMODE(closed[0].stat().st_mode):o}), and the course does not open "
            "folders to other users. Put the course in a folder that others may traverse, run it "
            "as an ordinary user, or point SQLACOURSE_DATABASE_URL at a PostgreSQL server."
        )


def data_parent() -> Path:
    """A folder of the course's own, owned by the current user and closed to writes by
    others, under a temporary folder whose parents anyone may already traverse."""
    bases = [Path(tempfile.gettempdir()), Path("/tmp"), Path("/var/tmp")]
    for base in bases:
        if not base.is_dir() or closed_parents(base / "x"):
            continue
        parent = base / "sqlacourse-pgserver"
        try:
            parent.mkdir(mode=0o755)
        except FileExistsError:
            pass
        except OSError:
            continue
        st = os.lstat(parent)
        if (stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid()
                and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)):
            if st.st_mode & _TRAVERSE != _TRAVERSE:
                os.chmod(parent, 0o755)  # the course's own folder: opening it widens nothing else
            return parent
    raise RuntimeError(
        "As root, the embedded PostgreSQL needs a folder that the system user 'pgserver' can "
        f"reach, and none of {', '.join(map(str, bases))} can be used without opening a folder "
        "to other users. Point SQLACOURSE_DATABASE_URL at a PostgreSQL server instead."
    )


def _spawn_watchdog(datadir: Path) -> None:
    """Start the watchdog, a process of its own session that outlives this one by design.
    It is started with ``os.posix_spawn``, not ``subprocess.Popen``: a Popen object of a child
    still running when it is collected warns "ResourceWarning: subprocess N is still running"
    (shown under ``python -W default``), and this child is never waited for."""
    argv = [sys.executable, "-m", "sqlacourse.embedded", "--watch", str(os.getpid()), str(datadir)]
    if hasattr(os, "posix_spawn"):
        devnull = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_RDWR, 0) for fd in (0, 1, 2)]
        # Python's own descriptors are not inheritable (PEP 446): only 0-2 reach the child.
        os.posix_spawn(sys.executable, argv, os.environ, file_actions=devnull, setsid=True)
        return
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, close_fds=True)
    proc.returncode = 0  # never waited for (it outlives this process): no "still running" warning


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
        if _system_user():
            from pgserver import postgres_server

            _refuse_widening(_pg_ctl())
            postgres_server.ensure_prefix_permissions = _refuse_widening
            _datadir = Path(tempfile.mkdtemp(prefix="pg-", dir=data_parent()))
        else:
            _datadir = Path(tempfile.mkdtemp(prefix="sqlacourse-pg-"))
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
