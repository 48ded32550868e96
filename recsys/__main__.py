"""``python -m recsys`` runs the installed ``recsys`` command.

The command line is a layer above the library (it also starts the service and the evaluation),
so the library does not import it: it is found through the console script it is installed as.
"""

import sys
from importlib.metadata import entry_points


def _run() -> int:
    found = entry_points(group="console_scripts", name="recsys")
    if not found:
        print("recsys: error: the recsys command is not installed; run 'make install'", file=sys.stderr)
        return 2
    return next(iter(found)).load()()


raise SystemExit(_run())
