"""The kernel side of ``python -m sqlacourse grade`` (the grading side is ``submission.py``).

``submission.py`` starts each submission's kernel as::

    python -I -B -c BOOT SNAPSHOT KEYFILE -f CONNECTION_FILE

``-I``: no PYTHONPATH, no user site, no current folder on ``sys.path``.  BOOT puts
the private snapshot of the course package first on ``sys.path`` (and drops any
other folder holding a ``sqlacourse`` package, such as an editable install's
``src/``), then calls ``main()`` here, which, before any learner code exists:

* reads the per-submission key from KEYFILE and deletes the file (the key is
  never in the environment, in a file or in a module attribute afterwards);
* imports the whole course, loads every grader, starts the IPython kernel's
  machinery and fingerprints the grading code: every function, class and
  method of ``sqlacourse``, SQLAlchemy, ``builtins`` and the standard modules
  grading relies on (identity of each object, of each function's code,
  defaults and of each class's attributes), and the exercise registry;
* installs ``__sqlacourse_grade_cell__`` in ``builtins``: the course's check
  cells, which ``submission.py`` takes from the course's own exercise
  notebook, call it.  It compares the fingerprint before and after grading
  (a patched ``Feedback``, grader, registry or helper, from a cell or from the
  candidate, makes the check fail with the name of what changed), and
  publishes the result as one display output of MIME type ``MIME`` whose
  payload carries the cell's nonce and an HMAC-SHA256 made with the key.

What this cannot prevent, being in the same process as the learner's code: code
that digs the key out of the interpreter's memory (``gc.get_objects()``,
frame and closure introspection, ``ctypes``), that patches grading code during
the check and restores it before the second comparison, or that patches C
types through ``ctypes``.  The kernel also runs as the same OS user as the grade
command, so it can kill it (the command then exits non-zero, never 0) or write
into its files.  Running submissions under another user or in a container is
the only real boundary; this module makes every ordinary route fail loudly.
"""

from __future__ import annotations

import builtins
import sys
import types
from typing import Any

MIME = "application/vnd.sqlacourse.result+json"
ENTRY = "__sqlacourse_grade_cell__"

_STDLIB = ("builtins", "json", "hmac", "hashlib", "inspect", "traceback", "re", "operator",
           "threading", "signal", "time", "contextlib", "dataclasses", "decimal", "datetime",
           "functools", "collections", "math", "ctypes", "types", "itertools", "secrets")
# Builtins IPython and ipykernel swap in and out around each cell.
_IPYTHON_BUILTINS = {"exit", "quit", "get_ipython", "display", "help", "input", "getpass",
                     "copyright", "credits", "license", "_", "__", "___", "__IPYTHON__",
                     "breakpoint"}


def _watched(name: str) -> bool:
    return (name in _STDLIB or name == "sqlacourse" or name.startswith("sqlacourse.")
            or name == "sqlalchemy" or name.startswith("sqlalchemy."))


def _same(a: Any, b: Any) -> bool:
    """Identity, element by element for tuples (never the objects' own ``__eq__``)."""
    if type(a) is tuple and type(b) is tuple:
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a is b


def _function_state(fn: Any) -> tuple:
    inner = getattr(fn, "__func__", fn)  # classmethod, staticmethod, bound method
    if isinstance(inner, property):
        return tuple(_function_state(f) for f in (inner.fget, inner.fset, inner.fdel) if f)
    if isinstance(inner, types.FunctionType):
        return (inner.__code__, inner.__defaults__, inner.__kwdefaults__)
    return ()


class Fingerprint:
    """What the grading code is made of, by object identity (see the module docstring)."""

    def __init__(self) -> None:
        from .registry import REGISTRY

        self.registry = REGISTRY
        self.registry_items = {k: (ex, dict(vars(ex))) for k, ex in REGISTRY.items()}
        self.modules: dict[str, tuple[types.ModuleType, dict[str, Any], dict[str, tuple]]] = {}
        self.classes: list[tuple[str, type, dict[str, Any], dict[str, tuple]]] = []
        for name, mod in list(sys.modules.items()):
            if mod is None or not _watched(name):
                continue
            entries, states = {}, {}
            for key, value in list(vars(mod).items()):
                if isinstance(value, types.ModuleType) or callable(value):
                    entries[key] = value
                    states[key] = _function_state(value)
                    if isinstance(value, type) and getattr(value, "__module__", None) == name:
                        self._add_class(name, value)
            self.modules[name] = (mod, entries, states)

    def _add_class(self, module: str, cls: type) -> None:
        attrs = dict(vars(cls))
        self.classes.append((module, cls, attrs, {k: _function_state(v) for k, v in attrs.items()}))

    def changes(self) -> list[str]:
        """What differs from the fingerprint, as ``module.name`` strings (empty: nothing)."""
        # Builtins first, using no builtin: the rest of this method relies on them.
        _mod, original, _states = self.modules["builtins"]
        now_builtins = builtins.__dict__
        found: list[str] = [f"builtins.{k}" for k, v in original.items()
                            if k not in _IPYTHON_BUILTINS and now_builtins.get(k, _MISSING) is not v]
        if found:
            return found
        builtin_names = set(vars(builtins))
        for name, (mod, entries, states) in self.modules.items():
            if sys.modules.get(name) is not mod:
                found.append(f"the module {name}")
                continue
            now = vars(mod)
            for key, value in entries.items():
                if name == "builtins" and key in _IPYTHON_BUILTINS:
                    continue
                current = now.get(key, _MISSING)
                if current is not value or not _same(_function_state(current), states[key]):
                    found.append(f"{name}.{key}")
            if name != "builtins":
                for key in now.keys() - entries.keys():
                    value = now[key]
                    if key.startswith("__") and key.endswith("__"):
                        continue
                    if key in builtin_names and key not in _IPYTHON_BUILTINS:
                        found.append(f"{name}.{key} (shadows a builtin)")
                    elif (name.startswith("sqlacourse") and callable(value)
                          and not isinstance(value, types.ModuleType)):
                        found.append(f"{name}.{key} (added)")
        for module, cls, attrs, states in self.classes:
            now = vars(cls)
            for key, value in attrs.items():
                current = now.get(key, _MISSING)
                if current is not value or not _same(_function_state(current), states[key]):
                    found.append(f"{module}.{cls.__qualname__}.{key}")
            if module.startswith("sqlacourse"):
                for key in now.keys() - attrs.keys():
                    if not key.startswith("_sa_"):
                        found.append(f"{module}.{cls.__qualname__}.{key} (added)")
        if set(self.registry) != set(self.registry_items):
            found.append("the exercise registry (exercises added or removed)")
        for key, (ex, fields) in self.registry_items.items():
            now_fields = vars(ex)
            if self.registry.get(key) is not ex or now_fields.keys() != fields.keys() \
                    or any(now_fields[f] is not v for f, v in fields.items()):
                found.append(f"the registered exercise {key}")
        return found


