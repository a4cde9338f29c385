"""The learner's progress: which exercises passed, how many hints were shown.

Stored as JSON in the user's data folder (never in the repository):
``$SQLACOURSE_PROGRESS_FILE`` if set, else ``$XDG_DATA_HOME/sqlacourse/progress.json``
(``~/.local/share/sqlacourse/progress.json``).  Progress is a convenience:
if the file cannot be read or written, checks still work.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any


def progress_file() -> Path:
    explicit = os.environ.get("SQLACOURSE_PROGRESS_FILE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "sqlacourse" / "progress.json"


def load() -> dict[str, Any]:
    try:
        data = json.loads(progress_file().read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _save(data: dict[str, Any]) -> None:
    path = progress_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".progress-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except OSError:
        pass


def _update(exercise_id: str, **changes: Any) -> None:
    data = load()
    entry = data.setdefault(exercise_id, {})
    for key, value in changes.items():
        if key == "attempts":
            entry["attempts"] = entry.get("attempts", 0) + 1
        elif key == "hints":
            entry["hints"] = max(entry.get("hints", 0), value)
        elif key == "passed":
            entry["passed"] = bool(entry.get("passed")) or value
        else:
            entry[key] = value
    entry["updated"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    _save(data)


def record_check(exercise_id: str, passed: bool) -> None:
    _update(exercise_id, passed=passed, attempts=1)


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
        done = [i for i in ids if data.get(i, {}).get("passed")]
        todo = [i for i in ids if i not in done]
        rows.append((lesson, f"{len(done)}/{len(ids)}", ", ".join(todo) or "-"))
    width = [max(len(r[i]) for r in rows) for i in range(2)]
    lines = [f"{r[0]:<{width[0]}}  {r[1]:>{width[1]}}  {r[2]}" for r in rows]
    lines.insert(1, "-" * max(len(line) for line in lines))
    text = "\n".join(lines)
    return text + f"\n\nSaved in {progress_file()}" if show_path else text
