"""A day's lists for every member spread over workers: shards of members, each served by a worker
that opens the same store, either processes of this machine or actors of a Ray cluster.

Each worker is a Ray actor that opens the engine on the store's URL once and runs the
single-process batch (:func:`recsys.serving.batch.serve_day`) on shard after shard of members. Lists are the ones the
single-process batch makes: a member's list reads that member's own events, the catalogue, the
branch's completions and the store-wide collaborative model, none of which the other shards'
writes (served lists and their impressions) move. A worker that dies mid-shard is restarted by
Ray and the shard retried; the retry skips the members whose lists were already stored (the batch is resumable), and a list
is stored with its impressions in one transaction, so nothing is written twice or lost.

The store must be one every worker can open: a folder on a disk they share (one machine) or a
PostgreSQL URL; an in-memory store cannot be shared.

Processes of one machine (:func:`serve_day_in_processes`) need nothing beyond the standard
library: on a machine with a few cores, planning is Python-bound and one process plans on one
core, so a worker per core is what the batch can gain there. Ray spreads over machines.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Sequence

from recsys.exceptions import MissingExtraError, ValidationError

__all__ = ["MEMBERS_PER_WORKER", "available_memory", "resident_memory", "serve_day_on_ray", "serve_day_in_processes",
           "shards", "suggested_workers", "usable_cores"]

#: Members a process of this machine is worth starting for. A fresh worker opens the store and
#: reads its models before its first list, about 2 s more than planning in the process that
#: asks (2,000 members of the 5,000-member store of ``evaluation/list_costs.py``: 15.6 s on one
#: fresh worker against 13.6 s in process, two workers 10.1 s); at about 150 lists/s a second
#: worker makes that good after some 850 members.
MEMBERS_PER_WORKER = 1024


def usable_cores() -> int:
    """The cores this process may run on (its affinity, a container's share of the machine)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def suggested_workers(members: int, *, worker_bytes: int = 0) -> int:
    """How many processes of this machine a day's lists for ``members`` members are best planned
    on: planning is Python-bound, so one per usable core, but one per :data:`MEMBERS_PER_WORKER`
    members at most (below that a worker's start costs more than it plans), no more than the
    memory available holds of ``worker_bytes`` each (a worker holds its own catalogue, index and
    models: 250 MiB at 10,000 items, over a GiB at 100,000), and at least one."""
    count = min(usable_cores(), members // MEMBERS_PER_WORKER)
    free = available_memory()
    if worker_bytes > 0 and free is not None:
        count = min(count, free // worker_bytes)
    return max(1, count)


def available_memory() -> int | None:
    """Bytes of memory the machine can give without swapping (Linux's ``MemAvailable``), or None
    where it does not say."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def resident_memory() -> int | None:
    """Bytes of memory this process holds now (Linux's resident set), or None where unknown."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def shards(member_ids: Sequence[str], workers: int, per_worker: int = 4) -> list[list[str]]:
    """``member_ids`` cut into about ``per_worker`` shards per worker, in order: small enough that the
    workers finish together and a retried shard redoes little, large enough that a block fills."""
    count = max(1, min(len(member_ids), workers * per_worker))
    size = -(-len(member_ids) // count)
    return [list(member_ids[i:i + size]) for i in range(0, len(member_ids), size)]


class _ShardServer:
    """A Ray actor: one engine opened on the store at ``url``, serving shard after shard (opening
    an engine, with its index and collaborative model, costs seconds: once per worker, not per
    shard)."""

    def __init__(self, url: str, tenant: str | None = None) -> None:
        from recsys import Engine
        from recsys.serving.allocator import reuse_freed_memory

        reuse_freed_memory()  # a worker's process does nothing but plan lists
        # The store names its own encoder; an enterprise's batch runs on its view in every worker.
        self.engine = Engine.open(url, tenant=tenant)

    def serve(self, member_ids: list[str], day: dt.date, chunk: int,
              after_block: Callable[[int], None] | None) -> tuple[int, int, list[str]]:
        from recsys.serving.batch import serve_day

        # The members as the batch listed them, in its order: one removed since (a roster sync
        # during the night's run) is left out, as the single-process batch leaves them out,
        # where ``Engine.batch(members=...)`` would refuse the whole shard for them.
        report = serve_day(self.engine._world, member_ids, day, chunk=chunk, progress=after_block)
        return report.served, report.skipped, list(report.unreadable)

    def close(self) -> None:
        self.engine.close()


def _check_shared(url: str) -> None:
    if url.startswith("memory:"):
        raise ValidationError("a batch over several workers needs a store every worker can open: a folder or a "
                              "postgresql:// URL", field="store")


# -- processes of this machine ------------------------------------------------------------------

#: The worker process's engine, opened once by :func:`_open_worker`, and the process that started
#: it (state of a worker process of the pool only: the process that starts the pool never sets it).
_worker: _ShardServer | None = None
_parent: int | None = None


def _open_worker(url: str, tenant: str | None, parent: int) -> None:
    global _worker, _parent
    _worker, _parent = _ShardServer(url, tenant), parent


def _serve_shard(member_ids: list[str], day: dt.date, chunk: int) -> tuple[int, int, list[str]]:
    assert _worker is not None, "called outside a worker process"
    return _worker.serve(member_ids, day, chunk, _stop_if_orphaned)


def _stop_if_orphaned(_done: int) -> None:
    """After each block (its lists stored in one transaction): a worker whose batch was killed
    (``kill -9``: the pool could not stop it) stops too, rather than go on writing lists nobody
    waits for and then hold the store open for good."""
    if os.getppid() != _parent:
        os._exit(1)


def serve_day_in_processes(
    url: str,
    member_ids: Sequence[str],
    day: dt.date,
    *,
    workers: int,
    chunk: int = 256,
    progress: Callable[[int], None] | None = None,
    tenant: str | None = None,
) -> tuple[int, int, int]:
    """As :func:`serve_day_on_ray`, on ``workers`` processes of this machine (started fresh, not
    forked: the parent's threads and open database handles stay its own).

    A shard whose worker fails raises here; members already stored stay stored, and running the
    batch again serves the rest.

    Returns:
        ``(served, skipped, shards, unreadable)``.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    _check_shared(url)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValidationError(f"workers must be a whole number of at least 1, got {workers!r}", field="workers")
    parts = shards(member_ids, workers)
    served = skipped = 0
    unreadable: list[str] = []
    pool = ProcessPoolExecutor(min(workers, len(parts)), mp_context=multiprocessing.get_context("spawn"),
                               initializer=_open_worker, initargs=(url, tenant, os.getpid()))
    try:
        for done in as_completed([pool.submit(_serve_shard, part, day, chunk) for part in parts]):
            s, k, bad = done.result()
            served, skipped = served + s, skipped + k
            unreadable += bad
            if progress is not None:
                progress(s + k + len(bad))
    except BaseException:
        # Ctrl-C, or a shard that failed: the shards not started are dropped and the workers
        # stopped now (each block is one transaction: what is stored stays, a run again resumes),
        # not after every queued shard has run.
        processes = list((getattr(pool, "_processes", None) or {}).values())  # shutdown() forgets them
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        raise
    pool.shutdown()
    return served, skipped, len(parts), unreadable


# -- a Ray cluster ------------------------------------------------------------------------------

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
    tenant: str | None = None,
) -> tuple[int, int, int]:
    """Compute and store the day's list of every member of ``member_ids`` not yet served, on Ray.

    Args:
        url: The store, as every worker opens it (a folder on a shared disk, or ``postgresql://``).
        member_ids: The members in scope.
        day: The day.
        address: A running cluster (``ray start --head`` prints it); None starts a local one
            with a worker per core of this machine.
        workers: Workers (one engine each) and shards cut for them (default: the cluster's CPUs).
        chunk: Members per block within a shard (see :func:`recsys.serving.batch.daily_many`).
        progress: Called on the driver with the number of members of each shard finished.
        after_block: Called in a worker after each block of its shard (e.g. for the worker's own
            log); it travels to the workers, so it must be picklable.
        tenant: The enterprise whose members these are: each worker opens its view (member
            ids are unique per enterprise only); None for the whole store.

    Returns:
        ``(served, skipped, shards, unreadable)``: lists stored by this run, members skipped as
        already served (a retried shard's members count once), the number of shards, and the
        members whose stored record is damaged (not served).
    """
    _check_shared(url)
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
        from ray.util import ActorPool

        count = workers or int(ray.cluster_resources().get("CPU", 1))
        parts = shards(member_ids, count)
        # A worker that dies is restarted and its shard retried (the batch skips what it had
        # stored); an exception inside a shard is not retried: it would recur, and surfaces.
        server = ray.remote(num_cpus=1, max_restarts=3, max_task_retries=3)(_ShardServer)
        actors = [server.remote(url, tenant) for _ in range(min(count, len(parts)))]
        served = skipped = 0
        unreadable: list[str] = []
        for s, k, bad in ActorPool(actors).map_unordered(
            lambda actor, part: actor.serve.remote(part, day, chunk, after_block), parts
        ):
            served, skipped = served + s, skipped + k
            unreadable += bad
            if progress is not None:
                progress(s + k + len(bad))
        ray.get([actor.close.remote() for actor in actors])
        return served, skipped, len(parts), unreadable
    finally:
        if started_here:
            ray.shutdown()

