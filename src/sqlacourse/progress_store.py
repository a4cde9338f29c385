"""The learner's progress: which exercises passed, how many hints were shown.

Stored as JSON in the user's data folder (never in the repository):
``$SQLACOURSE_PROGRESS_FILE`` if set, else ``$XDG_DATA_HOME/sqlacourse/progress.json``
(``~/.local/share/sqlacourse/progress.json``).  Progress is a convenience:
if the file cannot be read or written, checks still work, and say why once.

Promises, each tested (tests/test_progress.py):

* every change is a read-modify-write under an exclusive lock (``fcntl.flock`` on
  a lock file beside it) and lands with an atomic rename: kernels checking at the
  same time lose no attempt and no PASS;
* a damaged progress file is never deleted: it is renamed aside
  (``progress.json.damaged-<time>``) with a message, and a fresh one started;
* a path that is not a course progress file (``SQLACOURSE_PROGRESS_FILE`` pointing
  at some other file, a folder, a FIFO, a device such as ``/dev/null``) is never
  written, opened for reading only without blocking, and never waited on;
* a file holding wrong types (a list, ``"passed": "yes"``) never makes anything raise.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: no locking, still atomic replacement
    fcntl = None  # type: ignore[assignment]

FORMAT = "sqlacourse-progress"
LOCK_WAIT = 10.0  # seconds
_ENTRY_KEYS = {"attempts", "hints", "passed", "updated"}
_said: set[str] = set()


def progress_file() -> Path:
    explicit = os.environ.get("SQLACOURSE_PROGRESS_FILE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "sqlacourse" / "progress.json"


def _say(message: str) -> None:
    """Tell the learner once per process (on stderr): progress problems never stop a check."""
    if message not in _said:
        _said.add(message)
        print(f"sqlacourse: {message}", file=sys.stderr)


class _NotOurs(Exception):
    """The path holds something that is not a course progress file: never write it."""


class _Damaged(Exception):
    """A course progress file that cannot be used as it is: keep it aside."""


def _read_text(path: Path) -> str | None:
    """The file's text, None if there is none; never blocks (FIFO), never follows into
    a device.  Raises ``_NotOurs`` for anything but a regular file."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _NotOurs(f"cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        kind = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise _NotOurs(f"is {kind}")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise _NotOurs(f"cannot be read ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):  # swapped since the stat
            raise _NotOurs("is not a regular file")
        raw = fh.read(5_000_001)
    if len(raw) > 5_000_000:
        raise _NotOurs("is larger than any progress file")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _NotOurs("is not text") from None


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _clean_entries(raw: Any) -> tuple[dict[str, dict[str, Any]], bool]:
    """Entries with the right types; ``True`` if anything had to be fixed."""
    if not isinstance(raw, dict):
        return {}, True
    out: dict[str, dict[str, Any]] = {}
    fixed = False
    for key, entry in raw.items():
        if not isinstance(key, str) or not isinstance(entry, dict):
            fixed = True
            continue
        clean = {
            "attempts": _int(entry.get("attempts")),
            "hints": _int(entry.get("hints")),
            "passed": entry.get("passed") is True,
        }
        if isinstance(entry.get("updated"), str):
            clean["updated"] = entry["updated"]
        if (set(entry) - _ENTRY_KEYS or clean["attempts"] != entry.get("attempts", 0)
                or clean["hints"] != entry.get("hints", 0)
                or clean["passed"] != entry.get("passed", False)):
            fixed = True
        out[key] = clean
    return out, fixed


def _parse(text: str | None, explicit: bool) -> dict[str, dict[str, Any]]:
    """The exercises of a progress file.  Raises ``_Damaged`` (a course file that needs
    keeping aside) or ``_NotOurs`` (something else: never touch it)."""
    if text is None or not text.strip():
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        data = None
        looks_ours = text.lstrip().startswith("{") and (f'"{FORMAT}"' in text or '"attempts"' in text)
        if explicit and not looks_ours:
            raise _NotOurs("is not a course progress file") from None
        raise _Damaged("is not valid JSON") from None
    if isinstance(data, dict) and data.get("format") == FORMAT:
        entries, fixed = _clean_entries(data.get("exercises"))
        if fixed:
            raise _Damaged("holds values of the wrong type")
        return entries
    # {exercise id: {"attempts": .., "hints": .., "passed": .., "updated": ..}}
    legacy = isinstance(data, dict) and all(
        isinstance(k, str) and isinstance(v, dict) and set(v) <= _ENTRY_KEYS and v
        for k, v in data.items())
    if legacy:
        entries, fixed = _clean_entries(data)
        if fixed:
            raise _Damaged("holds values of the wrong type")
        return entries
    if explicit:
        raise _NotOurs("is not a course progress file")
    raise _Damaged("is not a course progress file")


def _load(path: Path, explicit: bool) -> dict[str, dict[str, Any]]:
    return _parse(_read_text(path), explicit)


def _describe(path: Path, why: str) -> str:
    return f"the progress file {path} {why}"


def load() -> dict[str, dict[str, Any]]:
    """``{exercise id: {"attempts": int, "hints": int, "passed": bool, ...}}``; never raises,
    never blocks."""
    path = progress_file()
    if str(path) == os.devnull:  # progress switched off on purpose
        return {}
    explicit = bool(os.environ.get("SQLACOURSE_PROGRESS_FILE"))
    try:
        return _load(path, explicit)
    except _NotOurs as exc:
        _say(_describe(path, str(exc)) + ": progress is not shown or saved, and the file is left "
             "as it is. Point SQLACOURSE_PROGRESS_FILE at a file of its own (or unset it).")
        return {}
    except _Damaged:
        try:  # what can still be read, without touching the file (it is kept aside on write)
            data = json.loads(path.read_text(encoding="utf-8"))
            raw = data.get("exercises") if isinstance(data, dict) and data.get("format") == FORMAT else data
            return _clean_entries(raw)[0]
        except Exception:
            return {}
    except Exception:
        return {}


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[bool]:
    """An exclusive lock on ``path``'s lock file (``False`` if none could be had in time)."""
    if fcntl is None:
        yield True
        return
    lock_path = path.with_name("." + path.name + ".lock")
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NONBLOCK", 0), 0o600)
    except OSError:
        yield False
        return
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            yield False
            return
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() > deadline:
                    yield False
                    return
                time.sleep(0.01)
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _keep_aside(path: Path, why: str) -> None:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while aside.exists():
        n += 1
        aside = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    os.rename(path, aside)
    _say(_describe(path, why) + f": it was kept as {aside} and a new one was started.")


def _write(path: Path, entries: dict[str, dict[str, Any]]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".progress-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(entries, fh, indent=1, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _update(exercise_id: str, **changes: Any) -> None:
    path = progress_file()
    if str(path) == os.devnull:  # progress switched off on purpose
        return
    explicit = bool(os.environ.get("SQLACOURSE_PROGRESS_FILE"))
    try:
        try:  # a path that is not ours is refused before anything (a lock file) is created
            _load(path, explicit)
        except _Damaged:
            pass
        path.parent.mkdir(parents=True, exist_ok=True)
        with _locked(path) as locked:
            if not locked:
                _say(f"the progress file {path} is locked by another process (or cannot be "
                     "locked): this result was not saved.")
                return
            try:
                entries = _load(path, explicit)
            except _Damaged as exc:
                _keep_aside(path, str(exc))
                entries = {}
            entry = entries.setdefault(exercise_id, {"attempts": 0, "hints": 0, "passed": False})
            for key, value in changes.items():
                if key == "attempts":
                    entry["attempts"] = entry.get("attempts", 0) + 1
                elif key == "hints":
                    entry["hints"] = max(entry.get("hints", 0), value)
                elif key == "passed":
                    entry["passed"] = bool(entry.get("passed")) or bool(value)
            entry["updated"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
            _write(path, entries)
    except _NotOurs as exc:
        _say(_describe(path, str(exc)) + ": progress is not saved, and the file is left as it is. "
             "Point SQLACOURSE_PROGRESS_FILE at a file of its own (or unset it).")
    except OSError as exc:
        _say(f"progress could not be saved in {path} ({exc.strerror or exc}).")


def record_check(exercise_id: str, passed: bool) -> None:
    _update(exercise_id, passed=passed is True, attempts=1)


def record_hint(exercise_id: str, shown: int) -> None:
    _update(exercise_id, hints=shown)


def table(show_path: bool = True, lesson: str | None = None) -> str:
    """Done and not-done exercises per lesson, as text."""
    from .registry import load_all

    data = load()
    lessons: dict[str, list[str]] = {}
    for ex in load_all().values():
        if lesson is not None and not ex.lesson.startswith(lesson):
            continue
        lessons.setdefault(ex.lesson, []).append(ex.id)
    rows = [("lesson", "done", "not done yet")]
    for lesson in sorted(lessons):
        ids = lessons[lesson]
        done = [i for i in ids if data.get(i, {}).get("passed") is True]
        todo = [i for i in ids if i not in done]
        rows.append((lesson, f"{len(done)}/{len(ids)}", ", ".join(todo) or "-"))
    width = [max(len(r[i]) for r in rows) for i in range(2)]
    lines = [f"{r[0]:<{width[0]}}  {r[1]:>{width[1]}}  {r[2]}" for r in rows]
    lines.insert(1, "-" * max(len(line) for line in lines))
    text = "\n".join(lines)
    return text + f"\n\nSaved in {progress_file()}" if show_path else text
