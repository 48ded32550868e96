"""The HTTP service: a thin FastAPI layer over :class:`recsys.Engine`.

Example:
    >>> from service import Settings, create_app
    >>> app = create_app(Settings(store="recsys-data"))   # doctest: +SKIP
"""

from __future__ import annotations

from service.app import create_app
from service.settings import Settings

__all__ = ["create_app", "Settings"]
