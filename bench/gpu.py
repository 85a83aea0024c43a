"""GPU paths for the teacher and the distilled student on an NVIDIA GPU: eager FP32, eager FP16 and BF16,
torch.compile (inductor with CUDA graphs), and TensorRT FP16 / INT8 where `tensorrt` imports — each validated
against eager FP32 on the whole test split (top-1 agreement) before it is timed at batch 1 and 32.
Writes bench/results/gpu.json with the device name.

    python bench/gpu.py [--models student teacher] [--smoke]

Goal (issue 6): the best GPU path >= 3x faster than eager FP32 at batch 32. Needs a CUDA GPU; --smoke runs the
eager paths of a tiny recipe on the CPU where there is none (checks the script, measures nothing).
"""
import argparse
import shutil
import atexit
import copy
import json
import tempfile
from pathlib import Path

import torch

from autoglm_workbench.bench import measure_latency, results_path, write_results
from autoglm_workbench.recipe import Recipe, smoke_recipe
from autoglm_workbench.data import tokenize
from autoglm_workbench.export import (TensorRTModel, build_tensorrt_engine, calibration_batches, tensorrt_missing,
                                      tensorrt_onnx, validate)

from autoglm_workbench.demo import demo_models


def gpu_latency(model, batch, smoke=False) -> float:
    def run():
        with torch.no_grad(): model(**batch)
        if torch.cuda.is_available(): torch.cuda.synchronize()
    return measure_latency(run, **(dict(warmup=1, repeats=2) if smoke else dict(warmup=10, repeats=50, min_seconds=2.0)))["median_ms"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["student", "teacher"], choices=["student", "teacher"])
    p.add_argument("--smoke", action="store_true", help="a tiny recipe, few repeats, a temporary output (on the CPU without a GPU)")
    p.add_argument("--out", default=None, help="results file (default: bench/results/gpu.json)")
    a = p.parse_args()
    cuda = torch.cuda.is_available()
    if not cuda and not a.smoke: raise SystemExit("bench/gpu.py needs an NVIDIA GPU (torch.cuda.is_available() is False)")
    device = "cuda" if cuda else "cpu"
    m = demo_models(smoke_recipe() if a.smoke else Recipe())
    recipe, data, teacher, student = m.recipe, m.data, m.teacher, m.distilled.model
    ml, tok = recipe.data.max_length, teacher.tokenizer
    work = Path(tempfile.mkdtemp(prefix="gpu-"))
    atexit.register(shutil.rmtree, work, True)
    results = {}
    for name, base in (("student", student), ("teacher", teacher.model)):
        if name not in a.models: continue
        base = base.eval()
        fp32 = copy.deepcopy(base).to(device)
        paths = {"eager FP32": fp32, "eager BF16": copy.deepcopy(fp32).to(torch.bfloat16)}
        if cuda:        # FP16 and CUDA graphs are GPU paths; a CPU smoke run checks the script with the eager ones
            paths["eager FP16"] = copy.deepcopy(fp32).half()
            paths["torch.compile (inductor, CUDA graphs)"] = torch.compile(copy.deepcopy(fp32), mode="reduce-overhead", dynamic=False)
        skipped = {}
        why = tensorrt_missing()
        if why is None and cuda:
            sample = tokenize(tok, data.validation.texts[:4], ml)
            calib = calibration_batches(tok, data.train.texts[:256], ml)
            for precision in ("fp16", "int8"):
                onnx_path = tensorrt_onnx(base, work / f"{name}-{precision}.onnx", sample, precision, calib)
                paths[f"TensorRT {precision.upper()}"] = TensorRTModel(build_tensorrt_engine(onnx_path, precision, max_shape=(64, ml)))
        else:
            skipped["TensorRT FP16 / INT8"] = why
        rows = {}
        for path, model in paths.items():
            # a smoke run's student is barely trained: one flipped example of its 48 is two points
            v = validate(model, fp32, tok, data.validation, max_length=ml, min_agreement=0.5 if a.smoke else 0.98,
                         max_accuracy_drop=0.1 if a.smoke else 0.01, name=path)
            row = dict(val_accuracy=v["accuracy"], top1_agreement=v["top1_agreement"], max_abs_diff=v["max_abs_diff"])
            for b in (1, 32):
                # fixed shapes (padded to max_length) so compiled graphs and engines are timed at one shape
                batch = {k: t.to(device) for k, t in tokenize(tok, data.test.texts[:b], ml, pad_to_max=True).items()}
                row[f"latency_b{b}_ms"] = gpu_latency(model, batch, a.smoke)
            rows[path] = row
            print(name, path, json.dumps(row), flush=True)
        ref = rows["eager FP32"]
        for row in rows.values():
            for b in (1, 32): row[f"speedup_b{b}"] = ref[f"latency_b{b}_ms"] / row[f"latency_b{b}_ms"]
        best = max(rows, key=lambda k: rows[k]["speedup_b32"])
        results[name] = dict(paths=rows, skipped=skipped, best_b32=best, goal_3x_met=bool(rows[best]["speedup_b32"] >= 3))
    out = dict(benchmark="gpu", device=torch.cuda.get_device_name() if cuda else "cpu (smoke)", max_length=ml, results=results, smoke=a.smoke)
    write_results(results_path(__file__, a.out, a.smoke), out, __file__)
    print(json.dumps({k: dict(best=v["best_b32"], met=v["goal_3x_met"]) for k, v in results.items()}, indent=2))


if __name__ == "__main__":
    main()
