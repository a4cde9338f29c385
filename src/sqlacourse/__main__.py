"""Command line: ``python -m sqlacourse COMMAND``.

  grade PATH.ipynb [--json]   run a notebook in a fresh kernel and grade its exercises
  grade CLASS/ 'GLOB' ... [--jobs N] [--csv FILE] [--json-file FILE] [--feedback DIR]
                              grade many notebooks in parallel into a gradebook
  progress                    done and not-done exercises per lesson
  exercises [--check|--force] regenerate exercises/ from solutions/; a notebook a learner
                              edited is kept as it is (--force: copied to backups/, then
                              regenerated; --check: only compare)
  outputs [PATH ...]          re-execute lessons and solutions, store clean outputs
  clean [PATH ...]            fix notebook metadata (no execution)
  data ...                    generate or load the sample data (see data --help)
"""

from __future__ import annotations

import sys
from pathlib import Path


def _rel(path: Path) -> str:
    from . import authoring as a

    try:
        return str(path.relative_to(a.ROOT))
    except ValueError:
        return str(path)


def _exercises(argv: list[str]) -> int:
    from . import authoring as a

    only_check = "--check" in argv
    force = "--force" in argv
    result = a.sync_exercises(only_check=only_check, force=force)
    for target in result.written:
        if target in result.backups:
            print(f"wrote {_rel(target)} (your version was copied to {_rel(result.backups[target])})")
        else:
            print(f"wrote {_rel(target)}")
    for target in result.kept:
        print(f"kept {_rel(target)} as it is: it differs from the generated notebook (your answers "
              "are in it?). Nothing was overwritten. To regenerate it anyway, run "
              "`python3 course.py exercises --force`: your version is first copied to "
              f"{_rel(a.BACKUPS / a.EXERCISES.name)}/.", file=sys.stderr)
    for p in result.orphans:
        print(f"{_rel(p)} has no solution twin in solutions/", file=sys.stderr)
    if only_check:
        for p in result.stale:
            print(f"{_rel(p)} is stale: run python -m sqlacourse exercises", file=sys.stderr)
    if not result.stale:
        print("exercises/ is up to date")
    return 1 if result.orphans or result.kept or (only_check and result.stale) else 0


def _targets(argv: list[str]) -> list[Path]:
    from . import authoring as a

    if argv:
        return [Path(p).resolve() for p in argv]
    return a.notebooks(a.LESSONS) + a.notebooks(a.SOLUTIONS)


def _outputs(argv: list[str]) -> int:
    from . import authoring as a

    targets = _targets(argv)
    exercise_paths = [p for p in targets if p.parent == a.EXERCISES.resolve()]
    if exercise_paths:
        print(f"{', '.join(_rel(p) for p in exercise_paths)}: an exercise notebook stores no "
              "outputs (and holds a learner's answers): it was not run or changed. Give lessons "
              "(notebooks/) and solutions (solutions/); exercises/ follows from solutions/.",
              file=sys.stderr)
        return 2
    for path in targets:
        print(f"executing {_rel(path)} ...", flush=True)
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
