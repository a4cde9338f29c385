"""python -m tests.mutation [--backend sqlite|embedded] [--show survived,crash,...] [exercise ids]"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.mutation")
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "embedded"])
    parser.add_argument("--show", default="survived,crash,equivalent-rejected",
                        help="which outcomes to list (comma separated; 'all' for every mutant)")
    parser.add_argument("ids", nargs="*")
    args = parser.parse_args(argv)
    # checks must not touch the learner's progress file (and never os.devnull: the progress
    # store replaces its file atomically, which would replace the device itself)
    os.environ["SQLACOURSE_PROGRESS_FILE"] = os.path.join(
        tempfile.mkdtemp(prefix="sqlacourse-mutation-"), "progress.json")
    if args.backend == "embedded":
        from sqlacourse import embedded

        os.environ["SQLACOURSE_DATABASE_URL"] = embedded.start()
    else:
        os.environ.pop("SQLACOURSE_DATABASE_URL", None)
    from . import harness

    ids = args.ids or sorted(harness.answers())
    reports = []
    for ex in ids:
        r = harness.run_exercise(ex)
        reports.append(r)
        print(f"== {ex}: baseline {r.baseline.status}: {r.baseline.message[:100]}", flush=True)
        for o in r.outcomes:
            if args.show == "all" or o.status in args.show.split(","):
                print(f"   {o.status:10} {o.mutant} ({o.seconds:.1f} s)\n{'':14}{o.message[:300]}")
            if o.warnings:
                print(f"   LEAKED WARNINGS {o.mutant}: {o.warnings[:2]}")
        for s in r.stale:
            print(f"   STALE text mutant: {s}")
    print(harness.table(reports, args.backend))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
