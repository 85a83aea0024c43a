"""Quantization and CPU runtimes for the teacher and the distilled student, timed the way they are deployed:
PyTorch FP32 and INT8 with fused SDPA attention, QAT INT8, ONNX Runtime FP32 and INT8 with and without its
transformer optimizer, and the static Q/DQ INT8 graph TensorRT would build from (run in ONNX Runtime). Every
path is validated against its FP32 model on the whole test split before it is timed; all paths of both models are
timed in one run, in turns. Writes bench/results/quant.json.

    python bench/quant.py [--qat-epochs 0.5] [--smoke]

Speed-ups are given three ways: against the teacher's fastest FP32 path (PyTorch, SDPA attention: the baseline of
every speed-up we publish), against the same model's PyTorch FP32, and against FP32 in the same runtime (ORT INT8
against ORT FP32), so the runtime switch and the quantization are credited separately. The GEMM floor is the time
the model's own Linear shapes take alone at batch 32 in FP32 and in fbgemm's dynamic INT8 (`quant.gemm_floor`);
each path is reported as a fraction of it.
Goals (issue 11): the best CPU INT8 path >= 3x lower latency than the student's FP32 at batch 32 and >= 2x at
batch 1, <= 1 point accuracy drop; the same for `quantize(model)` as it comes.
"""
import argparse
import copy
import json
import tempfile
import time
from pathlib import Path

from autoglm_workbench.bench import results_path, size_on_disk, write_results
from autoglm_workbench.recipe import Recipe, smoke_recipe
from autoglm_workbench.data import tokenize
from autoglm_workbench.export import (OnnxModel, calibration_batches, graph_ops, ort_optimize, ort_quantize_dynamic,
                                      qdq_quantize, runtime_table, to_onnx)
from autoglm_workbench.quant import gemm_floor, quantize, save_quantized

from autoglm_workbench.distill import qat_stage
from autoglm_workbench.pipeline import distill_student
from autoglm_workbench.demo import demo_models

FP32 = "FP32 (torch)"
# path -> the FP32 path of the same runtime, for the same-runtime speed-up
SAME_RUNTIME = {"INT8 dynamic (torch)": FP32, "QAT INT8 (torch)": FP32, "ORT INT8": "ORT FP32",
                "ORT INT8 fused": "ORT FP32 fused", "Q/DQ INT8 (TensorRT's graph, in ORT)": "ORT FP32"}


