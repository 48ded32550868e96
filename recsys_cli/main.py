"""The ``recsys`` command line: a thin layer over :class:`recsys.Engine`.

The store is ``--store DIR`` (accepted after the subcommand), else ``$RECSYS_STORE``, else
``./recsys-data``. Errors print one line naming the file, record and field, and exit with 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import functools
import json
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["main", "build_parser"]


def _store_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--store", metavar="DIR", help="store folder (default: $RECSYS_STORE or ./recsys-data)")
    common.add_argument(
        "--encoder", metavar="NAME",
        help="encoder for a new store: e5-small (default), tfidf, or a sentence-transformers model",
    )
    common.add_argument(
        "--tenant", metavar="ENTERPRISE",
        help="work as one enterprise sees the store (member and item ids are unique per enterprise): "
             "needed where an id is used by several",
    )
    return common


def _reading_options() -> argparse.ArgumentParser:
    reading = argparse.ArgumentParser(add_help=False)
    reading.add_argument("--check", action="store_true", help="validate the files and list every problem; write nothing")
    reading.add_argument("--strict", action="store_true",
                         help="treat warnings (unknown roles or topics, events in the future) as errors")
    reading.add_argument("--encoding", metavar="NAME",
                         help="text encoding of CSV/JSON files, e.g. gbk or utf-8 (default: detected)")
    reading.add_argument("--sheet", metavar="NAME", help="the sheet of an Excel workbook (default: the first holding a table)")
    return reading


def build_parser() -> argparse.ArgumentParser:
    common = _store_options()
    parser = argparse.ArgumentParser(
        prog="recsys", description="Personalised learning-content recommendation for party-member education."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("demo", parents=[common], help="load the sample corpus and show what the engine does")
    p.add_argument("--day", type=_date, help="the day to plan for (default: today)")

    reading = _reading_options()
    p = sub.add_parser("ingest", parents=[common, reading],
                       help="add or update items from CSV, Excel (.xlsx, .xls), JSONL or JSON files")
    p.add_argument("files", nargs="+", metavar="FILE")

    p = sub.add_parser("members", parents=[common, reading], help="add or update members from a file")
    p.add_argument("file", metavar="FILE")

    p = sub.add_parser("events", parents=[common, reading],
                       help="record events from files (an export split at Excel's 1,048,576 rows: all in one run)")
    p.add_argument("files", nargs="+", metavar="FILE")

    p = sub.add_parser("credits", parents=[common, reading],
                       help="record opening balances (member, year, hours, topic, note): hours studied before go-live")
    p.add_argument("file", metavar="FILE")

    p = sub.add_parser("orgs", parents=[common, reading],
                       help="record display names of organisations (org, name; 组织编码, 组织名称) for reports")
    p.add_argument("file", metavar="FILE")

    p = sub.add_parser("search", parents=[common], help="items matching a text")
    p.add_argument("text", metavar="TEXT")
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("similar", parents=[common], help="items similar to an item")
    p.add_argument("item", metavar="ITEM")
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("daily", parents=[common], help="a member's study list for a day")
    p.add_argument("member", metavar="MEMBER")
    p.add_argument("--day", type=_date, help="the day (default: today, Asia/Shanghai)")
    p.add_argument("--minutes", type=int, help="time available (default: the member's daily_minutes)")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("path", parents=[common], help="a member's multi-day study path")
    p.add_argument("member", metavar="MEMBER")
    p.add_argument("--start", type=_date, help="first day (default: today)")
    p.add_argument("--days", type=int, default=7, help="number of days (default: 7)")
    p.add_argument("--minutes", type=int, help="time available each day (default: the member's daily_minutes)")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("batch", parents=[common],
                       help="compute and store every member's list for a day (resumable: members served are skipped)")
    p.add_argument("--day", type=_date, help="the day (default: today, Asia/Shanghai)")
    p.add_argument("--org", help="only the members of this organisation and the units under it")
    p.add_argument("--chunk", type=int, default=256, help="members per block (default: 256)")
    p.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                   help="spread the members over a Ray cluster at ADDRESS (without one: a local cluster, "
                        "a worker per core); needs recsys[cluster]")
    p.add_argument("--workers", type=_workers, default="auto", metavar="N",
                   help="plan on N processes of this machine (a worker per core is what planning can use); "
                        "default auto: one per core, one per 1,024 members at most (1 for a small run); "
                        "with --ray, the number of Ray workers (auto: one per CPU of the cluster)")
    p.add_argument("--train", action=argparse.BooleanOptionalAction, default=True,
                   help="first train the ranking model when missing or stale, as `recsys train --if-stale` "
                        "(default), and every enterprise's own model (see train --tenant) that is stale; "
                        "--no-train serves with whatever models the store has")

    p = sub.add_parser("train", parents=[common],
                       help="learn the ranking model (EASE^R, iALS, the blend) from the store's events and keep it there "
                            "(with --tenant: that enterprise's own model, from its members alone)")
    p.add_argument("--if-stale", action="store_true",
                   help="only if never trained, or activity grew by about a sixteenth since (for a nightly job)")
    p.add_argument("--trees", action="store_true",
                   help="also try gradient-boosted trees as the blend (needs lightgbm; kept only where they "
                        "beat the logistic blend on held-out members)")
    p.add_argument("--json", action="store_true", help="print what training measured as JSON")
    p.add_argument("--forget", action="store_true",
                   help="remove the trained model instead (with --tenant: that enterprise's own, so its members "
                        "go back to the whole store's model)")

    p = sub.add_parser("coverage", parents=[common], help="coverage for editors: gaps, exposure, members not reached")
    p.add_argument("--html", metavar="FILE", help="write the report as a self-contained HTML page")
    p.add_argument("--xlsx", metavar="FILE", help="write every table of the report to an Excel workbook")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--org", help="only this organisation (its units, its own and shared items)")
    p.add_argument("--day", type=_date, help="the as-of day (default: today, Asia/Shanghai)")
    p.add_argument("--duplicate-threshold", type=float, metavar="COS",
                   help="cosine for near-duplicates (default: the recommender's, e5 0.983, tfidf 0.87; "
                        "0.995 / 0.92 list exact repeats only)")

    p = sub.add_parser("page", parents=[common], help="a member's page (list, activities, hours) as one HTML file")
    p.add_argument("member", metavar="MEMBER")
    p.add_argument("--html", metavar="FILE", required=True, help="write the page here (opens without a server)")
    p.add_argument("--day", type=_date, help="the day (default: today, Asia/Shanghai)")

    p = sub.add_parser("progress", parents=[common],
                       help="learning records: a member's hours, points and mastery, or an organisation's by branch")
    p.add_argument("member", metavar="MEMBER", nargs="?", help="the member (or give --org)")
    p.add_argument("--org", help="an organisation: its branches, leaderboards and alerts")
    p.add_argument("--day", type=_date, help="the day (default: today, Asia/Shanghai)")
    p.add_argument("--alerts", type=int, default=20, metavar="N",
                   help="with --org: most alerts of each kind printed, most urgent first (default 20; 0: all; "
                        "--json has all)")
    p.add_argument("--branches", type=int, default=50, metavar="N",
                   help="with --org: most branches printed, those with most members behind pace first "
                        "(default 50; 0: all; --json has all)")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("digest", parents=[common],
                       help="an organisation's digest of the day for its group chat (items, activities, no names)")
    p.add_argument("org", metavar="ORG", help="a branch, or a unit (its branches together)")
    p.add_argument("--day", type=_date, help="the day (default: today, Asia/Shanghai)")
    p.add_argument("--markdown", action="store_true", help="企业微信 group-bot markdown instead of text")
    p.add_argument("--max-bytes", type=int, metavar="N",
                   help="at most N UTF-8 bytes, leaving out whole entries from the end (default: what a 企业微信 "
                        "group bot takes, 2048 for text and 4096 for markdown; 0: no limit)")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("push", parents=[common],
                       help="make the day's lists, then post each branch's digest to a 企业微信 group-bot webhook")
    p.add_argument("--day", type=_date, help="the day (default: today, Asia/Shanghai)")
    p.add_argument("--webhook", metavar="URL", required=True, help="the group bot's webhook URL")
    p.add_argument("--org", help="only the branches of this organisation")
    p.add_argument("--again", action="store_true",
                   help="send also the digests this webhook was already sent for the day (a run again sends only "
                        "what did not arrive)")
    p.add_argument("--workers", type=_workers, default="auto", metavar="N",
                   help="plan the lists on N processes of this machine (default auto, as recsys batch)")

    p = sub.add_parser("stats", parents=[common], help="counts and settings of the store")
    p.add_argument("--json", action="store_true", help="print JSON")

    sub.add_parser("model", parents=[common], help="prepare the default model (convert once, then cached)")

    p = sub.add_parser("migrate", help="copy a store to another backend (SQLite folder <-> PostgreSQL), then check the copy")
    p.add_argument("source", metavar="SRC", help="the store to copy: a folder or a store URL")
    p.add_argument("target", metavar="DST", help="an empty store: a folder or a store URL (postgresql://user@host/db)")
    p.add_argument("--sample", type=int, default=20, metavar="N",
                   help="members whose daily lists are compared between the two (default: 20)")
    p.add_argument("--day", type=_date, help="the day of the compared lists (default: today, Asia/Shanghai)")

    p = sub.add_parser("check", parents=[common],
                       help="check the store: the database's pages, that every row parses, the vector index file")
    p.add_argument("--repair", action="store_true",
                   help="rebuild what can be rebuilt from the database: its indexes and the vector index file")

    p = sub.add_parser("backup", parents=[common],
                       help="copy a folder store, while in use, into a new folder (SQLite's online backup)")
    p.add_argument("target", metavar="DEST", help="a new or empty folder; it becomes a store of its own")

    p = sub.add_parser("bench", help="performance benchmarks and encoder choice (writes evaluation/results)")
    p.add_argument("--quick", action="store_true",
                   help="small sizes, model-free encoder, well under 90 s; results to evaluation/out/bench-quick")
    p.add_argument("--out", metavar="DIR", help="results folder (default: evaluation/results)")

    p = sub.add_parser("evaluate", help="list quality against baselines and peers on simulated members (writes evaluation/RESULTS.md)")
    p.add_argument("--quick", action="store_true",
                   help="the CI setting (about a minute); report to evaluation/out/evaluate-quick")
    p.add_argument("--out", metavar="DIR", help="folder of RESULTS.md; numbers and plots go to DIR/results (default: evaluation)")
    p.add_argument("--seeds", type=int, metavar="N", help="seeds of the offline protocols (default: 3 quick, 5 full)")

    p = sub.add_parser("serve", parents=[common], help="run the HTTP API on the store (uvicorn)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    p.add_argument("--workers", type=int, default=1, help="worker processes sharing the store (default: 1)")
    p.add_argument("--keys-file", metavar="FILE", help="API keys file (default: $RECSYS_KEYS_FILE or keys.json in the store)")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.add_argument("--create", action="store_true",
                   help="create the store if there is none (without it, only in an existing folder, such as "
                        "one recsys keys add made: a mistyped path is an error, not an empty service)")

    keys_common = argparse.ArgumentParser(add_help=False)
    keys_common.add_argument("--store", metavar="DIR", help="store folder (default: $RECSYS_STORE or ./recsys-data)")
    keys_common.add_argument(
        "--keys-file", metavar="FILE", help="API keys file (default: $RECSYS_KEYS_FILE or keys.json in the store)"
    )
    p = sub.add_parser("keys", help="manage the HTTP API's keys")
    keys = p.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    k = keys.add_parser("add", parents=[keys_common],
                        help="create a key for an organisation (or --platform); prints the key last")
    k.add_argument("org", metavar="ORG", nargs="?", help="organisation id, a dotted path (hxny, hxny.fdgs.zb-yunxing)")
    k.add_argument("--admin", action="store_true", help="the key may also open its organisation's coverage page")
    k.add_argument("--platform", action="store_true",
                   help="a key with no organisation: the only key that creates, replaces or removes shared items "
                        "(org null); it sees no tenant's members, events or items")
    k = keys.add_parser("revoke", parents=[keys_common], help="revoke a key (give the key or its id)")
    k.add_argument("key", metavar="KEY")
    k = keys.add_parser("list", parents=[keys_common], help="list the keys (ids and organisations, no secrets)")
    k.add_argument("--json", action="store_true", help="print JSON")
    keys.add_parser("rotate-token-secret", parents=[keys_common],
                    help="sign member tokens with a new secret: every member token issued before is refused")
    k = keys.add_parser("token", parents=[keys_common], help="a short-lived token acting for one member (for /m?token=)")
    k.add_argument("member", metavar="MEMBER")
    k.add_argument("--hours", type=float, default=12.0, help="lifetime in hours, at most 168 (default: 12)")
    k.add_argument("--tenant", metavar="ENTERPRISE",
                   help="the member's enterprise: needed where several enterprises use the member's id")
    return parser


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _workers(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of processes or auto: {text!r}") from None


def _store_path(args: argparse.Namespace) -> str:
    return args.store or os.environ.get("RECSYS_STORE") or "recsys-data"


def _store_exists(args: argparse.Namespace) -> bool:
    from recsys.exceptions import StoreError
    from recsys.storage.migrate import existing_store

    try:
        existing_store(_store_path(args))
    except StoreError:
        return False
    return True


#: Commands that write records: they may start an enterprise (its first roster, checked or not).
_WRITES_RECORDS = ("ingest", "members", "events", "credits", "orgs")


def _open(args: argparse.Namespace, *, create: bool = False):
    """The engine over the command's store. Only a writing command (``create``) makes a store
    where there is none: a read command on a mistyped path says so and creates nothing. A read
    command opens a folder store this user may not write read-only, so it can still be read."""
    from recsys import Engine
    from recsys.exceptions import NotFoundError, StoreError
    from recsys.storage import store_folder
    from recsys.storage.migrate import existing_store

    store = _store_path(args)
    read_only = False
    if not create:
        try:
            existing_store(store)
        except StoreError as exc:
            raise StoreError(f"{exc}; only ingest, members, events, credits, demo and serve --create "
                             "create a store") from None
        folder = store_folder(store)
        read_only = folder is not None and not all(
            os.access(path, os.W_OK) for path in (folder, folder / "recsys.sqlite"))
    tenant = getattr(args, "tenant", None)
    engine = Engine.open(store, encoder=args.encoder, read_only=read_only, tenant=tenant)
    whole = getattr(engine.store, "whole", engine.store)
    if tenant and not create and getattr(args, "command", None) not in _WRITES_RECORDS \
            and not engine.store.count_members() \
            and engine.store.count_items() == whole.count_items(tenant=""):  # the shared items alone
        # A mistyped enterprise would read as one without members or gaps (as a mistyped --org
        # would); only a command that writes may start an enterprise.
        engine.close()
        raise NotFoundError("enterprise", tenant)
    return engine


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def _print_hits(hits, as_json: bool) -> None:
    if as_json:
        _print_json([h.to_dict() for h in hits])
        return
    for n, h in enumerate(hits, start=1):
        it = h.item
        print(f"{n:>2}. {h.score:.3f}  {it.title}  [{it.id} · {it.kind} · {it.minutes}分钟 · {'、'.join(it.topics)}]")


def _read(args: argparse.Namespace, path: str, record_type: type, check=None):
    """Read one file with the store's vocabulary and, for members and items, its organisations'
    names (所在支部 may name a branch by name); warnings go to stderr as they are found.
    ``check``: as for :func:`recsys.ingest.loaders.read_batch`."""
    from recsys.exceptions import ValidationError
    from recsys.ingest.loaders import read_batch
    from recsys.orgs import OrgDirectory
    from recsys.records import Item, Member

    orgs = None
    if record_type in (Item, Member) and _store_exists(args):
        from recsys.orgs import within
        from recsys.storage import open_store

        store = open_store(_store_path(args))
        try:
            names = store.org_names()
        finally:
            store.close()
        tenant = getattr(args, "tenant", None)  # a view of an enterprise reads its own units' names
        orgs = OrgDirectory({c: n for c, n in names.items() if tenant is None or within(c, tenant)})
    try:
        batch = read_batch(path, record_type, curriculum=_curriculum(args), encoding=args.encoding,
                           sheet=args.sheet, strict=args.strict, orgs=orgs, check=check)
    except ValidationError as exc:
        _print_warnings(exc.warnings)  # with the errors, so that one round of fixing sees both
        raise
    _print_warnings(batch.warnings)
    return batch


#: Warnings of one kind printed in full; the rest of that kind are counted on one line.
_WARNINGS_SHOWN = 5


def _print_warnings(warnings) -> None:
    """Each kind of warning (its field and wording, numbers aside) a few times in full, then how
    many more of it there are and on which lines: 3,000 events dated after now are one kind, not
    3,000 lines of the same warning."""
    _print_by_kind(warnings, "recsys: warning: ", "警告")


def _print_by_kind(found, prefix: str, noun: str) -> None:
    """Problems or warnings (located), each kind :data:`_WARNINGS_SHOWN` times in full and then
    counted with the lines it is on."""
    import re
    from collections import defaultdict

    from recsys.ingest.loaders import InputWarning

    kinds: dict[tuple, list] = defaultdict(list)
    for one in found:
        said = str(getattr(one, "reason", None) or getattr(one, "message", one))
        # One kind whatever the value quoted or the numbers: 7 rows with 7 unknown words are one;
        # so are 300 enrolments of members who do not attend offline, each by their name.
        kind = ((one.kind if isinstance(one, InputWarning) else getattr(one, "warning_kind", None))
                or re.sub(r"[0-9]+", "#", re.sub(r"'[^']*'|“[^”]*”", "…", said)))
        kinds[(one.source, one.field, kind)].append(one)
    for same in kinds.values():
        for one in same[:_WARNINGS_SHOWN]:
            print(f"{prefix}{_one_line(str(one))}", file=sys.stderr)
        rest = same[_WARNINGS_SHOWN:]
        if rest:
            lines = [w.line for w in rest if w.line is not None]
            where = f" (lines {min(lines)}-{max(lines)})" if lines else ""
            print(f"{prefix}{rest[0].source or 'the batch'}: 另有 {len(rest)} 条同类{noun}{where}", file=sys.stderr)


def _curriculum(args: argparse.Namespace):
    """The store's curriculum (its vocabulary reads the codes), read without opening the store:
    ``--check`` writes nothing, not even a new store."""
    from pathlib import Path

    from recsys.curriculum import Curriculum

    store = _store_path(args).removeprefix("sqlite://")
    found = Path(store) / "curriculum.json"
    return Curriculum.load(found) if "://" not in store and found.is_file() else Curriculum()


def _written(batches, write):
    """``write`` the records of every batch in one call, so that one transaction holds them all
    (a later file that fails, or a kill, leaves nothing of the earlier ones). Where files share
    an id the later file's record is kept, as if written one after the other. A problem the
    engine places by position, or a conflict it names by id, is named by its file and line."""
    from recsys.exceptions import ConflictError, ValidationError
    from recsys.ingest.loaders import combine

    records, origins, later = [], [], set()
    for batch in reversed(batches):
        kept = [(r, line) for r, line in zip(batch.records, batch.lines) if getattr(r, "id", None) not in later]
        later |= {r.id for r in batch.records if getattr(r, "id", None) is not None}
        records[:0] = [r for r, _ in kept]
        origins[:0] = [(batch.source, line) for _, line in kept]
    try:
        return write(records)
    except ValidationError as exc:
        raise combine([p.located(source=origins[p.line - 1][0], line=origins[p.line - 1][1]) if p.line else p
                       for p in exc.problems or [exc]]) from None
    except ConflictError as exc:
        at = exc.line - 1 if exc.line is not None and 0 < exc.line <= len(records) else next(
            (n for n, r in enumerate(records) if exc.record is not None and getattr(r, "id", None) == exc.record), None)
        if at is None:
            raise
        source, line = origins[at]
        raise ConflictError(f"{source}:{line}, id {exc.record!r}: {exc}", record=exc.record) from None


def _read_summary(batch, noun: str) -> str:
    how = f" ({batch.encoding})" if batch.encoding else ""
    warned = len(batch.warnings)
    return f"{batch.source}{how}: {len(batch.records)} {noun}" + (f", {warned} warning{'s' * (warned != 1)}" if warned else "")


def _load(args: argparse.Namespace, paths: Sequence[str], record_type: type, noun: str,
          writer: Callable[[Any], Callable[[list], Any]],
          tail: Callable[[Any, Any], str] = lambda written, batch: "",
          prepare: Callable[[Any, Any], list] | None = None,
          verify: Callable[[Any], Callable] | None = None,
          notice: Callable[[Any, list], list] | None = None) -> int:
    """Read every file first (nothing is written if any is wrong), then write them all in one
    call of ``writer(engine)``, or with ``--check`` only say what would be written.
    ``prepare(engine, batch)`` gives the records to write of a batch (default: as read);
    ``verify(engine)`` gives a ``check`` of what the store would refuse of rows valid alone,
    listed with the file's other problems when the store exists (one that does not is not
    created); ``notice(engine, batches)`` gives warnings that need the store (printed, and
    counted in each file's summary)."""
    import contextlib

    from recsys.exceptions import RecsysError

    with contextlib.ExitStack() as stack:
        # The store opened once for the checks, the warnings and the write (its index and
        # catalogue load in seconds on a large store); one that does not exist is made only to
        # write, once every file has been read.
        engine = stack.enter_context(_open(args, create=not args.check)) if _store_exists(args) else None
        batches = [_read(args, path, record_type, verify(engine) if verify is not None and engine is not None else None)
                   for path in paths]
        made = None
        if engine is None and not args.check:
            made = _new_folder(_store_path(args))
            engine = stack.enter_context(_open(args, create=True))
        try:
            return _check_or_write(args, batches, engine, noun, writer, tail, prepare, notice)
        except RecsysError:
            # A store made for this write and refused it (a check that needs the store, a full
            # disk: the write is whole or nothing) is taken away: an empty one left behind fixed
            # its encoder, and looked written. Not on an interrupt or a closed pipe, which may
            # come after the write; nor if it holds anything, which another import started at
            # the same moment on the same new folder wrote.
            if made is not None and _empty(engine.store):
                stack.close()
                shutil.rmtree(made, ignore_errors=True)
            raise


def _empty(store) -> bool:
    """Whether a store holds no item, member, event or served list."""
    from recsys.storage.migrate import StoreCounts, count_store

    return count_store(store) == StoreCounts(0, 0, 0, 0)


def _new_folder(store: str) -> str | None:
    """The folder a store at ``store`` would be made in, if it is a local one that does not exist
    yet (None for a URL of a server, or a folder already there)."""
    if "://" in store and not store.startswith("sqlite://"):
        return None
    folder = os.path.expanduser(store.removeprefix("sqlite://"))
    return None if os.path.exists(folder) else folder


def _check_or_write(args, batches, engine, noun, writer, tail, prepare, notice) -> int:
    """The rest of :func:`_load`, over the files read: warnings that need the store, then the
    write (or with ``--check``, what would be written)."""

    def noticed(engine) -> None:
        nonlocal batches
        found = notice(engine, batches) if notice is not None else []
        if found and args.strict:  # as for the warnings of reading: errors, nothing written
            from recsys.ingest.loaders import combine

            raise combine([w.as_error() for w in found])
        _print_warnings(found)
        batches = [dataclasses.replace(b, warnings=[*b.warnings, *(w for w in found if w.source == b.source)])
                   for b in batches]

    if args.check:
        if engine is not None and notice is not None:
            noticed(engine)
        for batch in batches:
            print(_read_summary(batch, f"{noun} valid") + "; nothing written")
        return 0
    noticed(engine)
    if prepare is not None:
        batches = [dataclasses.replace(b, records=prepare(engine, b)) for b in batches]
    written = _written(batches, writer(engine))
    for batch in batches:
        print(_read_summary(batch, noun) + tail(written, batch))
    return 0


def _cmd_ingest(args: argparse.Namespace) -> int:
    from recsys.ingest.loaders import InputWarning
    from recsys.records import Item

    def prerequisites(engine, batches) -> list:
        # A prerequisite in none of the files and not in the store keeps its item from everyone
        # until it is added and studied: said now rather than found later in coverage.
        ids = {it.id for b in batches for it in b.records}
        wanted = {r for b in batches for it in b.records for r in it.requires} - ids
        held = engine.store.item_ids(sorted(wanted)) if wanted else set()
        return [InputWarning(f"前置内容 {r!r} 不在内容库中：在它入库并学完之前，本内容不会推荐给任何人",
                             source=b.source, line=line, record=it.id, field="requires")
                for b in batches for it, line in zip(b.records, b.lines) for r in it.requires
                if r not in ids and r not in held]

    return _load(args, args.files, Item, "items",
                 lambda engine: functools.partial(engine.add_items, progress=sys.stderr.isatty()),
                 notice=prerequisites)


def _cmd_members(args: argparse.Namespace) -> int:
    from recsys.ingest.loaders import id_clashes, keep_unlisted, stray_orgs
    from recsys.records import Member

    def stored(engine, records) -> dict:
        # What the store holds of the members read, per tenant: an id may name a member in each
        # enterprise.
        found_all, view = {}, getattr(engine.store, "tenant", None)  # a --tenant view reads its own only
        for tenant in {m.tenant for m in records}:
            ids = [m.id for m in records if m.tenant == tenant]
            found = engine.store.get_members(ids) if view is not None else engine.store.get_members(ids, tenant=tenant)
            found_all.update(((tenant, i), m) for i, m in found.items() if m.tenant == tenant)
        return found_all

    changes: dict[str, str] = {}  # per file: how many members are new, updated, unchanged

    def kept(engine, batch) -> list:
        # Columns the file lacks keep what the store holds (see keep_unlisted).
        held = stored(engine, batch.records)
        records = keep_unlisted(batch, held)
        before = [held.get((m.tenant, m.id)) for m in records]
        new = sum(b is None for b in before)
        same = sum(b == m for b, m in zip(before, records))
        # A roster read again each month: what it changed, not only how many rows it had.
        changes[batch.source] = f": {new} new, {len(records) - new - same} updated, {same} unchanged"
        return records

    def clashes(engine):
        # Listed with the file's other problems, under --check too.
        return lambda records, lines, source: id_clashes(records, lines, source, stored(engine, records))

    def strays(engine, batches) -> list:
        # Organisations are known from their registered names, the members and the items.
        # The members' organisations without their records (300,000 records took 11 s to read).
        known = {*engine.org_names(), *(org for org, _ in engine.store.member_orgs()),
                 *(it.org for it in engine.catalogue().items.values() if it.org is not None)}
        return [w for b in batches for w in stray_orgs(b.records, known, source=b.source, lines=b.lines)]

    return _load(args, [args.file], Member, "members", lambda engine: engine.upsert_members,
                 lambda written, batch: changes.get(batch.source, ""), prepare=kept, verify=clashes, notice=strays)


def _stored(*fields: str) -> Callable[[Any], Callable]:
    """A ``verify`` for :func:`_load`: what writing refuses though every row is valid alone, a
    member (``"member"``) or item (``"item"``) the store does not hold, each row named."""

    def verify(engine) -> Callable:
        from recsys.exceptions import ValidationError

        held = {"member": engine.store.member_ids, "item": engine.store.item_ids}

        def check(records, lines, source) -> list:
            found = {f: held[f](list({getattr(r, f) for r in records})) for f in fields}
            return [ValidationError(f"unknown {f} {getattr(r, f)!r}" + (f" (member {r.member!r})" if f != "member" else ""),
                                    source=source, line=line, field=f)
                    for r, line in zip(records, lines) for f in fields if getattr(r, f) not in found[f]]

        return check

    return verify


def _cmd_events(args: argparse.Namespace) -> int:
    from recsys.records import Event

    read: list = []  # the files' batches, as written

    def against_store(engine, batches) -> list:
        # Attendance dated before its activity, enrolments the service would refuse or past an
        # activity's seats: the files as one export (seats counted across them), each warning
        # placed back at its file and line.
        read[:] = batches
        events = [e for b in batches for e in b.records]
        places = [(b.source, line) for b in batches for line in b.lines]
        found = engine.event_warnings(events, lines=range(1, len(events) + 1))
        return [dataclasses.replace(w, source=places[w.line - 1][0], line=places[w.line - 1][1]) if w.line else w
                for w in found]

    told = [0]  # files summed up so far (a path given twice is two files)

    def tail(added: int, batch) -> str:
        # The store counts what is new over the whole write: said once, after the last file.
        told[0] += 1
        if len(read) > 1 and told[0] < len(read):
            return ""
        total = sum(len(b.records) for b in read) if read else len(batch.records)
        where = " in all" if len(read) > 1 else ""
        return f": {added} new{where} ({total - added} already recorded)"

    return _load(args, args.files, Event, "events", lambda engine: engine.record, tail,
                 verify=_stored("member", "item"), notice=against_store)


def _cmd_credits(args: argparse.Namespace) -> int:
    from recsys.credits import OpeningBalance

    return _load(args, [args.file], OpeningBalance, "opening balances", lambda engine: engine.record_balances,
                 verify=_stored("member"))


def _cmd_orgs(args: argparse.Namespace) -> int:
    from recsys.orgs import OrgName

    return _load(args, [args.file], OrgName, "organisation names", lambda engine: engine.set_org_names)


def _cmd_search(args: argparse.Namespace) -> int:
    with _open(args) as engine:
        _print_hits(engine.search(args.text, k=args.k), args.json)
    return 0


def _cmd_similar(args: argparse.Namespace) -> int:
    with _open(args) as engine:
        _print_hits(engine.similar(args.item, k=args.k), args.json)
    return 0


def _cmd_daily(args: argparse.Namespace) -> int:
    from recsys.serving.text import format_list

    with _open(args) as engine:
        read_only = getattr(engine.store, "read_only", False)
        if read_only:
            print("recsys: note: the store is read-only: the list is shown, not stored", file=sys.stderr)
        lst = engine.daily(args.member, day=args.day, minutes=args.minutes, preview=read_only)
        name = engine.member(args.member).name
    if args.json:
        _print_json(lst.to_dict())
    else:
        print(format_list(lst, title=f"{name} {lst.day}"))
    return 0


def _cmd_path(args: argparse.Namespace) -> int:
    from recsys.serving.text import format_path

    with _open(args) as engine:
        path = engine.path(args.member, start=args.start, days=args.days, minutes=args.minutes)
    if args.json:
        _print_json(path.to_dict())
    else:
        print(format_path(path))
    return 0


def _cmd_batch(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from recsys.exceptions import NotFoundError
    from recsys.models.training import NotEnoughHistory
    from recsys.orgs import within

    def train(engine, whose: str = "") -> None:
        try:
            if not engine.model_stale():
                return
            # Minutes at a large group's scale, before any list: said, not silent.
            why = "activity grew since it was trained" if engine.ranking_model() is not None else "none yet"
            print(f"{whose}training the ranking model before the lists ({why}; --no-train skips it)...", flush=True)
            trained = engine.train()
        except NotEnoughHistory:
            print(f"{whose}not trained: too little history yet; lists use the hand-set weights")
            trained = None
        except Exception as exc:  # noqa: BLE001 - the day's lists matter more than a fresher model
            print(f"recsys: warning: {whose}not trained, lists use the model the store has: {_one_line(str(exc))}",
                  file=sys.stderr)
            trained = None
        if trained is not None:
            print(f"{whose}ranking model trained on {trained.positive} positive pairs ({trained.blend} blend) "
                  f"in {trained.seconds:.1f} s")

    with _open(args) as engine:
        if args.org is not None and not any(within(code, args.org) for code, _ in engine.store.member_orgs()):
            raise NotFoundError("organisation", args.org)  # before training: a typo costs nothing
        if args.train:
            train(engine)
            if getattr(args, "tenant", None) is None:
                # Enterprises with a model of their own keep it current from their own events,
                # each in a view opened for it and let go after (a view holds its own catalogue).
                try:
                    codes = engine.enterprise_models()
                except Exception as exc:  # noqa: BLE001 - the day's lists matter more
                    print(f"recsys: warning: enterprises' own models not trained: {_one_line(str(exc))}",
                          file=sys.stderr)
                    codes = []
                for code in codes:
                    try:
                        with _open(argparse.Namespace(**{**vars(args), "tenant": code})) as view:
                            train(view, f"enterprise {code}: ")
                    except Exception as exc:  # noqa: BLE001 - as train() does for the model itself
                        print(f"recsys: warning: enterprise {code}: not trained: {_one_line(str(exc))}",
                              file=sys.stderr)
        # A bar with a total shows how far along it is and the time left, for --org too.
        total = _members_in(engine, args.org)
        # The bar goes to stderr and only to a terminal: logs of a nightly job stay clean.
        with tqdm(total=total, unit="人", desc="每日清单", disable=None) as bar:
            report = engine.batch(day=args.day, org=args.org, chunk=args.chunk, progress=bar.update, cluster=args.ray,
                                  workers=args.workers)
    print(report.summary())
    return 1 if report.unreadable else 0  # everyone else is served; the damaged records need a person


def _cmd_train(args: argparse.Namespace) -> int:
    from recsys.models.training import NotEnoughHistory, TrainConfig

    with _open(args) as engine:
        if args.forget:
            if not engine.forget_model():
                print("no trained model to remove")
                return 0
            print("trained model removed: lists use " + ("the whole store's model, if it has one"
                                                         if engine.enterprise is not None else
                                                         "the hand-set blend (enterprises with their own keep them)"))
            return 0
        try:
            report = engine.train(TrainConfig(trees=True) if args.trees else None, if_stale=args.if_stale)
        except NotEnoughHistory as exc:
            # Not a failure of the store: lists keep the hand-set weights (exit 0, so a nightly
            # `recsys train && recsys batch` goes on); the reason is on stderr.
            print(f"recsys: not trained: {_one_line(str(exc))}", file=sys.stderr)
            if args.json:  # a script reading the output gets JSON whatever happened
                _print_json({"trained": False, "reason": _one_line(str(exc))})
            return 0
    if report is None:
        if args.json:
            _print_json({"trained": False, "reason": "current"})
        else:
            print("ranking model is current; not trained again (drop --if-stale to train anyway)")
        return 0
    if args.json:
        _print_json({"trained": True, **report.to_dict()})
        return 0
    print(f"trained on {report.positive} positive pairs of {report.members} members, {report.items} items "
          f"(activity up to {report.activity}) in {report.seconds:.1f} s")
    if report.ndcg_hand is not None:
        where = ("last days of the store's own history" if report.validation == "calendar"
                 else "each member's last day of study")
        print(f"validation ({where}, {report.validation_members} members): "
              f"NDCG@10 hand-set {report.ndcg_hand:.4f}, learned {report.ndcg_learned:.4f}; "
              f"lists use the {report.blend} blend"
              + (f" ({'gradient-boosted trees' if report.blend_model == 'trees' else 'logistic'})"
                 if report.blend_model else ""))
    else:
        print("too few members with history to learn a blend: lists use the hand-set blend "
              "with the EASE^R and iALS scores")
    return 0


def _cmd_digest(args: argparse.Namespace) -> int:
    from recsys.exceptions import ValidationError
    from recsys.reports.digest import WECOM_MARKDOWN_BYTES, WECOM_TEXT_BYTES, format_digest

    limit = args.max_bytes
    if limit is None:  # what a secretary pastes into the group must be taken by it
        limit = WECOM_MARKDOWN_BYTES if args.markdown else WECOM_TEXT_BYTES
    elif limit and limit < 200:
        raise ValidationError(f"--max-bytes must be 0 (no limit) or at least 200, got {limit}", field="max-bytes")
    with _open(args) as engine:
        digest = engine.digest(args.org, day=args.day)
    if args.json:
        _print_json(digest.to_dict())
    else:
        print(format_digest(digest, markdown=args.markdown, max_bytes=limit or None))
    return 0


def _members_in(engine, org: str | None) -> int:
    """Members of ``org`` and the units under it (everyone for None), counted from the
    organisation column alone: no record parsed."""
    from recsys.orgs import within

    return sum(1 for code, _ in engine.store.member_orgs() if org is None or within(code, org))


def _cmd_push(args: argparse.Namespace) -> int:
    from recsys.delivery.push import push_digests

    with _open(args) as engine:
        pushed = push_digests(engine, args.webhook, day=args.day, org=args.org, again=args.again,
                              workers=args.workers)
    for branch in pushed:
        print(branch.summary())
    failed = sum(not b.delivery.ok for b in pushed)
    before = sum(b.skipped for b in pushed)
    print(f"{len(pushed) - failed - before} of {len(pushed)} branch digests sent"
          + (f", {before} sent before" if before else ""))
    return 1 if failed else 0


def _cmd_stats(args: argparse.Namespace) -> int:
    with _open(args) as engine:
        stats = engine.stats()
    if args.json:
        _print_json(stats)
    else:
        for key, value in stats.items():
            print(f"{key}: {value}")
    return 0


def _cmd_coverage(args: argparse.Namespace) -> int:
    from recsys.reports.coverage import format_coverage
    from recsys.reports.coverage_html import write_html

    with _open(args) as engine:
        report = engine.coverage(org=args.org, day=args.day, duplicate_threshold=args.duplicate_threshold)
    if args.html:
        write_html(report, args.html)
    if args.xlsx:
        from recsys.reports.coverage_tables import coverage_tables, workbook

        _write(args.xlsx, workbook([t for section in coverage_tables(report).values() for t in section]))
    if args.json:
        _print_json(report.to_dict())
    else:
        print(format_coverage(report))
        if args.html:
            print(f"\nHTML report written to {args.html}")
        if args.xlsx:
            print(f"{'' if args.html else chr(10)}Excel workbook written to {args.xlsx}")
    return 0


def _cmd_page(args: argparse.Namespace) -> int:
    from recsys.exceptions import MissingExtraError

    try:
        from service.routers.member_pages import offline_page
    except ImportError:
        raise MissingExtraError("recsys page", "service") from None
    with _open(args) as engine:
        # A preview: reviewing a member's page stores no list and starts no cool-down.
        document = engine.member_page(args.member, day=args.day, preview=True)
    _write(args.html, offline_page(document))
    print(f"{document['member']['name']} {document['day']}: {len(document['entries'])} items, "
          f"{document['minutes']}/{document['budget']} minutes, {len(document['upcoming'])} activities ahead; "
          f"page written to {args.html}")
    return 0


def _write(path: str, data: str | bytes) -> None:
    """Write an output file (text as UTF-8). A folder that does not exist, a folder given as the
    file, or no permission is the user's to fix: said with the path, not as a traceback."""
    from pathlib import Path

    from recsys.exceptions import ValidationError
    from recsys.files import write_file

    out = Path(path)
    try:
        write_file(out, data)  # whole or not at all: a full disk leaves last week's report as it was
    except OSError as exc:
        raise ValidationError(f"cannot write the file: {exc.strerror or exc}", source=str(out)) from None


def _cmd_model(args: argparse.Namespace) -> int:
    from recsys.embedding.encoders import get_encoder

    encoder = get_encoder(args.encoder)
    print(f"{encoder.name}: ready, dimension {encoder.dim}")
    return 0


def _keys_path(args: argparse.Namespace) -> str:
    from service.settings import KEYS_FILE_NAME

    explicit = args.keys_file or os.environ.get("RECSYS_KEYS_FILE")
    return explicit or os.path.join(_store_path(args), KEYS_FILE_NAME)


def _cmd_keys(args: argparse.Namespace) -> int:
    # The service is an optional layer above the library: imported only when asked for.
    from recsys.exceptions import MissingExtraError, ValidationError

    try:
        from service.keys import KeyRing
    except ImportError:
        raise MissingExtraError("recsys keys", "service") from None

    if args.keys_command in ("rotate-token-secret", "token"):
        return _member_tokens(args)
    ring = KeyRing(_keys_path(args))
    if args.keys_command == "add":
        if (args.org is None) != args.platform:
            raise ValidationError("give either an organisation ORG or --platform (a key for shared items)")
        record, key = ring.add(args.org, admin=args.admin)
        if record.platform:
            print(f"platform key {record.id} (shared items only), saved (hashed) in {ring.path}")
        else:
            kind = "admin key" if record.admin else "key"
            print(f"{kind} {record.id} for organisation {record.org}, saved (hashed) in {ring.path}")
        print("the key is shown only now; send it as 'Authorization: Bearer <key>':")
        print(key)
    elif args.keys_command == "revoke":
        record = ring.revoke(args.key)
        print(f"key {record.id} of {record.org} revoked at {record.revoked}")
    elif args.json:
        _print_json([k.public() for k in ring.keys()])
    else:
        keys = ring.keys()
        if not keys:
            print(f"no keys in {ring.path}; create one with: recsys keys add ORG")
        for k in keys:
            state = f"revoked {k.revoked}" if k.revoked else "active"
            org = "(platform: shared items)" if k.platform else k.org
            print(f"{k.id}  {org}{'  (admin)' if k.admin else ''}  created {k.created}  {state}")
    return 0


def _member_tokens(args: argparse.Namespace) -> int:
    """Member tokens live in the store (its signing secret), not in the keys file."""
    from pathlib import Path

    from recsys.exceptions import StoreError
    from recsys.storage import open_store, store_folder
    from recsys.tokens import MemberTokens

    path = _store_path(args)
    folder = store_folder(path)
    if folder is not None and not Path(folder).is_dir():
        raise StoreError(f"no store at {path}: give --store DIR or set RECSYS_STORE")
    if args.keys_command == "rotate-token-secret":
        store = open_store(path)
        try:
            MemberTokens(store).rotate()
        finally:
            store.close()
        print("member tokens are now signed with a new secret; every token issued before is refused")
        return 0
    from recsys import Engine

    # Through the engine (a view with --tenant), so a token names the enterprise as the HTTP
    # route's does, and an id several enterprises use is refused rather than left ambiguous.
    with Engine.open(path, tenant=args.tenant) as engine:
        token, expires = engine.member_token(args.member, hours=args.hours)
    print(f"token for member {args.member}, valid until {expires.isoformat()}; open /m?token=<token>:")
    print(token)
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from recsys.exceptions import MissingExtraError, ValidationError
    from recsys.storage import store_folder

    try:
        import uvicorn

        from service.logs import log_config
    except ImportError:
        raise MissingExtraError("recsys serve", "service") from None

    if not 1 <= args.port <= 65535:
        raise ValidationError(f"--port must be from 1 to 65535, got {args.port}")
    if args.workers < 1:
        raise ValidationError(f"--workers must be at least 1, got {args.workers}")
    # Open the store once here: a wrong store or encoder fails now with one line, not in every
    # worker, and the default model is converted once rather than by each worker at a time.
    # A new store only where asked for: with --create, or in a folder made for it (by recsys keys
    # add); a mistyped path is an error, not an empty service answering ready.
    prepared = store_folder(_store_path(args))
    _open(args, create=args.create or (prepared is not None and prepared.is_dir())).close()
    # The app reads its settings from the environment, so every worker process sees the same.
    store = _store_path(args)
    folder = store_folder(store)
    # A folder as an absolute path (workers may start elsewhere); a database URL as given.
    os.environ["RECSYS_STORE"] = os.fspath(store) if folder is None else os.path.abspath(folder)
    if folder is None and not args.keys_file:
        raise ValidationError("a store without a folder keeps no keys file: give --keys-file")
    if args.encoder:
        os.environ["RECSYS_ENCODER"] = args.encoder
    if args.keys_file:
        os.environ["RECSYS_KEYS_FILE"] = os.path.abspath(args.keys_file)
    uvicorn.run(
        "service.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=log_config(args.log_level),
        access_log=False,  # the service writes its own structured request log
        timeout_graceful_shutdown=30,
        # Slow or idle clients must not hold connections: an idle keep-alive connection closes
        # after 5 s, request headers over 16 KiB are refused, and each worker holds at most
        # 1,000 connections and tasks (past that uvicorn answers 503 itself). A body that takes
        # over RECSYS_BODY_SECONDS to arrive is refused by the app (408).
        timeout_keep_alive=5,
        h11_max_incomplete_event_size=16 * 1024,
        limit_concurrency=1000,
    )
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from recsys.serving.integrity import check_store

    with _open(args) as engine:  # closing saves a rebuilt index
        check = check_store(engine, repair=args.repair)
    for line in check.lines():
        print(line)
    print("the store is sound" if check.ok else "recsys: the store is damaged (see above)",
          file=sys.stdout if check.ok else sys.stderr)
    return 0 if check.ok else 1


def _cmd_backup(args: argparse.Namespace) -> int:
    from recsys import Engine
    from recsys.storage import SQLiteStore, open_store, redacted, store_folder
    from recsys.storage.migrate import existing_store

    source = _store_path(args)
    if store_folder(source) is None:
        print(f"recsys: error: recsys backup copies folder stores; {redacted(source)} is not one. For PostgreSQL "
              f"use its own tool: pg_dump --format=custom --file=recsys.dump '{redacted(source)}' (restore with "
              "pg_restore --dbname=URL recsys.dump), or copy it to a folder store with recsys migrate SRC DEST",
              file=sys.stderr)
        return 2
    existing_store(source)
    store = open_store(source, read_only=True)  # a backup only reads: a read-only snapshot is copied too
    try:
        assert isinstance(store, SQLiteStore)
        written = store.backup(args.target)
        counts = (store.count_items(), store.count_members(), store.count_events())
    finally:
        store.close()
    # The copy is checked as a store of its own: it opens, SQLite finds it sound, the counts agree.
    with Engine.open(args.target, read_only=True) as copy:
        copied = (copy.store.count_items(), copy.store.count_members(), copy.store.count_events())
        pages = copy.store.integrity_problems()
    if copied != counts or pages:
        print(f"recsys: error: the copy in {args.target} does not match: {copied} against {counts} {pages}",
              file=sys.stderr)
        return 1
    print(f"backed up {len(written)} files to {args.target}: {counts[0]} items, {counts[1]} members, "
          f"{counts[2]} events; the copy is sound")
    print(f"restore by giving --store {args.target} (or copying it into place while no process uses the store)")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    # evaluation/ sits above the library and is imported only when asked for.
    from pathlib import Path

    from evaluation import bench

    sizes = bench.QUICK if args.quick else bench.FULL
    bench.run(sizes, out=Path(args.out) if args.out else None, quick=args.quick)
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    # evaluation/ sits above the library and is imported only when asked for.
    from pathlib import Path

    from evaluation import quality

    settings = quality.QUICK if args.quick else quality.FULL
    if args.seeds is not None:
        if args.seeds < 1:
            print(f"recsys: error: --seeds must be at least 1, got {args.seeds}", file=sys.stderr)
            return 2
        settings = dataclasses.replace(settings, seeds=args.seeds)
    out = Path(args.out) if args.out else (quality.ROOT / "out" / "evaluate-quick" if args.quick else quality.ROOT)
    results = quality.run(settings, out=out)
    print(f"written {out / 'RESULTS.md'}")
    for floor in results["floors"]:
        if not floor["ok"]:
            print(f"recsys: floor broken: {floor['floor']} ({floor['value']})", file=sys.stderr)
    return 0 if results["ok"] else 1


def _cmd_demo(args: argparse.Namespace) -> int:
    from corpus.demo import run_demo

    run_demo(_store_path(args), encoder=args.encoder, day=args.day)
    return 0


def _cmd_progress(args: argparse.Namespace) -> int:
    from recsys.exceptions import ValidationError
    from recsys.reports.alerts import format_alerts
    from recsys.reports.progress import format_member_progress, format_org_progress

    if (args.member is None) == (args.org is None):
        raise ValidationError("give either a MEMBER or --org ORG")
    for flag in ("alerts", "branches"):
        if getattr(args, flag) < 0:
            raise ValidationError(f"--{flag} must be 0 (all) or more, got {getattr(args, flag)}", field=flag)
    with _open(args) as engine:
        if args.member is not None:
            progress = engine.progress(args.member, day=args.day)
            if args.json:
                _print_json(progress.to_dict())
            else:
                print(format_member_progress(progress, engine.catalogue(), engine.org_names()))
            return 0
        progress = engine.org_progress(args.org, day=args.day)
        alerts = engine.alerts(args.org, day=args.day)
    if args.json:
        _print_json({**progress.to_dict(), "alerts": [a.to_dict() for a in alerts]})
    else:
        print(format_org_progress(progress, most=args.branches or None))
        for line in format_alerts(alerts, most=args.alerts or None):
            print(f"  {line}")
    return 0


def _cmd_migrate(args: argparse.Namespace) -> int:
    import random

    from recsys import Engine
    from recsys.pipeline.collaborative import ARTEFACT as COLLABORATIVE
    from recsys.storage import open_store
    from recsys.storage.migrate import copy_store, count_store, existing_store

    source = open_store(existing_store(args.source))
    try:
        target = open_store(args.target)
        try:
            names = source.url, target.url  # never the password of a URL
            if source.url == target.url:
                print(f"recsys: error: {names[0]} and {names[1]} are the same store", file=sys.stderr)
                return 2
            members = sorted((m.tenant, m.id) for m in source.iter_members())
            # The whole store's model and each enterprise's own (see Engine.train), whatever else
            # was kept beside them too; not the collaborative model kept as a cache (the copy
            # numbers its member writes anew, so it would not be read: the copy builds its own).
            copied = copy_store(source, target, progress=lambda what, n: print(f"copied {n} {what}", file=sys.stderr),
                                artefacts=[n for n in source.artefact_names() if not n.startswith(COLLABORATIVE)])
            expected = count_store(source)
        finally:
            target.close()
    finally:
        source.close()
    if copied != expected:
        print(f"recsys: error: the copy holds {copied}, the source {expected}; the copy is left at {names[1]} "
              "to look into: empty it before migrating again", file=sys.stderr)
        return 1
    # The copy is checked through the engine, as a portal would use it (in the member's
    # enterprise's view: ids are unique per enterprise): the same lists.
    sample = random.Random(0).sample(members, min(args.sample, len(members)))
    # The source opened for reading only: the check writes nothing there (a folder store's).
    with Engine.open(args.source, read_only=True) as before, Engine.open(args.target) as after:
        for tenant, member in sample:
            want = before.tenant(tenant).daily(member, day=args.day, preview=True).to_dict()
            got = after.tenant(tenant).daily(member, day=args.day, preview=True).to_dict()
            if got != want:
                print(f"recsys: error: member {member}'s daily list differs between {names[0]} and {names[1]}; "
                      f"the copy is left there to look into: empty it before migrating again", file=sys.stderr)
                return 1
    print(f"migrated {copied} to {names[1]}; counts equal, daily lists of {len(sample)} members equal")
    return 0


_COMMANDS = {
    "demo": _cmd_demo,
    "ingest": _cmd_ingest,
    "members": _cmd_members,
    "events": _cmd_events,
    "credits": _cmd_credits,
    "orgs": _cmd_orgs,
    "search": _cmd_search,
    "similar": _cmd_similar,
    "daily": _cmd_daily,
    "path": _cmd_path,
    "batch": _cmd_batch,
    "stats": _cmd_stats,
    "digest": _cmd_digest,
    "train": _cmd_train,
    "push": _cmd_push,
    "progress": _cmd_progress,
    "coverage": _cmd_coverage,
    "page": _cmd_page,
    "model": _cmd_model,
    "serve": _cmd_serve,
    "keys": _cmd_keys,
    "check": _cmd_check,
    "backup": _cmd_backup,
    "bench": _cmd_bench,
    "evaluate": _cmd_evaluate,
    "migrate": _cmd_migrate,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    from recsys.exceptions import AmbiguousIdError, RecsysError
    from recsys.serving.allocator import reuse_freed_memory

    args = build_parser().parse_args(argv)
    reuse_freed_memory()  # this process plans lists (batch, push, daily): see recsys.serving.allocator
    try:
        return _COMMANDS[args.command](args)
    except RecsysError as exc:
        text = _one_line(str(exc))
        if isinstance(exc, AmbiguousIdError):  # said as the command line gives the enterprise
            text = text.replace(f"as engine.tenant({exc.tenants[0]!r})", f"--tenant {exc.tenants[0]}")
        print(f"recsys: error: {text}", file=sys.stderr)
        # The first line is the reason; when a file has several problems, each follows on a line.
        problems = getattr(exc, "problems", [])
        if len(problems) > 1:
            _print_by_kind(problems, "  ", "错误")  # 20,000 rows with the same mistake: a few, then counted
        return 2
    except KeyboardInterrupt:
        # Every write is whole or not at all: say so, and how to go on.
        print("recsys: interrupted; what was written before stays (a batch or push run again goes on where it "
              "stopped)", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into head and the like
        sys.stderr.close()
        return 0


def _one_line(text: str) -> str:
    return " ".join(text.split())
