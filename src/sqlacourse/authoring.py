"""Tools for course authors: exercise generation, clean metadata, stored outputs.

* ``make_exercise(solution)``: the learner's notebook, made from the worked one.
  In a code cell, the lines between ``### BEGIN SOLUTION`` and ``### END SOLUTION``
  become a stub: the region's ``# TODO: ...`` lines are kept, its ``# STUB: code``
  lines become code, and inside a function (indented region) a region without
  a STUB line becomes ``raise NotImplementedError``.  Outputs are cleared.
* ``clean(nb)`` / ``problems(nb, kind)``: the one fixed kernelspec, no volatile
  metadata; ``problems`` lists what is not clean.
* ``execute(path)``: run a notebook top to bottom in a fresh kernel on the
  default backend and store its outputs (``python -m sqlacourse outputs``).
"""

from __future__ import annotations

import copy
import os
import re
import tempfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
LESSONS = ROOT / "notebooks"
EXERCISES = ROOT / "exercises"
SOLUTIONS = ROOT / "solutions"

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
