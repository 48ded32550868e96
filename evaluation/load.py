"""Many clients against a real ``recsys serve``: latencies, and how many were told to retry.

Usage::

    python -m evaluation.load [--clients 200] [--seconds 60] [--workers 2] [--client httpx|wrk] [--out DIR]

Loads the sample corpus into a fresh store (model-free encoder), serves it with ``recsys serve
--workers N`` on a loopback port, and has ``--clients`` concurrent clients (``httpx``: one asyncio
task each, in this process; ``wrk``: that many connections of the C load generator ``wrk``, one
thread, whose own cost per request is a small fraction of Python's) ask for members' daily lists (the day's list, stored once and then read
again: what a portal's daily push and its members' refreshes ask for) for ``--seconds``. Counts
every answer by status, and the latencies of the answered (200) and of the refused (503) ones,
as the clients saw them and as the server's request log has them (from the request's arrival at
the app to its answer: what the server controls; the clients share the machine's cores with the
server, so what they see also holds their own wait for a core). A 503 must carry
``Retry-After``. Writes ``load.json`` and ``load.md`` (``load-wrk.*`` with wrk) to ``evaluation/results``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from evaluation.machine import describe, describe_markdown, write_results

__all__ = ["measure", "markdown", "main"]

ROOT = Path(__file__).resolve().parents[1]
DAY = "2026-12-01"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _store(folder: Path) -> tuple[list[str], str]:
    from corpus import load_events, load_items, load_members
    from recsys import Engine
    from service.keys import KeyRing

    with Engine.open(folder, encoder="tfidf") as engine:
        engine.add_items(load_items())
        members = load_members()
        engine.upsert_members(members)
        engine.record(load_events())
    orgs = sorted({m.org.split(".")[0] for m in members})
    key = KeyRing(folder / "keys.json").add(orgs[0])[1]
    return [m.id for m in members if m.org.split(".")[0] == orgs[0]], key


async def _clients(url: str, key: str, members: list[str], clients: int, seconds: float) -> list[tuple[int, float, bool]]:
    import httpx

    results: list[tuple[int, float, bool]] = []
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits,
                                 headers={"Authorization": f"Bearer {key}"}) as client:

        async def one(n: int) -> None:
            k = n
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    response = await client.get(f"/v1/members/{members[k % len(members)]}/daily", params={"day": DAY})
                    status, retry = response.status_code, "retry-after" in response.headers
                except httpx.HTTPError:
                    status, retry = 0, False
                results.append((status, time.perf_counter() - started, retry))
                k += clients

        await asyncio.gather(*(one(n) for n in range(clients)))
    return results


#: wrk's script: members in turn, each connection one request at a time; answers counted by
#: status, and 503s without Retry-After; the threads' counts summed at the end as one JSON line.
_WRK_SCRIPT = """
local members = {%(members)s}
local n = 0
statuses, bare = {}, 0
local threads = {}
function setup(thread) table.insert(threads, thread) end
function request()
  n = n + 1
  return wrk.format("GET", "/v1/members/" .. members[(n %% #members) + 1] .. "/daily?day=%(day)s",
                    {["Authorization"] = "Bearer %(key)s"})
end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status == 503 and headers["retry-after"] == nil and headers["Retry-After"] == nil then bare = bare + 1 end
end
function done(summary, latency, requests)
  local counts, missing = {}, 0
  for _, t in ipairs(threads) do
    for status, c in pairs(t:get("statuses")) do counts[status] = (counts[status] or 0) + c end
    missing = missing + t:get("bare")
  end
  local parts = {}
  for status, c in pairs(counts) do table.insert(parts, string.format('"%%d": %%d', status, c)) end
  local e = summary.errors
  io.write(string.format('RESULT {"requests": %%d, "by_status": {%%s}, "bare_503": %%d, "transport_errors": %%d, '
    .. '"p50_s": %%.4f, "p99_s": %%.4f, "max_s": %%.4f}\\n', summary.requests, table.concat(parts, ", "), missing,
    e.connect + e.read + e.write + e.timeout, latency:percentile(50) / 1e6, latency:percentile(99) / 1e6,
    latency.max / 1e6))
end
"""


def _wrk(url: str, key: str, members: list[str], clients: int, seconds: float, folder: Path) -> dict:
    """Run ``wrk`` (one thread, ``clients`` connections) and read what its script counted."""
    import shutil

    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: `make system` installs it (Debian package wrk)")
    script = folder / "daily.lua"
    script.write_text(_WRK_SCRIPT % {"members": ", ".join(json.dumps(m) for m in members), "day": DAY,
                                     "key": key}, encoding="utf-8")
    proc = subprocess.run(["wrk", "-t1", f"-c{clients}", f"-d{seconds:g}s", "--timeout", "60s", "-s", str(script),
                           url], capture_output=True, text=True, timeout=seconds + 120)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr[-1000:] or proc.stdout[-1000:]}")
    return json.loads(line.removeprefix("RESULT "))


def _server_durations(log_file: Path, start: int) -> dict:
    """Percentiles of the request log's durations of daily lists, answered and refused."""
    by_status: dict[int, list[float]] = {}
    with open(log_file, "rb") as f:
        f.seek(start)
        for line in f:
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if entry.get("route") == "/v1/members/{member_id}/daily":
                    by_status.setdefault(entry["status"], []).append(entry["duration_ms"] / 1000)
    out = {}
    for status, name in ((200, "answered"), (503, "refused")):
        values = np.array(by_status.get(status, []))
        out[f"{name}_p50_s"] = round(float(np.percentile(values, 50)), 3) if values.size else None
        out[f"{name}_p99_s"] = round(float(np.percentile(values, 99)), 3) if values.size else None
    return out


def measure(clients: int, seconds: float, workers: int, *, max_concurrent: int = 16, queue_seconds: float = 1.0,
            client: str = "httpx") -> dict:
    """Serve the sample corpus with ``workers`` processes (each working on ``max_concurrent``
    requests at once, a request waiting ``queue_seconds`` for a place) and load it with
    ``clients`` clients of ``client`` (``httpx`` or ``wrk``)."""
    import httpx

    with tempfile.TemporaryDirectory(prefix="recsys-load-") as tmp:
        store = Path(tmp) / "store"
        members, key = _store(store)
        port = _port()
        url = f"http://127.0.0.1:{port}"
        log_file = Path(tmp) / "server.log"
        with open(log_file, "wb") as log:
            server = subprocess.Popen(
                [sys.executable, "-m", "recsys", "serve", "--store", str(store), "--port", str(port),
                 "--workers", str(workers), "--log-level", "info"],
                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True,
                env={**os.environ, "HF_HUB_OFFLINE": "1", "RECSYS_MAX_CONCURRENT": str(max_concurrent),
                     "RECSYS_QUEUE_SECONDS": str(queue_seconds)},
            )
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(f"{url}/health/ready", timeout=5).status_code == 200:
                        break
                time.sleep(0.2)
            # Every worker warm: each member's list asked once (and stored) before the clock runs.
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as c:
                for _ in range(workers):
                    for m in members:
                        c.get(f"/v1/members/{m}/daily", params={"day": DAY})
            log_from = log_file.stat().st_size
            if client == "wrk":
                counted = _wrk(url, key, members, clients, seconds, Path(tmp))
            else:
                results = asyncio.run(_clients(url, key, members, clients, seconds))
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=60)
        served = _server_durations(log_file, log_from)
    common = {"clients": clients, "client": client, "seconds": seconds, "workers": workers, "members": len(members),
              "max_concurrent": max_concurrent, "queue_seconds": queue_seconds}
    if client == "wrk":
        by_status = {str(k): v for k, v in sorted(counted["by_status"].items(), key=lambda kv: int(kv[0]))}
        return {
            **common, "requests": counted["requests"], "per_second": round(counted["requests"] / seconds, 1),
            "by_status": by_status,
            "errors": counted["transport_errors"] + sum(v for k, v in by_status.items() if k not in ("200", "503")),
            "refused_without_retry_after": counted["bare_503"],
            # wrk keeps one latency histogram for every answer, whatever its status.
            "answered_p50_s": round(counted["p50_s"], 3), "answered_p99_s": round(counted["p99_s"], 3),
            "answered_max_s": round(counted["max_s"], 3), "refused_p99_s": None,
            **{f"server_{name}": value for name, value in served.items()},
            "machine": describe(),
        }
    statuses = [r[0] for r in results]
    ok = np.array([r[1] for r in results if r[0] == 200])
    busy = np.array([r[1] for r in results if r[0] == 503])
    return {
        **common,
        "requests": len(results),
        "per_second": round(len(results) / seconds, 1),
        "by_status": {str(s): statuses.count(s) for s in sorted(set(statuses))},
        "errors": sum(s not in (200, 503) for s in statuses),
        "refused_without_retry_after": sum(1 for s, _, retry in results if s == 503 and not retry),
        "answered_p50_s": round(float(np.percentile(ok, 50)), 3) if ok.size else None,
        "answered_p99_s": round(float(np.percentile(ok, 99)), 3) if ok.size else None,
        "answered_max_s": round(float(ok.max()), 3) if ok.size else None,
        "refused_p99_s": round(float(np.percentile(busy, 99)), 3) if busy.size else None,
        **{f"server_{name}": value for name, value in served.items()},
        "machine": describe(),
    }


def markdown(r: dict) -> list[str]:
    """The report of one run (:func:`measure`'s result) as Markdown lines."""

    def s_(value: float | None) -> str:
        return "–" if value is None else f"{value} s"

    return [
        "# Load: concurrent clients against recsys serve",
        "",
        f"`python -m evaluation.load --clients {r['clients']} --seconds {r['seconds']:g} --workers {r['workers']} "
        f"--max-concurrent {r['max_concurrent']} --queue-seconds {r['queue_seconds']:g} --client {r['client']}`: "
        f"{r['clients']} clients asking for the daily lists of {r['members']} members (sample corpus, tfidf) "
        f"for {r['seconds']:g} s, each client one request at a time; {r['max_concurrent']} requests in progress "
        f"per worker, {r['queue_seconds']:g} s wait for a place.",
        "",
        "| requests | per s | answered 200 | refused 503 | errors | 503 without Retry-After |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {r['requests']} | {r['per_second']} | {r['by_status'].get('200', 0)} | {r['by_status'].get('503', 0)} | "
        f"{r['errors']} | {r['refused_without_retry_after']} |",
        "",
        "| latency | 200 p50 | 200 p99 | 503 p99 |",
        "|---|---:|---:|---:|",
        f"| at the server (request log) | {s_(r['server_answered_p50_s'])} | {s_(r['server_answered_p99_s'])} | "
        f"{s_(r['server_refused_p99_s'])} |",
        f"| at the clients (same machine{', every status' if r['client'] == 'wrk' else ''}) | "
        f"{s_(r['answered_p50_s'])} | {s_(r['answered_p99_s'])} | {s_(r['refused_p99_s'])} |",
        "",
        describe_markdown(),
        "",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-concurrent", type=int, default=16, help="RECSYS_MAX_CONCURRENT of the server")
    parser.add_argument("--queue-seconds", type=float, default=1.0, help="RECSYS_QUEUE_SECONDS of the server")
    parser.add_argument("--client", choices=("httpx", "wrk"), default="httpx",
                        help="the load generator: Python's httpx in this process, or wrk")
    parser.add_argument("--out", type=Path, default=ROOT / "evaluation" / "results")
    args = parser.parse_args(argv)
    r = measure(args.clients, args.seconds, args.workers, max_concurrent=args.max_concurrent,
                queue_seconds=args.queue_seconds, client=args.client)
    lines = markdown(r)
    write_results(args.out, "load" if r["client"] == "httpx" else f"load-{r['client']}", r, lines)


if __name__ == "__main__":
    main()
