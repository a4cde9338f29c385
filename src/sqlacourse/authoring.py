"""Tools for course authors: exercise generation, clean metadata, stored outputs.

* ``make_exercise(solution)``: the learner's notebook, made from the worked one.
  In a code cell, the lines between ``### BEGIN SOLUTION`` and ``### END SOLUTION``
  become a stub: the region's ``# TODO: ...`` lines are kept, its ``# STUB: code``
  lines become code, and inside a function (indented region) a region without
  a STUB line becomes ``raise NotImplementedError``.  Outputs are cleared.
* ``clean(nb)`` / ``problems(nb, kind)``: the one fixed kernelspec, no volatile
  metadata; ``problems`` lists what is not clean.
* ``sync_exercises()``: regenerate ``exercises/`` (``python -m sqlacourse exercises``)
  without ever losing a learner's answers: a notebook that differs from every
  version the generator wrote (the learner edited it) is left as it is, or with
  ``force`` first copied to ``backups/exercises/``.
* ``execute(path)``: run a notebook top to bottom in a fresh kernel on the
  default backend and store its outputs (``python -m sqlacourse outputs``).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
LESSONS = ROOT / "notebooks"
EXERCISES = ROOT / "exercises"
SOLUTIONS = ROOT / "solutions"
BACKUPS = ROOT / "backups"
# Hashes of every exercise notebook the generator wrote here (not committed): a file
# with one of these hashes holds no learner work and may be regenerated.
GENERATED = ROOT / ".sqlacourse" / "generated-exercises.json"

KERNEL_NAME = "sqlacourse"
METADATA = {
    "kernelspec": {"display_name": "SQLAlchemy Patterns", "language": "python", "name": KERNEL_NAME},
    "language_info": {"name": "python"},
}
ALLOWED_CELL_METADATA = {"tags"}
BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"


class AuthoringError(ValueError):
    pass


def notebooks(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.ipynb"))


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def write(nb: nbformat.NotebookNode, path: Path) -> None:
    text = nbformat.writes(nb, version=4)
    path.write_text(text + ("" if text.endswith("\n") else "\n"), encoding="utf-8")


def dumps(nb: nbformat.NotebookNode) -> str:
    text = nbformat.writes(nb, version=4)
    return text + ("" if text.endswith("\n") else "\n")


# --------------------------------------------------------------------------
# Exercise generation
# --------------------------------------------------------------------------
def stub_source(source: str, where: str = "cell") -> str:
    """Replace each solution region of one cell's source by its stub."""
    lines = source.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.strip() != BEGIN:
            if line.strip() == END:
                raise AuthoringError(f"{where}: {END} without {BEGIN}")
            out.append(line)
            i += 1
            continue
        indent = line[: len(line) - len(line.lstrip())]
        j = i + 1
        while j < len(lines) and lines[j].strip() != END:
            if lines[j].strip() == BEGIN:
                raise AuthoringError(f"{where}: nested {BEGIN}")
            j += 1
        if j == len(lines):
            raise AuthoringError(f"{where}: {BEGIN} without {END}")
        region = lines[i + 1 : j]
        todos = [r.strip() for r in region if r.strip().startswith("# TODO")]
        stubs = [r.strip()[len("# STUB:"):].strip() for r in region if r.strip().startswith("# STUB:")]
        if not todos:
            raise AuthoringError(f"{where}: a solution region needs a '# TODO: ...' line for the learner")
        out += [indent + t for t in todos]
        if stubs:
            out += [indent + s for s in stubs]
        elif indent:
            out.append(indent + "raise NotImplementedError")
        else:
            raise AuthoringError(
                f"{where}: a solution region at the top level of a cell needs a "
                "'# STUB: code' line (for example '# STUB: Product = None') so that the "
                "learner's notebook still runs"
            )
        i = j + 1
    return "\n".join(out)


