"""The shape every pipeline component shares: settings in a frozen config, work in ``__call__``."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Generic, TypeVar

__all__ = ["Component"]

C = TypeVar("C")


class Component(Generic[C]):
    """A pipeline component with its settings in a frozen dataclass (``config``).

    As in LensKit's pipelines: the settings are fixed when the component is made, given as a
    config object or as keyword arguments (or both: the keywords replace the config's fields);
    what changes per call (the member's context, how many to keep) is passed to ``__call__``.

    Example:
        >>> from recsys.pipeline import MMRReranker
        >>> MMRReranker(lambda_=0.5).config.lambda_
        0.5
    """

    config_class: ClassVar[type]
    config: C

    def __init__(self, config: C | None = None, **settings: Any) -> None:
        if config is None:
            config = self.config_class(**settings)
        elif settings:
            config = dataclasses.replace(config, **settings)
        self.config = config

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"
