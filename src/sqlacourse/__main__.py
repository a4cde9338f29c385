"""Command line: ``python -m sqlacourse COMMAND``.

  grade PATH.ipynb [--json]   run a notebook in a fresh kernel and grade its exercises
  progress                    done and not-done exercises per lesson
  exercises [--check]         regenerate exercises/ from solutions/ (--check: only compare)
  outputs [PATH ...]          re-execute lessons and solutions, store clean outputs
  clean [PATH ...]            fix notebook metadata (no execution)
  data ...                    generate or load the sample data (see data --help)
"""

from __future__ import annotations

import sys
from pathlib import Path


def _exercises(argv: list[str]) -> int:
    from . import authoring as a

    only_check = "--check" in argv
    stale = []
    for sol in a.notebooks(a.SOLUTIONS):
        target = a.EXERCISES / sol.name
        text = a.dumps(a.make_exercise(a.read(sol), sol.name))
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current != text:
            stale.append(target)
            if not only_check:
                target.write_text(text, encoding="utf-8")
                print(f"wrote {target.relative_to(a.ROOT)}")
    orphans = [p for p in a.notebooks(a.EXERCISES) if not (a.SOLUTIONS / p.name).exists()]
    for p in orphans:
        print(f"{p.relative_to(a.ROOT)} has no solution twin in solutions/", file=sys.stderr)
    if only_check and stale:
        for p in stale:
            print(f"{p.relative_to(a.ROOT)} is stale: run python -m sqlacourse exercises",
                  file=sys.stderr)
    if not stale:
        print("exercises/ is up to date")
    return 1 if orphans or (only_check and stale) else 0


def _targets(argv: list[str]) -> list[Path]:
    from . import authoring as a

    if argv:
        return [Path(p).resolve() for p in argv]
    return a.notebooks(a.LESSONS) + a.notebooks(a.SOLUTIONS)


def _outputs(argv: list[str]) -> int:
    from . import authoring as a

    for path in _targets(argv):
        print(f"executing {path.relative_to(a.ROOT)} ...", flush=True)
        a.execute(path)
    return _exercises([])


def _clean(argv: list[str]) -> int:
    from . import authoring as a

    for path in _targets(argv) or []:
        a.write(a.clean(a.read(path)), path)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(__doc__)
        return 0
    command, rest = argv[0], argv[1:]
    if command == "grade":
        from .submission import main as grade_main

        return grade_main(rest)
    if command == "progress":
        from .progress_store import table

        print(table())
        return 0
    if command == "exercises":
        return _exercises(rest)
    if command == "outputs":
        return _outputs(rest)
    if command == "clean":
        return _clean(rest)
    if command == "data":
        from .data import cli

        return cli(rest)
    print(f"unknown command {command!r}\n{__doc__}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
