"""The service's settings, read from the environment (prefix ``RECSYS_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from recsys.storage import store_folder

__all__ = ["Settings", "KEYS_FILE_NAME"]

#: The keys file's name inside the store folder, when ``RECSYS_KEYS_FILE`` is not set.
KEYS_FILE_NAME = "keys.json"


class Settings(BaseSettings):
    """What the HTTP service needs to start: where the store is and the request limits.

    Every field can be set with an environment variable named after it with the prefix
    ``RECSYS_``: ``RECSYS_STORE``, ``RECSYS_ENCODER``, ``RECSYS_KEYS_FILE``,
    ``RECSYS_MAX_BODY_BYTES``, ``RECSYS_MAX_BATCH``, ``RECSYS_MAX_CONCURRENT``,
    ``RECSYS_QUEUE_SECONDS``, ``RECSYS_BODY_SECONDS``.

    Example:
        >>> Settings(store="recsys-data", encoder="tfidf").keys_path
        PosixPath('recsys-data/keys.json')
    """

    model_config = SettingsConfigDict(env_prefix="RECSYS_", extra="ignore")

    store: str | Path = Field("recsys-data", description="The store: a folder, sqlite:///folder or postgresql://...")
    encoder: str | None = Field(
        None, description="Encoder for a new store (e5-small, tfidf, a model); default: the store's own."
    )
    keys_file: Path | None = Field(None, description="The API keys file; default: keys.json in the store.")
    max_body_bytes: int = Field(1 << 20, ge=1, description="Largest request body accepted, in bytes.")
    max_batch: int = Field(1000, ge=1, description="Most records accepted in one batch write.")
    max_concurrent: int = Field(
        16, ge=1, description="Requests worked on at once per process; more wait, then get 503 + Retry-After."
    )
    queue_seconds: float = Field(
        1.0, gt=0, description="Seconds a request waits for one of the max_concurrent places before its 503."
    )
    body_seconds: float = Field(30.0, gt=0, description="Seconds a request body may take to arrive (else 408).")

    @property
    def keys_path(self) -> Path:
        """The API keys file in use: by default ``keys.json`` in the store's folder (a store
        without one, such as PostgreSQL, needs ``RECSYS_KEYS_FILE``)."""
        if self.keys_file is not None:
            return self.keys_file
        folder = store_folder(self.store)
        if folder is None:
            raise ValueError("a store without a folder keeps no keys file: set RECSYS_KEYS_FILE (--keys-file)")
        return folder / KEYS_FILE_NAME
