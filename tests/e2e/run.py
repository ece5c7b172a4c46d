"""Runs e2e test modules with the gridhub binary that CTest passes.

    /usr/bin/python3 run.py --gridhub build/app/gridhub test_clients_direct [more modules/tests]
"""

import argparse
import os
import signal
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gridhub", default="", help="path of the gridhub executable")
    parser.add_argument("--deadline", type=int, default=200,
                        help="seconds before the run is aborted (below CTest's TIMEOUT, so that "
                        "teardown still stops every process it started)")
    parser.add_argument("tests", nargs="+", help="unittest names: module[.Class[.method]]")
    args = parser.parse_args()

    # CTest kills a test that overruns its TIMEOUT with SIGKILL, which would orphan the grid
    # and its browsers (they run in process groups of their own). Abort earlier instead, by an
    # exception that unwinds through every Harness and so stops what it started.
    def abort(signum, _frame):
        raise TimeoutError(f"e2e run aborted by signal {signum} (deadline {args.deadline}s)")

    signal.signal(signal.SIGALRM, abort)
    signal.signal(signal.SIGTERM, abort)
    signal.alarm(args.deadline)
    if args.gridhub:
        os.environ["GRIDHUB_BIN"] = os.path.abspath(args.gridhub)
    sys.path.insert(0, HERE)
    suite = unittest.defaultTestLoader.loadTestsFromNames(args.tests)
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stderr).run(suite)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
