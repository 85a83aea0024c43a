"""Causal LM: SmolLM2-135M-Instruct, fine-tuned on BBC headlines, against 10-layer students; writes bench/results/lm.json.

    python bench/lm.py [--train 240] [--test 60] [--epochs 2] [--runs runs/bench-lm] [--smoke]

The DistilBART paper's comparison (Shleifer & Rush 2020) on one student and one budget: shrink-and-fine-tune (CE on
the references), KD (token-level KD + hidden-state alignment) and pseudo-labels (sequence-level KD: CE on the
teacher's greedy outputs). The teacher is first fine-tuned on the training pairs (or the first --teacher-train of them), as DistilBART's
teachers are; the pruned teacher recovers on the same pairs.
Then, on the KD student and the teacher: dynamic INT8 (the seed's `quantize_dynamic` call), structured pruning of the
teacher (grouped-query heads and FFN neurons) with recovery KD, ONNX export with the KV cache validated token for
token against PyTorch, and ONNX Runtime INT8. Scores on the test pairs: ROUGE-L, BLEU-4, SBERT similarity, perplexity
of the references. Generation latency at batch 1 and 8, every model timed in turns in this one process.
Every trained model is kept in its run folder with the arguments that made it (`made_by.json`): a rerun reuses a
model only when those arguments match, and trains it again otherwise. --smoke runs every step on a tiny random
decoder with SmolLM2's tokenizer, a few pairs and temporary folders (what the tests run).
"""
import argparse
import atexit
import copy
import json
import shutil
import tempfile
import time
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM

from autoglm_workbench.bench import file_bytes, results_path, write_results
from autoglm_workbench.data import load_pairs
from autoglm_workbench.export import ort_quantize_dynamic
from autoglm_workbench.lm import (OnnxCausalLM, SentenceEncoder, cached_decoder, distill_decoder, export_decoder,
                                  generate, generation_latency, headline_scores, int8_keep_float, parameter_shares, perplexity,
                                  prune_batches, sequence_kd_data, validate_generation)
from autoglm_workbench.models import load_pretrained, tiny_config
from autoglm_workbench.importance import prune_by_importance, Taylor
from autoglm_workbench.quant import quantize

