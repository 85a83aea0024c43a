"""Quantization and CPU runtimes for the teacher and the distilled student: FP32 eager, INT8 dynamic (torch),
QAT INT8, ONNX Runtime FP32 and INT8, and the static Q/DQ INT8 graph TensorRT would build from (run in ONNX
Runtime) — each validated against FP32 eager on the whole test split
before it is timed. Writes bench/results/quant.json.

    python bench/quant.py [--models student teacher] [--qat-epochs 0.5]

Also measures the machine's GEMM-bound floor in the same run: the model's FLOPs at batch 32 divided by the
throughput of a large fp32 matmul (torch) and of a large int8 dynamic-quantized matmul (fbgemm).
Goals (issue 6): INT8 >= 2x lower latency than FP32 eager with <= 1 point accuracy drop; the best CPU path for the
student within 2x of the floor.
"""
import argparse
import copy
import json
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from autoglm_workbench.bench import count_flops, measure_latency, size_on_disk
from autoglm_workbench.core import environment_info
from autoglm_workbench.data import tokenize
from autoglm_workbench.export import (OnnxModel, calibration_batches, ort_quantize_dynamic, qdq_quantize, runtime_table,
                                      to_onnx)
from autoglm_workbench.quant import qat_stage, quantize, save_quantized

from autoglm_workbench.pipeline import demo_models, distill_student


def gemm_throughput() -> dict:
    "FLOP/s of a large fp32 matmul and of fbgemm's dynamic int8 Linear on this machine, at the workbench's thread count."
    torch.manual_seed(0)
    x, lin = torch.randn(4096, 1536), nn.Linear(1536, 1536)
    flops = 2 * 4096 * 1536 * 1536
    fp32 = measure_latency(lambda: lin(x), warmup=3, repeats=20)["median_ms"]
    q = quantize(nn.Sequential(lin))
    int8 = measure_latency(lambda: q(x), warmup=3, repeats=20)["median_ms"]
    return dict(fp32_gflops=flops / fp32 / 1e6, int8_gops=flops / int8 / 1e6)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["student", "teacher"], choices=["student", "teacher"])
    p.add_argument("--qat-epochs", type=float, default=0.5)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "quant.json"))
    a = p.parse_args()
    m = demo_models()
    recipe, data, teacher, student = m.recipe, m.data, m.teacher, m.distilled.model
    ml, tok = recipe.data.max_length, teacher.tokenizer
    models = {"student": student, "teacher": teacher.model}
    floor = gemm_throughput()
    results, work = {}, Path(tempfile.mkdtemp())
    for name in a.models:
        fp32 = models[name].eval()
        t0 = time.time()
        qat = distill_student(teacher.model, copy.deepcopy(fp32), tok, data, recipe,
                              stage=qat_stage(epochs=a.qat_epochs, lr=recipe.distill.train.lr / 4, batch_size=recipe.distill.train.batch_size))
        qat_seconds = time.time() - t0
        runtimes = {"FP32 eager": fp32, "INT8 dynamic (torch)": quantize(fp32), "QAT INT8 (torch)": quantize(qat, "qat-int8")}
        sizes = {"FP32 eager": size_on_disk(fp32)}
        for k in ("INT8 dynamic (torch)", "QAT INT8 (torch)"):
            sizes[k] = (save_quantized(runtimes[k], work / f"{name}-{k[:4]}") / "quantized.safetensors").stat().st_size
        sample = tokenize(tok, data.validation.texts[:4], ml)
        onnx_fp32 = to_onnx(fp32, work / f"{name}.onnx", sample)
        onnx_int8 = ort_quantize_dynamic(onnx_fp32, work / f"{name}-int8.onnx")
        calibration = calibration_batches(tok, data.train.texts[:256], ml)   # a stratified prefix: every topic
        onnx_qdq = qdq_quantize(onnx_fp32, work / f"{name}-qdq.onnx", calibration)
        runtimes["ORT FP32"], runtimes["ORT INT8"] = OnnxModel(onnx_fp32), OnnxModel(onnx_int8)
        runtimes["Q/DQ INT8 (TensorRT's graph, in ORT)"] = OnnxModel(onnx_qdq)
        sizes["ORT FP32"], sizes["ORT INT8"] = onnx_fp32.stat().st_size, onnx_int8.stat().st_size
        sizes["Q/DQ INT8 (TensorRT's graph, in ORT)"] = onnx_qdq.stat().st_size
        table = runtime_table(runtimes, fp32, tok, data.test, sizes=sizes, max_length=ml, batch_sizes=(1, 32),
                              min_agreement={k: 0.97 for k in runtimes}, max_accuracy_drop={k: 0.02 for k in runtimes},
                              rounds=6, repeats=5)
        table["accuracy_drop_points"] = 100 * (table.accuracy.iloc[0] - table.accuracy)
        flops_b32 = count_flops(fp32, tokenize(tok, data.test.texts[:32], ml, pad_to_max=True))
        floor_ms = dict(fp32=flops_b32 / (floor["fp32_gflops"] * 1e6), int8=flops_b32 / (floor["int8_gops"] * 1e6))
        int8_rows = table.loc[["INT8 dynamic (torch)", "QAT INT8 (torch)", "ORT INT8"]]
        best = table.latency_b32_ms.idxmin()
        best_floor = floor_ms["int8" if "INT8" in best else "fp32"]
        results[name] = dict(
            table=table.reset_index().to_dict("records"), qat_seconds=qat_seconds, flops_b32=flops_b32, floor_ms_b32=floor_ms,
            best_path_b32=best, best_over_floor=table.loc[best, "latency_b32_ms"] / best_floor,
            goal_int8=dict((r, dict(speedup_b1=row.speedup_b1, speedup_b32=row.speedup_b32, drop=row.accuracy_drop_points,
                                    met=bool(min(row.speedup_b1, row.speedup_b32) >= 2 and row.accuracy_drop_points <= 1)))
                           for r, row in int8_rows.iterrows()))
        print(name, table.round(4).to_string(), json.dumps({k: v for k, v in results[name].items() if k != "table"}, default=float), sep="\n", flush=True)
    out = dict(benchmark="quant", max_length=ml, test_examples=len(data.test), gemm=floor, results=results,
               environment=environment_info())
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(out, indent=2, default=float))


if __name__ == "__main__":
    main()
