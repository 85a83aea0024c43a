"""The decoder recipe through `pipeline.run`: SmolLM2-135M-Instruct fine-tuned on BBC headlines, its student of the
20 most influential layers distilled by KD over every position, SmoothQuant + INT8 per token, the float student in
ONNX Runtime with the KV cache. Writes bench/results/lm_recipe.json.

    python bench/lm_recipe.py [--recipe recipes/smollm2-headlines.yaml] [--run-dir runs/bench-lm-recipe] [--reuse RUN ...] [--smoke]

`autoglm run` does the same; a run folder of the same recipe is resumed, so a finished run is read back, not
repeated. Every stage is scored by the pipeline's own harness on the whole test split: ROUGE-L with a paired
bootstrap 95% interval of its retention against the fine-tuned teacher, BLEU-4, Sentence-BERT similarity, the
perplexity of the reference headlines, greedy-token agreement with the teacher; generation latency at batch 1 and 8
timed in turns against the teacher in PyTorch (its own runtime). Choices (the checkpoint, the layers kept) read
training and validation pairs only. Goals (issue 24) are recorded as {target, measured, met}, for the last stage that
runs in PyTorch, the teacher's runtime (`goals_stage`). --reuse copies stages other run folders finished from the same
settings. --smoke runs a tiny
random Llama with SmolLM2's tokenizer on a few pairs in temporary folders (what the tests run).
"""
import argparse
import atexit
import json
import math
import shutil
import tempfile
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM

from autoglm_workbench.bench import results_path, write_results
from autoglm_workbench.core import ConfigError
from autoglm_workbench.files import recipes_folder
from autoglm_workbench.models import load_tokenizer, tiny_config
from autoglm_workbench.pipeline import run
from autoglm_workbench.recipe import Recipe, with_fields
from autoglm_workbench.store import recipe_hash

COLUMNS = ("val_rouge_l", "rouge_l", "rouge_l_retention", "rouge_l_retention_low", "rouge_l_retention_high", "bleu4", "sbert",
           "perplexity", "agreement", "parameters", "size_mb", "flops", "latency_b1_ms", "speedup_b1", "latency_b8_ms",
           "speedup_b8", "first_token_b1_ms", "test_examples", "seconds", "runtime", "precision", "validation")


def tiny_teacher(folder: Path) -> Path:
    "A 4-layer random Llama with SmolLM2's tokenizer: the smoke run's teacher."
    tok = load_tokenizer("smollm2-135m")
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(tiny_config("llama", vocab_size=tok.vocab_size, max_position_embeddings=512,
                                                         num_hidden_layers=4, architectures=["LlamaForCausalLM"]))
    model.save_pretrained(folder); tok.save_pretrained(folder)
    return folder


def smoke_recipe(recipe: Recipe, scratch: Path) -> Recipe:
    "The recipe shrunk to what the tests run: the tiny teacher, a few pairs, short headlines, one epoch, folders in `scratch`."
    return with_fields(recipe, {"data.limit": 12, "data.prompt_words": 30, "data.max_length": 96, "data.max_new_tokens": 6,
                                "teacher.model": str(tiny_teacher(scratch / "tiny-llama")),
                                "teacher.train": dict(epochs=1.0, batch_size=4, lr=1e-3), "student.num_layers": 3,
                                "student.pick_examples": 8, "distill.eval_steps": 2,
                                "distill.train": dict(epochs=1.0, batch_size=4), "bench.rounds": 1,
                                "output_dir": str(scratch / "runs")})


def figure(v):
    "A stage's figure for JSON: None where the stage has none (NaN, e.g. an ONNX model's perplexity)."
    return None if isinstance(v, float) and math.isnan(v) else v


def run_environment(folder) -> dict:
    "The code and machine that computed a run folder's stages (a resumed run: its first start); empty where it has none."
    path = Path(folder) / "environment.json"
    return json.loads(path.read_text()) if path.exists() else {}


def load_recipe(parser: argparse.ArgumentParser, path) -> Recipe:
    "The recipe at `path`, or the parser's error naming the file and what is wrong with it (no traceback)."
    try: return Recipe.from_yaml(path)
    except ConfigError as e: parser.error(f"--recipe {path}: {e}")


def goal(target: float, measured, at_least: bool = True) -> dict:
    met = None if measured is None else bool(measured >= target if at_least else measured <= target)
    return dict(target=target, measured=measured, met=met)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recipe", default=str(recipes_folder() / "smollm2-headlines.yaml"), help="the decoder recipe")
    p.add_argument("--run-dir", default=None, help="the run folder, resumed when it holds this recipe (default: runs/bench-lm-recipe)")
    p.add_argument("--reuse", nargs="*", default=[], help="other run folders whose finished stages (same settings) are copied")
    p.add_argument("--smoke", action="store_true", help="a tiny random decoder, a few pairs, temporary folders")
    p.add_argument("--out", default=None, help="results file (default: bench/results/lm_recipe.json)")
    a = p.parse_args()
    recipe = load_recipe(p, a.recipe)
    run_dir = Path(a.run_dir or "runs/bench-lm-recipe")
    if a.smoke:
        scratch = Path(tempfile.mkdtemp(prefix="smoke-lm-recipe-"))
        atexit.register(shutil.rmtree, scratch, True)
        recipe = smoke_recipe(recipe, scratch)
        run_dir = scratch / "run"
    try: report = run(recipe, run_dir=run_dir, store=False, reuse=[Path(f) for f in a.reuse])
    except ConfigError as e: p.error(f"--recipe {a.recipe}: {e}")
    rows = [dict(stage=stage) | {k: figure(row.get(k)) for k in COLUMNS if k in row}
            for stage, row in report.table.iterrows()]
    by = {r["stage"]: r for r in rows}
    teacher, fp, q = by["teacher"], by.get("distill"), by.get("quantize")
    # the goals compare the compressed model with the teacher on the teacher's runtime: the last stage run in PyTorch
    last = [r for r in rows if not r.get("runtime")][-1]
    out = dict(benchmark="lm_recipe", smoke=a.smoke, recipe=recipe.to_dict(), recipe_hash=recipe_hash(recipe),
               run_dir=None if a.smoke else str(run_dir), stages=rows, goals=dict(
                   rouge_l_retention_at_least_90pct=goal(0.90, last.get("rouge_l_retention")) | dict(
                       interval=[last.get("rouge_l_retention_low"), last.get("rouge_l_retention_high")]),
                   speedup_b1_at_least_2_5x=goal(2.5, last.get("speedup_b1")),
                   speedup_b8_at_least_2_5x=goal(2.5, last.get("speedup_b8")),
                   int8_perplexity_increase_at_most_3pct=goal(0.03, q["perplexity"] / fp["perplexity"] - 1, at_least=False)
                   if q and fp and q.get("perplexity") and fp.get("perplexity") else goal(0.03, None, at_least=False)),
               teacher_runtime="pytorch", goals_stage=last["stage"])
    out["stages_computed_by"] = run_environment(run_dir).get("workbench_commit")
    print(f"teacher ROUGE-L {teacher['rouge_l']:.1f}; {last['stage']}: ROUGE-L {last['rouge_l']:.1f}, "
          f"b1 {last.get('speedup_b1', float('nan')):.2f}x, b8 {last.get('speedup_b8', float('nan')):.2f}x")
    write_results(results_path(__file__, a.out, a.smoke), out, __file__)


if __name__ == "__main__":
    main()