def disk_mb(path: Path) -> float: return file_bytes(path) / 2**20


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train", type=int, default=240, help="training pairs (a stratified prefix: every topic)")
    p.add_argument("--teacher-train", type=int, default=None, help="pairs the teacher is fine-tuned on (default: --train)")
    p.add_argument("--test", type=int, default=60, help="test pairs scored")
    p.add_argument("--epochs", type=float, default=2.0, help="epochs of each student")
    p.add_argument("--lr", type=float, default=2e-4, help="learning rate of each student")
    p.add_argument("--layers", type=int, default=10, help="student depth (of the teacher's 30)")
    p.add_argument("--methods", nargs="+", default=["shrink-fine-tune", "kd", "pseudo-labels"],
                   choices=["shrink-fine-tune", "kd", "pseudo-labels"], help="students to train (kd is always trained)")
    p.add_argument("--runs", default=None, help="folder of the trained models (default: runs/bench-lm)")
    p.add_argument("--smoke", action="store_true", help="a tiny random decoder, a few pairs, temporary folders: checks the script runs")
    p.add_argument("--out", default=None, help="results file (default: bench/results/lm.json)")
    a = p.parse_args()
    MAX_LENGTH, MAX_NEW, NEW_TOKENS, ROUNDS, ONNX_PROMPTS, PRUNE_EXAMPLES = 160, 24, 16, 5, 16, 32
    if a.smoke:
        a.train, a.teacher_train, a.test, a.epochs, a.layers = 16, 16, 8, 0.5, 2
        MAX_LENGTH, MAX_NEW, NEW_TOKENS, ROUNDS, ONNX_PROMPTS, PRUNE_EXAMPLES = 96, 4, 4, 1, 4, 8
    runs, t_start = Path(a.runs or (tempfile.mkdtemp(prefix="smoke-runs-") if a.smoke else "runs/bench-lm")), time.time()
    if a.smoke and not a.runs: atexit.register(shutil.rmtree, runs, True)   # a smoke run's folders are scratch
    out_path = results_path(__file__, a.out, a.smoke)
    data = load_pairs("bbc-headlines", seed=0, max_prompt_words=60)
    data = type(data)(data.name, data.train.subset(a.train), data.validation.subset(a.test), data.test.subset(a.test), data.stats)
    base, tok = load_pretrained("smollm2-135m", task="causal-lm")
    if a.smoke:
        torch.manual_seed(0)
        base = AutoModelForCausalLM.from_config(tiny_config("llama", vocab_size=tok.vocab_size, max_position_embeddings=512)).eval()
    teacher_data = type(data)(data.name, data.train.subset(a.teacher_train or a.train), data.validation, data.test, data.stats)
    budget = dict(train_pairs=len(data.train), teacher_train_pairs=len(teacher_data.train), test_pairs=len(data.test), max_prompt_words=60, max_length=MAX_LENGTH,
                  teacher_epochs=1, teacher_lr=5e-5, student_epochs=a.epochs, student_lr=a.lr, batch_size=8,
                  student_layers=a.layers, recovery_epochs=1, recovery_pairs=len(teacher_data.train), prune={"heads": 0.2, "ffn": 0.2})
    out = dict(benchmark="lm", smoke=a.smoke, budget=budget, models={})
    save = lambda: write_results(out_path, out, __file__)
    seconds = {}

    def timed(name, fn):
        t0 = time.time(); r = fn(); seconds[name] = seconds.get(name, 0) + time.time() - t0; return r

    made_by = dict(budget=budget, smoke=a.smoke)
    teacher = timed("teacher fine-tune", lambda: cached_decoder(runs / "teacher", lambda: distill_decoder(
        base, tok, teacher_data, "shrink-fine-tune", runs / "teacher-train", student=copy.deepcopy(base), max_length=MAX_LENGTH,
        epochs=1, lr=5e-5, batch_size=8), tok, made_by | dict(model="teacher")))
    kw = dict(num_layers=a.layers, max_length=MAX_LENGTH, epochs=a.epochs, lr=a.lr, batch_size=8)
    students = {}
    for method in sorted(set(a.methods) | {"kd"}, key=["shrink-fine-tune", "kd", "pseudo-labels"].index):
        def build(method=method):
            d = data
            if method == "pseudo-labels":
                d = sequence_kd_data(teacher, tok, data, max_new_tokens=MAX_NEW)
                out["pseudo_label_examples"] = list(zip(d.train.targets[:5], data.train.targets[:5]))
            return distill_decoder(teacher, tok, d, method, runs / f"{method}-train", **kw)
        students[method] = timed(method, lambda: cached_decoder(runs / method, build, tok, made_by | dict(model=method, max_new=MAX_NEW)))

    def pruned_build():
        m = copy.deepcopy(teacher)
        plan = prune_by_importance(m, Taylor()(m, prune_batches(tok, teacher_data.train, examples=PRUNE_EXAMPLES, max_length=MAX_LENGTH)), budget["prune"])
        out["prune_plan_heads_per_layer"] = {str(l): len(h) for l, h in plan.get("heads", {}).items()}
        return distill_decoder(teacher, tok, teacher_data, "kd", runs / "pruned-train", student=m, max_length=MAX_LENGTH, epochs=1, lr=1e-4, batch_size=8)
    pruned = timed("prune + recovery", lambda: cached_decoder(runs / "pruned", pruned_build, tok, made_by | dict(model="pruned")))

    int8 = {name: quantize(m, "dynamic-int8") for name, m in (("teacher", teacher), ("KD", students["kd"]))}   # the seed's line
    int8_kept = {name: quantize(m, "dynamic-int8", skip=int8_keep_float(m)) for name, m in (("teacher", teacher), ("KD", students["kd"]))}
    out["int8_float_linears"] = {name: len([1 for n, mod in m.named_modules() if type(mod) is torch.nn.Linear]) for name, m in int8_kept.items()}
    onnx_path = runs / "onnx" / "kd-student.onnx"
    timed("onnx export", lambda: export_decoder(students["kd"], onnx_path))    # from the student of this run, always
    int8_path = ort_quantize_dynamic(onnx_path, onnx_path.with_name("kd-student-int8.onnx"))
    onnx_fp32, onnx_int8 = OnnxCausalLM(onnx_path), OnnxCausalLM(int8_path)
    out["onnx_validation"] = dict(
        fp32=validate_generation(onnx_fp32, students["kd"], tok, data.test.prompts[:ONNX_PROMPTS], max_new_tokens=MAX_NEW),
        int8=validate_generation(onnx_int8, students["kd"], tok, data.test.prompts[:ONNX_PROMPTS], max_new_tokens=MAX_NEW, min_exact=0.0))

    models = {"teacher (zero-shot)": base, "teacher": teacher, "teacher INT8 (all Linears)": int8["teacher"],
              "teacher INT8": int8_kept["teacher"], "shrink-and-fine-tune": students.get("shrink-fine-tune"), "KD": students["kd"],
              "sequence-level KD": students.get("pseudo-labels"), "KD INT8 (all Linears)": int8["KD"], "KD INT8": int8_kept["KD"],
              "KD ONNX": onnx_fp32, "KD ONNX INT8": onnx_int8, "pruned teacher + recovery": pruned}
    models = {k: m for k, m in models.items() if m is not None}
    encoder = SentenceEncoder()
    for name, m in models.items():
        t0 = time.time()
        made = generate(m, tok, data.test.prompts, batch_size=8, max_new_tokens=MAX_NEW)
        row = headline_scores(made, data.test.targets, encoder)
        row["perplexity"] = None if isinstance(m, OnnxCausalLM) else perplexity(m, tok, data.test, max_length=MAX_LENGTH)
        if not isinstance(m, OnnxCausalLM) and not hasattr(m, "autoglm_quantized"):
            row["parameters_m"] = sum(p.numel() for p in m.parameters()) / 1e6
        row["examples"] = list(zip(data.test.targets[:4], made[:4]))
        row["score_seconds"] = time.time() - t0
        out["models"][name] = row
        print(name, {k: round(v, 2) for k, v in row.items() if isinstance(v, float)}, flush=True)
        save()
    out["embedding_share_of_student"] = float(parameter_shares(students["kd"]).set_index("part").share["input embeddings"])
    out["disk_mb"] = {"teacher": disk_mb(runs / "teacher"), "KD": disk_mb(runs / "kd"), "pruned teacher": disk_mb(runs / "pruned"),
                      "KD ONNX": disk_mb(onnx_path), "KD ONNX INT8": disk_mb(int8_path)}
    timed_models = {k: models[k] for k in ("teacher", "KD", "KD INT8", "KD ONNX", "KD ONNX INT8", "teacher INT8", "pruned teacher + recovery")}
    lat = generation_latency(timed_models, tok, data.test.prompts, batch_sizes=(1, 8), new_tokens=NEW_TOKENS, rounds=ROUNDS)
    out["latency"] = lat.to_dict(orient="records")
    out["training_seconds"], out["seconds"] = seconds, time.time() - t_start
    t, kd = out["models"]["teacher"], out["models"]["KD"]
    speed = {b: float(lat[(lat.model == "KD") & (lat.batch_size == b)].speedup.iloc[0]) for b in (1, 8)}
    # retention is None where the teacher scores 0 (a smoke run's random decoder)
    out["goals"] = dict(kd_rouge_l_retention=kd["rouge_l"] / t["rouge_l"] if t["rouge_l"] else None, kd_speedup_b1=speed[1], kd_speedup_b8=speed[8],
                        int8_perplexity_change_kd=out["models"]["KD INT8"]["perplexity"] / kd["perplexity"] - 1,
                        int8_perplexity_change_teacher=out["models"]["teacher INT8"]["perplexity"] / t["perplexity"] - 1,
                        int8_all_perplexity_change_kd=out["models"]["KD INT8 (all Linears)"]["perplexity"] / kd["perplexity"] - 1,
                        int8_all_perplexity_change_teacher=out["models"]["teacher INT8 (all Linears)"]["perplexity"] / t["perplexity"] - 1)
    save()
    print(json.dumps(out["goals"], indent=1), flush=True)


if __name__ == "__main__":
    main()
