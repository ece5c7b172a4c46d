"""Runs e2e test modules with the gridhub binary that CTest passes.

    /usr/bin/python3 run.py --gridhub build/app/gridhub test_clients_direct [more modules/tests]
"""

import argparse
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gridhub", default="", help="path of the gridhub executable")
    parser.add_argument("tests", nargs="+", help="unittest names: module[.Class[.method]]")
    args = parser.parse_args()
    if args.gridhub:
        os.environ["GRIDHUB_BIN"] = os.path.abspath(args.gridhub)
    sys.path.insert(0, HERE)
    suite = unittest.defaultTestLoader.loadTestsFromNames(args.tests)
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stderr).run(suite)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