def paths_for(name, fp32, m, work, qat_epochs):
    "Every runtime of one model, its size on disk, and how long QAT took."
    recipe, data, tok = m.recipe, m.data, m.teacher.tokenizer
    ml = recipe.data.max_length
    t0 = time.time()
    qat = distill_student(m.teacher.model, copy.deepcopy(fp32), tok, data, recipe,
                          stages=[qat_stage(epochs=qat_epochs, lr=recipe.distill.train.lr / 4, batch_size=recipe.distill.train.batch_size)])
    qat_seconds = time.time() - t0
    paths = {FP32: fp32, "INT8 dynamic (torch)": quantize(fp32), "QAT INT8 (torch)": quantize(qat, "qat-int8")}
    sizes = {FP32: size_on_disk(fp32)}
    for k in ("INT8 dynamic (torch)", "QAT INT8 (torch)"):
        sizes[k] = (save_quantized(paths[k], work / f"{name}-{k[:4]}") / "quantized.safetensors").stat().st_size
    sample = tokenize(tok, data.validation.texts[:4], ml)
    files = {"ORT FP32": to_onnx(fp32, work / f"{name}.onnx", sample),
             "ORT FP32 fused": ort_optimize(fp32, work / f"{name}-fused.onnx", sample)}
    files["ORT INT8"] = ort_quantize_dynamic(files["ORT FP32"], work / f"{name}-int8.onnx")
    files["ORT INT8 fused"] = ort_quantize_dynamic(files["ORT FP32 fused"], work / f"{name}-fused-int8.onnx")
    calibration = calibration_batches(tok, data.train.texts[:256], ml)   # a stratified prefix: every topic
    files["Q/DQ INT8 (TensorRT's graph, in ORT)"] = qdq_quantize(files["ORT FP32"], work / f"{name}-qdq.onnx", calibration)
    for k, f in files.items():
        paths[k], sizes[k] = OnnxModel(f), f.stat().st_size
    ops = {k: {op: n for op, n in graph_ops(f).items() if op in ("Attention", "QAttention", "EmbedLayerNormalization",
                                                                 "QEmbedLayerNormalization", "SkipLayerNormalization",
                                                                 "BiasGelu", "MatMulInteger", "Softmax")}
           for k, f in files.items()}
    return paths, sizes, qat_seconds, ops


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--qat-epochs", type=float, default=0.5)
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--smoke", action="store_true", help="a tiny recipe, one timing round, a temporary output: checks the script runs")
    p.add_argument("--out", default=None, help="results file (default: bench/results/quant.json)")
    a = p.parse_args()
    if a.smoke: a.qat_epochs, a.rounds = 0.2, 1
    m = demo_models(smoke_recipe() if a.smoke else Recipe())
    data, tok, ml = m.data, m.teacher.tokenizer, m.recipe.data.max_length
    models = {"teacher": m.teacher.model.eval(), "student": m.distilled.model.eval()}
    work = Path(tempfile.mkdtemp())
    runtimes, sizes, refs, extra = {}, {}, {}, {}
    for name, fp32 in models.items():
        paths, sz, qat_seconds, ops = paths_for(name, fp32, m, work, a.qat_epochs)
        for k, rt in paths.items():
            runtimes[f"{name} · {k}"], sizes[f"{name} · {k}"], refs[f"{name} · {k}"] = rt, sz[k], fp32
        batch = tokenize(tok, data.test.texts[:32], ml, pad_to_max=True)
        floor = gemm_floor(fp32, batch)
        extra[name] = dict(qat_seconds=qat_seconds, graph_ops=ops, gemm_floor_b32=floor.to_dict("records"),
                           floor_ms_b32=dict(fp32=floor.attrs["fp32_ms"], int8=floor.attrs["int8_ms"]),
                           linear_gflop_b32=floor.attrs["gflop"])
        print(name, json.dumps(extra[name]["floor_ms_b32"]), flush=True)
    table = runtime_table(runtimes, models["teacher"], tok, data.test, sizes=sizes, max_length=ml, batch_sizes=(1, 32),
                          references=refs, min_agreement={k: 0.5 if a.smoke else 0.97 for k in runtimes},
                          max_accuracy_drop={k: 0.3 if a.smoke else 0.02 for k in runtimes}, rounds=a.rounds,
                          repeats=1 if a.smoke else 5)
    rows = []
    for key, row in table.iterrows():
        name, path = key.split(" · ", 1)
        own, fp32_key = table.loc[f"{name} · {FP32}"], f"{name} · {SAME_RUNTIME.get(path, path)}"
        r = dict(model=name, path=path, accuracy=row.accuracy, top1_agreement=row.top1_agreement,
                 accuracy_drop_points=100 * (own.accuracy - row.accuracy), size_mb=row.size_mb)
        for b in (1, 32):
            lat = row[f"latency_b{b}_ms"]
            r[f"latency_b{b}_ms"], r[f"latency_b{b}_p90_ms"] = lat, row[f"latency_b{b}_p90_ms"]
            r[f"vs_teacher_fp32_b{b}"] = row[f"speedup_b{b}"]            # the first runtime: the teacher's FP32
            r[f"vs_own_fp32_b{b}"] = own[f"latency_b{b}_ms"] / lat
            r[f"vs_same_runtime_fp32_b{b}"] = table.loc[fp32_key, f"latency_b{b}_ms"] / lat
        floor = extra[name]["floor_ms_b32"]["int8" if "INT8" in path else "fp32"]
        r["gemm_floor_fraction_b32"] = floor / r["latency_b32_ms"]
        rows.append(r)
    results = {}
    for name in models:
        mine = [r for r in rows if r["model"] == name]
        int8 = [r for r in mine if "INT8" in r["path"] and "Q/DQ" not in r["path"]]
        best = min(int8, key=lambda r: r["latency_b32_ms"])
        default = next(r for r in mine if r["path"] == "INT8 dynamic (torch)")
        def goal(r): return dict(path=r["path"], vs_own_fp32_b1=r["vs_own_fp32_b1"], vs_own_fp32_b32=r["vs_own_fp32_b32"],
                                 drop=r["accuracy_drop_points"], met=bool(r["vs_own_fp32_b32"] >= 3 and r["vs_own_fp32_b1"] >= 2
                                                                          and r["accuracy_drop_points"] <= 1))
        results[name] = dict(extra[name], best_int8=goal(best), default_int8=goal(default))
    out = dict(benchmark="quant", smoke=a.smoke, max_length=ml, test_examples=len(data.test),
               attention="sdpa (fastest) for PyTorch paths", rows=rows, results=results)
    print(json.dumps(out["results"], indent=1, default=float)[:3000])
    print("wrote", write_results(results_path(__file__, a.out, a.smoke), out, __file__))


if __name__ == "__main__":
    main()
