"""Reading an Excel export of learning records: calamine beside openpyxl, in the same run.

Run::

    python -m evaluation.workbook_reads [--rows 100000] [--repeats 3]

Writes a workbook as a report script writes one (openpyxl, inline text, a title row above the
header, 党员编号 in a zero-padded 00000000 format, times as date cells), then reads it into
events with :func:`recsys.ingest.loaders.read_batch` as ``recsys events`` does, three ways:

- the floor: calamine's cells as Python values, nothing else (``CalamineSheet.to_python``);
- ``read_batch`` as it reads a workbook (calamine, the formats and merges from the sheet's XML);
- ``read_batch`` reading the sheet a row at a time with openpyxl, as it reads a sheet too large
  to hold (a stray cell far out), and as it read every workbook before.

Each is timed ``--repeats`` times and the median kept; the machine is shared, so compare the
ratios of one run. Both reads must give the same events. Writes ``evaluation/results/
workbook_reads.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from evaluation.machine import describe, describe_markdown, write_results

RESULTS = Path(__file__).parent / "results"
HEADER = ["序号", "党员编号", "姓名", "内容编号", "内容名称", "类型", "得分", "发生时间"]
KINDS = ["完成", "开始", "进度", "答题"]
TITLES = ["学习贯彻党的二十届三中全会精神", "新时代党支部标准化规范化建设", "主题党日如何避免形式化", "国企党建与生产经营深度融合"]


def write_export(path: Path, rows: int, seed: int = 0) -> None:
    """An export of ``rows`` learning records, as a report script writes one."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    rng = np.random.default_rng(seed)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("学习记录")
    sheet.append(["学习记录导出"])
    sheet.append(HEADER)
    start = dt.datetime(2026, 1, 1, 8)
    members, items = rng.integers(1, 300_000, rows), rng.integers(0, 700, rows)
    kinds, minutes = rng.integers(0, len(KINDS), rows), np.sort(rng.integers(0, 330 * 24 * 60, rows))
    for n in range(rows):
        member = WriteOnlyCell(sheet, value=int(members[n]))
        member.number_format = "00000000"
        when = WriteOnlyCell(sheet, value=start + dt.timedelta(minutes=int(minutes[n])))
        when.number_format = "yyyy-mm-dd hh:mm"
        kind = KINDS[kinds[n]]
        value = {"进度": 0.5, "答题": 0.8}.get(kind)
        sheet.append([n + 1, member, f"党员{members[n]}", f"c{items[n]:04d}", TITLES[items[n] % len(TITLES)], kind,
                      value, when])
    book.save(path)


def _median_seconds(run, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        began = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - began)
    return statistics.median(times), result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    from python_calamine import CalamineWorkbook

    from recsys import Event
    from recsys.ingest import tables
    from recsys.ingest.loaders import read_batch

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "学习记录.xlsx"
        began = time.perf_counter()
        write_export(path, args.rows)
        written = time.perf_counter() - began
        floor, _ = _median_seconds(lambda: CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python(),
                                   args.repeats)
        whole, batch = _median_seconds(lambda: read_batch(path, Event), args.repeats)
        # The row-at-a-time reader is kept for sheets reaching past tables._MOST_CELLS: with the
        # bound below every sheet, it reads this one.
        kept = tables._MOST_CELLS
        tables._MOST_CELLS = -1
        try:
            streamed, streamed_batch = _median_seconds(lambda: read_batch(path, Event), args.repeats)
        finally:
            tables._MOST_CELLS = kept
        if batch.records != streamed_batch.records or batch.lines != streamed_batch.lines:
            raise SystemExit("the two readers gave different events")
        size = path.stat().st_size

    results = {
        "machine": describe(), "rows": args.rows, "repeats": args.repeats, "bytes": size, "written_s": written,
        "floor_s": floor, "calamine_s": whole, "openpyxl_rows_s": streamed,
        "calamine_ratio": whole / floor, "openpyxl_ratio": streamed / floor,
        "events": len(batch.records),
    }
    lines = [
        "# Reading an Excel export of learning records", "",
        f"`python -m evaluation.workbook_reads --rows {args.rows} --repeats {args.repeats}`; "
        f"{args.rows:,} records, {size / 2**20:.1f} MiB; median of {args.repeats}.", "",
        describe_markdown(results["machine"]), "",
        "| read | seconds | rows/s | × floor |", "|---|---:|---:|---:|",
        f"| floor: calamine's cells as Python values | {floor:.2f} | {args.rows / floor:,.0f} | 1.0 |",
        f"| `read_batch` (calamine) | {whole:.2f} | {args.rows / whole:,.0f} | {whole / floor:.1f} |",
        f"| `read_batch`, openpyxl a row at a time | {streamed:.2f} | {args.rows / streamed:,.0f} | "
        f"{streamed / floor:.1f} |", "",
        f"Both reads gave the same {len(batch.records):,} events.", "",
    ]
    write_results(args.out, "workbook_reads", results, lines)
    print("\n".join(lines))
    return results


if __name__ == "__main__":
    main()
