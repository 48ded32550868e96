"""The errors the library raises.

Every error subclasses :class:`RecsysError`, so a caller can catch one class. Several also
subclass a builtin (``ValueError``, ``KeyError``) so that code written against the builtins keeps
working, as scikit-learn does with ``NotFittedError(ValueError, AttributeError)``. The HTTP
service maps these classes to status codes in one place.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "RecsysError",
    "ValidationError",
    "NotFoundError",
    "ConflictError",
    "AmbiguousIdError",
    "StoreError",
    "ModelError",
    "MissingExtraError",
    "TokenError",
    "SetupError",
]


class RecsysError(Exception):
    """Base class of every error raised by recsys."""

    def __reduce__(self):
        # Pickled as it is, attributes and all, not rebuilt by calling the class with the
        # message (most take other arguments): an error a batch's worker process raises then
        # reaches the process that started it, where it would otherwise break the pool.
        return _restored, (type(self), self.args, self.__dict__)


def _restored(cls: type[RecsysError], args: tuple, state: dict) -> RecsysError:
    error = cls.__new__(cls, *args)
    error.args = args
    error.__dict__.update(state)
    return error


def _shortened(text: str, limit: int) -> str:
    """``text``, cut to about ``limit`` characters: a message echoing a 1 MB field stays a line."""
    return text if len(text) <= limit else f"{text[:limit - 20]}… ({len(text):,} characters)"


class ValidationError(RecsysError, ValueError):
    """A record or request is malformed.

    The message names where the problem is: the source (file and line, or batch position), the
    record id when known, and the field.

    Attributes:
        source: Where the record came from (a file name, ``"batch"``), or None.
        line: 1-based line or position of the record within the source, or None.
        record: The record's id when known, else None.
        field: The offending field name, or None when the whole record is wrong.
        problems: For batch validation, every problem found (each a ``ValidationError``), so a
            caller can report them all at once instead of one per round trip.
        warnings: For batch validation, what else looked wrong though valid (each an
            :class:`~recsys.ingest.loaders.InputWarning`): a file checked before it is fixed
            shows both at once.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        line: int | None = None,
        record: str | None = None,
        field: str | None = None,
        problems: list[ValidationError] | None = None,
        warnings: list | None = None,
    ) -> None:
        # Shortened where it is kept, not only where printed: an HTTP error body lists each
        # problem's reason, and one echoing a 40 KB field was a 40 KB response.
        self.reason = _shortened(message, 400)
        self.source = source
        self.line = line
        self.record = record
        self.field = field
        self.problems = problems or []
        self.warnings = warnings or []
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.source is not None:
            where.append(self.source if self.line is None else f"{self.source}:{self.line}")
        elif self.line is not None:
            where.append(f"record {self.line}")
        if self.record is not None:
            where.append(f"id {_shortened(repr(self.record), 80)}")
        if self.field is not None:
            where.append(f"field {self.field!r}")
        return f"{', '.join(where)}: {self.reason}" if where else self.reason

    def located(self, *, source: str | None = None, line: int | None = None) -> ValidationError:
        """Return a copy of this error placed at ``source``/``line`` (for loaders)."""
        return ValidationError(
            self.reason,
            source=source if source is not None else self.source,
            line=line if line is not None else self.line,
            record=self.record,
            field=self.field,
            problems=self.problems,
            warnings=self.warnings,
        )


class NotFoundError(RecsysError, KeyError):
    """An id (member, item) is not in the store."""

    def __init__(self, kind: str, id_: str) -> None:
        self.kind = kind
        self.id = id_
        super().__init__(f"no {kind} with id {id_!r}")

    def __str__(self) -> str:  # KeyError would quote the whole message otherwise
        return str(self.args[0])


class ConflictError(RecsysError):
    """A write conflicts with what the store holds (e.g. an event id reused for other data).

    Args:
        message: What conflicts, and with what.
        record: The id of the record of the write that conflicts, when known (so a caller that
            read it from a file can name the file and line).
        line: Its 1-based position in the batch written, when known: an event id may repeat in
            a batch (once per tenant), so the id alone may not tell which record it was.
    """

    def __init__(self, message: str, *, record: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.record = record
        self.line = line


class AmbiguousIdError(ValidationError):
    """An id given without a tenant is held by several tenants (enterprises), so it names no one
    record: give the tenant (``engine.tenant("hxny")``, or ``tenant=`` to the store).

    Args:
        kind: ``"member"`` or ``"item"``.
        id_: The id.
        tenants: The tenants that hold it.
    """

    def __init__(self, kind: str, id_: str, tenants: Iterable[str]) -> None:
        self.kind = kind
        self.id = id_
        self.tenants = sorted(tenants)
        super().__init__(
            f"{kind} id {id_!r} is held by {len(self.tenants)} enterprises ({', '.join(self.tenants)}): "
            f"give the enterprise, as engine.tenant({self.tenants[0]!r})")


class StoreError(RecsysError):
    """The store cannot be opened or is inconsistent in a way it cannot repair."""


class ModelError(RecsysError):
    """An encoder model cannot be loaded or converted."""


class SetupError(RecsysError):
    """The installation lacks something an operation needs (a font, a file of the model): the
    operator's to fix, not the caller's (the HTTP service answers 503 and names no path)."""


class MissingExtraError(RecsysError, ImportError):
    """A feature needs an optional part of recsys that is not installed (``pip install 'recsys[...]'``)."""

    def __init__(self, feature: str, extra: str) -> None:
        super().__init__(f"{feature} needs the optional '{extra}' dependencies: pip install 'recsys[{extra}]'")
        self.extra = extra


class TokenError(RecsysError):
    """A member token is malformed, tampered with, signed with a retired secret, or expired."""
