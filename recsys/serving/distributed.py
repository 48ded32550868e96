"""A day's lists for every member on a Ray cluster: shards of members, each served by a worker that
opens the same store.

Each shard is one Ray task that opens the engine on the store's URL and runs the single-process
batch (:func:`recsys.serving.batch.serve_day`) on its members. Lists are the ones the
single-process batch makes: a member's list reads that member's own events, the catalogue, the
branch's completions and the store-wide collaborative model, none of which the other shards'
writes (served lists and their impressions) move. A worker that dies mid-shard is retried by Ray;
the retry skips the members whose lists were already stored (the batch is resumable), and a list
is stored with its impressions in one transaction, so nothing is written twice or lost.

The store must be one every worker can open: a folder on a disk they share (one machine) or a
PostgreSQL URL; an in-memory store cannot be shared.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Sequence

from recsys.exceptions import MissingExtraError, ValidationError

__all__ = ["serve_day_on_ray", "shards"]


def shards(member_ids: Sequence[str], workers: int, per_worker: int = 4) -> list[list[str]]:
    """``member_ids`` cut into about ``per_worker`` shards per worker, in order: small enough that a
    retried shard redoes little, large enough that each task's start-up (opening the engine) is
    paid for."""
    count = max(1, min(len(member_ids), workers * per_worker))
    size = -(-len(member_ids) // count)
    return [list(member_ids[i:i + size]) for i in range(0, len(member_ids), size)]


def _serve_shard(url: str, member_ids: list[str], day: dt.date, chunk: int,
                 after_block: Callable[[int], None] | None) -> tuple[int, int, float]:
    """One Ray task: the lists of a shard's members, written to the store at ``url``."""
    from recsys import Engine

    with Engine.open(url) as engine:  # the store names its own encoder
        report = engine.batch(day, members=member_ids, chunk=chunk, progress=after_block)
    return report.served, report.skipped, report.seconds


def serve_day_on_ray(
    url: str,
    member_ids: Sequence[str],
    day: dt.date,
    *,
    address: str | None = None,
    workers: int | None = None,
    chunk: int = 256,
    progress: Callable[[int], None] | None = None,
    after_block: Callable[[int], None] | None = None,
) -> tuple[int, int, int]:
    """Compute and store the day's list of every member of ``member_ids`` not yet served, on Ray.

    Args:
        url: The store, as every worker opens it (a folder on a shared disk, or ``postgresql://``).
        member_ids: The members in scope.
        day: The day.
        address: A running cluster (``ray start --head`` prints it); None starts a local one
            with a worker per core of this machine.
        workers: Shards are cut for this many workers (default: the cluster's CPUs).
        chunk: Members per block within a shard (see :func:`recsys.serving.batch.daily_many`).
        progress: Called on the driver with the number of members of each shard finished.
        after_block: Called in a worker after each block of its shard (e.g. for the worker's own
            log); it travels to the workers, so it must be picklable.

    Returns:
        ``(served, skipped, shards)``: lists stored by this run, members skipped as already
        served (a retried shard's members count once), and the number of shards.
    """
    if url.startswith("memory:"):
        raise ValidationError("a Ray batch needs a store every worker can open: a folder or a postgresql:// URL",
                              field="store")
    try:
        import ray
    except ImportError:
        raise MissingExtraError("the batch on a Ray cluster", "cluster") from None

    started_here = not ray.is_initialized()
    if started_here:
        if address is None:
            # Logical CPUs as the machine has cores: one shard per core at a time.
            ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, log_to_driver=False,
                     configure_logging=False)
        else:
            ray.init(address=address, log_to_driver=False, configure_logging=False)
    try:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        parts = shards(member_ids, workers or cpus)
        # A worker that dies is retried (max_retries); an exception inside a shard is not: it is
        # the same on every attempt, and surfaces to the caller.
        task = ray.remote(num_cpus=1, max_retries=3)(_serve_shard)
        pending = {task.remote(url, part, day, chunk, after_block): len(part) for part in parts}
        served = skipped = 0
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                n = pending.pop(ref)
                s, k, _ = ray.get(ref)
                served, skipped = served + s, skipped + k
                if progress is not None:
                    progress(n)
        return served, skipped, len(parts)
    finally:
        if started_here:
            ray.shutdown()

