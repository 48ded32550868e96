"""The ``recsys`` command line: a thin layer over :mod:`recsys`, the service and the evaluation.

It lives beside the library, not in it, because some of its commands (``serve``, ``keys``,
``bench``, ``evaluate``, ``demo``) reach the layers built on top of the library.
"""

from __future__ import annotations

from recsys_cli.main import build_parser, main

__all__ = ["main", "build_parser"]