_MISSING = object()


def _preload() -> None:
    """Import what grading may import later, so that it is fingerprinted too."""
    import importlib
    import pkgutil

    import sqlacourse

    for info in pkgutil.walk_packages(sqlacourse.__path__, "sqlacourse."):
        if info.name in ("sqlacourse.__main__", "sqlacourse._gradekernel", "sqlacourse.submission",
                         "sqlacourse.authoring"):
            continue
        importlib.import_module(info.name)
    from .registry import load_all

    load_all()
    for optional in ("sqlalchemy.dialects.sqlite.pysqlite", "sqlalchemy.dialects.sqlite.aiosqlite",
                     "sqlalchemy.dialects.postgresql.psycopg", "sqlalchemy.dialects.postgresql.asyncpg",
                     "sqlalchemy.ext.asyncio", "sqlalchemy.orm.strategy_options",
                     # Alembic registers its DDL compilers on SQLAlchemy's classes when imported
                     # (lesson 08): imported here, before the fingerprint, that is not tampering.
                     "alembic.ddl", "alembic.operations", "alembic.command", "alembic.autogenerate"):
        try:
            importlib.import_module(optional)
        except Exception:  # noqa: S110 - a driver that is not installed is not used either
            pass


def _make_entry(key: bytes, app: Any, fingerprint: Fingerprint):
    import hmac as _hmac
    import json as _json

    from .grading import Feedback, grade

    dumps, new_mac = _json.dumps, _hmac.new
    feedback_str = Feedback.__str__
    changes = Fingerprint.changes  # the function itself: replacing the method later changes nothing

    def grade_cell(exercise_id: str, name: str, get_candidate: Any, nonce: str) -> None:
        problems = changes(fingerprint)
        try:
            candidate = get_candidate()
        except NameError:
            fb = Feedback(exercise_id, False,
                          f"`{name}` is not defined when the check runs: the cell that defines it "
                          "did not run or raised an error.")
        except BaseException as exc:  # noqa: B036 - the learner's code, whatever it raises
            fb = Feedback(exercise_id, False, f"Evaluating `{name}` raised {type(exc).__name__}.")
        else:
            fb = grade(exercise_id, candidate)
        problems += changes(fingerprint)
        passed = fb.passed is True and not problems
        message = fb.message if type(fb.message) is str else "(no message)"
        if problems:
            shown = ", ".join(sorted(set(problems))[:4]) + (", ..." if len(set(problems)) > 4 else "")
            message = ("Not graded: the submission changed the course's grading code while the "
                       f"notebook ran ({shown}).")
        payload = dumps({"v": 1, "nonce": nonce, "id": exercise_id, "passed": passed,
                         "message": message, "database_error": fb.database_error is True},
                        sort_keys=True)
        mac = new_mac(key, payload.encode("utf-8"), "sha256").hexdigest()
        text = feedback_str(fb) if not problems else f"[NOT PASSED] {exercise_id}: {message}"
        app.shell.display_pub.publish(data={MIME: {"payload": payload, "mac": mac},
                                            "text/plain": text}, metadata={})

    return grade_cell


def main(keyfile: str, argv: list[str]) -> None:
    import os

    with open(keyfile, "rb") as fh:
        key = fh.read()
    os.unlink(keyfile)
    if len(key) < 32:
        raise SystemExit("sqlacourse grade: no key for this kernel")
    _preload()
    from ipykernel.kernelapp import IPKernelApp

    sys.argv = [sys.argv[0], *argv]
    app = IPKernelApp.instance()
    app.initialize([*argv, "--IPKernelApp.ignore_cwd=True"])
    entry = _make_entry(key, app, Fingerprint())
    del key
    setattr(builtins, ENTRY, entry)
    app.start()


BOOT = (
    "import os, sys\n"
    "snap = sys.argv[1]\n"
    "sys.path[:] = [snap] + [p for p in sys.path if p and p != snap\n"
    "                        and not os.path.isdir(os.path.join(p, 'sqlacourse'))]\n"
    "from sqlacourse import _gradekernel\n"
    "_gradekernel.main(sys.argv[2], sys.argv[3:])\n"
)
