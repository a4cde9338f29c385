"""Notebooks are stored clean: fixed kernelspec, no volatile metadata, outputs from one fresh run."""

from __future__ import annotations

import re

import pytest

from sqlacourse import authoring as a

EXECUTED = a.notebooks(a.LESSONS) + a.notebooks(a.SOLUTIONS)


def _name(p):
    return f"{p.parent.name}/{p.name}"


def test_there_are_lessons():
    names = [p.name for p in a.notebooks(a.LESSONS)]
    assert names and names[0].startswith("00-"), names


@pytest.mark.parametrize("path", EXECUTED, ids=_name)
def test_executed_notebook_is_clean(path):
    assert a.problems(a.read(path), "executed") == []


@pytest.mark.parametrize("path", a.notebooks(a.EXERCISES), ids=_name)
def test_exercise_notebook_is_clean(path):
    assert a.problems(a.read(path), "exercise") == []


@pytest.mark.parametrize("path", a.notebooks(a.LESSONS) + a.notebooks(a.SOLUTIONS), ids=_name)
def test_notebook_anatomy(path):
    nb = a.read(path)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), "starts with a title"
    assert re.search(r"you will learn", first.source, re.I), "the first cell says what you will learn"
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert re.search(r"^#+ Recap", text, re.M | re.I), "has a Recap section"
    last = nb.cells[-1]
    assert last.cell_type == "markdown" and ".ipynb" in last.source, "ends with links onwards"
    for link in re.findall(r"\]\(([^)]+\.ipynb)\)", text):
        assert (path.parent / link).resolve().exists(), f"broken link {link}"


def test_problems_catches_dirty_notebooks():
    nb = a.read(EXECUTED[0])
    nb.metadata["widgets"] = {}
    nb.cells[1].metadata["collapsed"] = True
    found = "\n".join(a.problems(nb, "executed"))
    assert "notebook metadata" in found and "volatile metadata" in found