def make_exercise(solution: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    nb = nbformat.from_dict(copy.deepcopy(solution))
    nb.metadata = nbformat.from_dict(METADATA)
    for n, cell in enumerate(nb.cells, 1):
        cell.metadata = nbformat.from_dict({k: v for k, v in cell.metadata.items() if k in ALLOWED_CELL_METADATA})
        if cell.cell_type == "code":
            cell.source = stub_source(cell.source, f"{name}, cell {n}")
            cell.outputs = []
            cell.execution_count = None
    return nb


def exercise_ids(nb: nbformat.NotebookNode) -> list[str]:
    ids = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            ids += re.findall(r"""\bcheck\(\s*["']([^"']+)["']""", cell.source)
    return ids


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _known_hashes(manifest: Path) -> set[str]:
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        return {h for h in data if isinstance(h, str)} if isinstance(data, list) else set()
    except (OSError, ValueError):
        return set()


def _remember(manifest: Path, text: str) -> None:
    try:
        known = _known_hashes(manifest) | {_sha(text)}
        manifest.parent.mkdir(parents=True, exist_ok=True)
        tmp = manifest.with_name(manifest.name + ".tmp")
        tmp.write_text(json.dumps(sorted(known)), encoding="utf-8")
        os.replace(tmp, manifest)
    except OSError:
        pass


def _committed_text(path: Path) -> str | None:
    """The text of ``path`` in the repository's last commit (None without git)."""
    try:
        rel = path.resolve().relative_to(ROOT)
        out = subprocess.run(["git", "-C", str(ROOT), "show", f"HEAD:{rel.as_posix()}"],
                             capture_output=True, timeout=20, check=False)
    except (ValueError, OSError, subprocess.SubprocessError):
        return None
    return out.stdout.decode("utf-8", "replace") if out.returncode == 0 else None


def untouched(path: Path, text: str, manifest: Path) -> bool:
    """``text`` (the file at ``path``) is a version the generator wrote: no learner work."""
    return _sha(text) in _known_hashes(manifest) or _committed_text(path) == text


@dataclass
class SyncResult:
    written: list[Path] = field(default_factory=list)
    stale: list[Path] = field(default_factory=list)  # differs from what would be generated
    kept: list[Path] = field(default_factory=list)  # edited by a learner: left as it is
    backups: dict[Path, Path] = field(default_factory=dict)  # --force: edited file -> its copy
    orphans: list[Path] = field(default_factory=list)


def sync_exercises(solutions: Path = SOLUTIONS, exercises: Path = EXERCISES, *,
                   only_check: bool = False, force: bool = False,
                   backups: Path = BACKUPS, manifest: Path = GENERATED) -> SyncResult:
    """Regenerate each exercise notebook from its solution.  One that is missing, or that is
    a version the generator wrote, is (re)written; one that a learner edited is kept as it
    is, or with ``force`` first copied to ``backups/exercises/NAME-<time>.ipynb``."""
    result = SyncResult()
    for sol in notebooks(solutions):
        target = exercises / sol.name
        text = dumps(make_exercise(read(sol), sol.name))
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current == text:
            if not only_check:
                _remember(manifest, text)
            continue
        result.stale.append(target)
        if only_check:
            continue
        if current is not None and not untouched(target, current, manifest):
            if not force:
                result.kept.append(target)
                continue
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            copy_to = backups / exercises.name / f"{target.stem}-{stamp}.ipynb"
            n = 1
            while copy_to.exists():
                n += 1
                copy_to = backups / exercises.name / f"{target.stem}-{stamp}-{n}.ipynb"
            copy_to.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(target, copy_to)
            result.backups[target] = copy_to
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
        _remember(manifest, text)
        result.written.append(target)
    result.orphans = [p for p in notebooks(exercises) if not (solutions / p.name).exists()]
    return result


# --------------------------------------------------------------------------
# Hygiene
# --------------------------------------------------------------------------
def clean(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb.metadata = nbformat.from_dict(METADATA)
    nb.nbformat, nb.nbformat_minor = 4, 5
    for cell in nb.cells:
        cell.metadata = nbformat.from_dict({k: v for k, v in cell.metadata.items() if k in ALLOWED_CELL_METADATA})
        if cell.cell_type == "code":
            for out in cell.get("outputs", []):
                if "metadata" in out:
                    out.metadata = nbformat.from_dict({})
    return nb


def problems(nb: nbformat.NotebookNode, kind: str) -> list[str]:
    """What is not clean; ``kind`` is 'executed' (lessons, solutions) or 'exercise'."""
    found = []
    if dict(nb.metadata) != METADATA:
        found.append(f"notebook metadata should be exactly {METADATA}, is {dict(nb.metadata)}")
    if (nb.nbformat, nb.nbformat_minor) != (4, 5):
        found.append(f"nbformat should be 4.5, is {nb.nbformat}.{nb.nbformat_minor}")
    ids = [c.get("id") for c in nb.cells]
    if None in ids or len(set(ids)) != len(ids):
        found.append("every cell needs a unique id")
    expected_count = 1
    for n, cell in enumerate(nb.cells, 1):
        extra = set(cell.metadata) - ALLOWED_CELL_METADATA
        if extra:
            found.append(f"cell {n}: volatile metadata {sorted(extra)}")
        if cell.cell_type != "code":
            continue
        if kind == "exercise":
            if cell.outputs or cell.execution_count is not None:
                found.append(f"cell {n}: an exercise notebook stores no outputs")
            continue
        if cell.execution_count != expected_count:
            found.append(f"cell {n}: execution count {cell.execution_count}, expected "
                         f"{expected_count} (outputs must come from one fresh run: "
                         "python -m sqlacourse outputs)")
        expected_count += 1
        for out in cell.outputs:
            if out.get("metadata"):
                found.append(f"cell {n}: output metadata should be empty")
            if out.get("output_type") == "error":
                tagged = "raises-exception" in cell.metadata.get("tags", [])
                if not tagged:
                    found.append(f"cell {n}: stored an error without the raises-exception tag")
    return found


# --------------------------------------------------------------------------
# Executing notebooks and storing outputs
# --------------------------------------------------------------------------
def course_kernel_name() -> str:
    from jupyter_client.kernelspec import KernelSpecManager

    return KERNEL_NAME if KERNEL_NAME in KernelSpecManager().find_kernel_specs() else "python3"


def execute(path: Path, *, timeout: int = 600) -> nbformat.NotebookNode:
    """Run ``path`` top to bottom in a fresh kernel on SQLite; store clean outputs."""
    from nbclient import NotebookClient

    nb = read(path)
    env_backup = dict(os.environ)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.pop("SQLACOURSE_DATABASE_URL", None)
        os.environ["SQLACOURSE_PROGRESS_FILE"] = str(Path(tmp) / "progress.json")
        try:
            client = NotebookClient(
                nb, timeout=timeout, kernel_name=course_kernel_name(),
                resources={"metadata": {"path": str(path.parent)}},
            )
            client.execute()
        finally:
            os.environ.clear()
            os.environ.update(env_backup)
    clean(nb)
    write(nb, path)
    return nb
