"""llama.cpp on the decoder recipe: the fine-tuned teacher's F16 GGUF (the file a user starts from) against a compressed
student's Q8_0 GGUF, both generated and timed by llama.cpp itself (llama-cpp-python) in one process, in turns.
Writes bench/results/lm_gguf.json.

    python bench/lm_gguf.py --run-dir runs/bench-lm-depth/layers-12 [--stage 1-distill] [--prompts 16] [--rounds 5] [--threads 2] [--smoke]

The run folder is a finished decoder run (`autoglm run`, bench/lm_depth.py): its recipe gives the data and the cached
teacher, its `--stage` (the distill stage by default; a prune stage's model where it pruned further) the student. Both are written as GGUF (`gguf_export.to_gguf`) and checked against PyTorch at
every position of validation prompts before llama.cpp reads them. Quality: llama.cpp's greedy headline for every test
prompt (chat-framed ids from the tokenizer, up to the end token or `data.max_new_tokens`), ROUGE-L against the
references, and the student's retention of the teacher's with a paired bootstrap 95% interval. Speed: ms per headline
at batch 1 (llama.cpp's own decoding loop; the end token is banned so every headline has `data.max_new_tokens`
tokens), each prompt from an empty KV cache, the two models in turns every round; time to the first token likewise.
Needs the optional extra `llama` (`pip install -e ".[llama]"`, built from llama-cpp-python's source package); without
it the files are still written and checked, and the results say llama.cpp was not run. --smoke: a tiny random Llama
as teacher and its two-layer copy as student, a few pairs, temporary folders (what the tests run).
"""
import argparse
import atexit
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from lm_recipe import goal, tiny_teacher
from tqdm.auto import tqdm

from autoglm_workbench.bench import results_path, write_results
from autoglm_workbench.files import cpu_features
from autoglm_workbench.distill import prompt_ids
from autoglm_workbench.gguf_export import to_gguf, validate_gguf
from autoglm_workbench.lm import bootstrap_ratio, decoder_student, rouge_l_scores
from autoglm_workbench.models import load_pretrained
from autoglm_workbench.pipeline import recipe_data, recipe_teacher
from autoglm_workbench.recipe import Recipe


def llama(path: Path, threads: int):
    "llama.cpp's model from a GGUF file, one sequence at a time, greedy."
    from llama_cpp import Llama
    return Llama(model_path=str(path), n_ctx=512, n_batch=512, n_threads=threads, n_threads_batch=threads, seed=0, verbose=False)


def headline(model, ids: list[int], max_new: int, *, banned: int | None = None) -> list[int]:
    "llama.cpp's greedy continuation of `ids` from an empty KV cache: its token ids, the end token excluded."
    model.reset()
    out = []
    for tok in model.generate(ids, temp=0.0, top_k=1, reset=True, logits_processor=None if banned is None else _ban(banned)):
        if banned is None and tok == model.token_eos(): break
        out.append(tok)
        if len(out) >= max_new: break
    return out


def _ban(token: int):
    "A logits processor that never picks `token` (every headline gets the same number of tokens when timed)."
    def ban(_, scores):
        scores[token] = -np.inf
        return scores
    from llama_cpp import LogitsProcessorList
    return LogitsProcessorList([ban])


def _at_least_one(text: str) -> int:
    "argparse type: a whole number >= 1, refused with the value named."
    try: n = int(text)
    except ValueError: n = 0
    if n < 1: raise argparse.ArgumentTypeError(f"{text!r}: give a whole number, at least 1")
    return n


def timing_arguments(p: argparse.ArgumentParser, split: str, rounds: int) -> None:
    "The flags of a llama.cpp timing: how many of `split`'s prompts, how many rounds, how many threads."
    p.add_argument("--prompts", type=_at_least_one, default=16, help=f"{split} prompts timed")
    p.add_argument("--rounds", type=_at_least_one, default=rounds, help="timing rounds, the models in turns")
    p.add_argument("--threads", type=_at_least_one, default=2, help="llama.cpp's threads")


def time_headlines(models: dict, prompts: list[list[int]], max_new: int, eos: int, rounds: int) -> tuple[dict, dict, dict]:
    """Milliseconds per headline of `max_new` tokens (median and p90) and to the first token (median), each model's
    llama.cpp loop on every prompt from an empty KV cache, the models in turns every round (the host's drift falls on all)."""
    per_headline, first = {k: [] for k in models}, {k: [] for k in models}
    for m in models.values(): headline(m, prompts[0], max_new, banned=eos)      # warm-up: pages mapped, threads started
    for _ in tqdm(range(rounds), desc="llama.cpp timing rounds", leave=False):
        for k, m in models.items():
            for ids in prompts:
                t0 = time.perf_counter(); headline(m, ids, 1, banned=eos); first[k].append(time.perf_counter() - t0)
                t0 = time.perf_counter(); n = len(headline(m, ids, max_new, banned=eos)); per_headline[k].append(time.perf_counter() - t0)
                assert n == max_new, n
    return ({k: 1000 * statistics.median(v) for k, v in per_headline.items()},
            {k: 1000 * float(np.percentile(v, 90)) for k, v in per_headline.items()},
            {k: 1000 * statistics.median(v) for k, v in first.items()})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run-dir", default="runs/bench-lm-depth/layers-12", help="a finished decoder run: its recipe and distill stage")
    p.add_argument("--stage", default="1-distill", help="the run's stage whose model is the student (its folder under stages/)")
    timing_arguments(p, "test", rounds=5)
    p.add_argument("--smoke", action="store_true", help="a tiny random decoder, a few pairs, temporary folders")
    p.add_argument("--out", default=None, help="results file (default: bench/results/lm_gguf.json)")
    a = p.parse_args()
    if a.smoke:
        scratch = Path(tempfile.mkdtemp(prefix="smoke-lm-gguf-"))
        atexit.register(shutil.rmtree, scratch, True)
        recipe = Recipe.from_dict(dict(task="causal-lm", data=dict(name="bbc-headlines", limit=6, prompt_words=30, max_length=96,
                                                                   max_new_tokens=6),
                                       teacher=dict(model=str(tiny_teacher(scratch / "tiny-llama")), fine_tune=False)))
        folder = scratch
        student_of = lambda teacher: decoder_student(teacher, 2)
        a.prompts, a.rounds = 2, 1
    else:
        folder = Path(a.run_dir)
        trained = folder / "stages" / a.stage / "model"
        if not (folder / "config.yaml").exists():
            p.error(f"--run-dir {a.run_dir}: not a decoder run (no config.yaml; make one with `autoglm run "
                    "recipes/smollm2-headlines.yaml` or bench/lm_depth.py)")
        if not trained.exists():
            have = sorted(d.name for d in (folder / "stages").glob("*") if (d / "model").exists())
            p.error(f"--stage {a.stage}: {a.run_dir} has no finished stage of that name; its stages with a model: {have}")
        recipe = Recipe.from_yaml(folder / "config.yaml")
        if recipe.task != "causal-lm":
            p.error(f"--run-dir {a.run_dir}: its recipe's task is {recipe.task!r}; llama.cpp runs a causal-lm run's decoder")
        student_of = lambda _: load_pretrained(trained, task="causal-lm")[0]
    data = recipe_data(recipe)
    teacher = recipe_teacher(recipe, data)
    tok, teacher = teacher.tokenizer, teacher.model.eval()
    student = student_of(teacher).eval()
    files = {"teacher": to_gguf(teacher, tok, folder / "gguf" / "teacher-f16.gguf", "f16"),
             "student": to_gguf(student, tok, folder / "gguf" / "student-q8_0.gguf", "q8_0")}
    checks = {name: validate_gguf(path, model, tok, data.validation.prompts[:8], min_top1=0.9, max_length=recipe.data.max_length)
              for (name, path), model in zip(files.items(), (teacher, student))}
    out = dict(benchmark="lm_gguf", smoke=a.smoke, run_dir=None if a.smoke else str(folder), stage=None if a.smoke else a.stage,
               recipe=recipe.to_dict(),
               layers=dict(teacher=teacher.config.num_hidden_layers, student=student.config.num_hidden_layers),
               files={k: dict(precision=("f16", "q8_0")[i], size_mb=checks[k]["size_mb"],
                              top1_agreement_with_pytorch=checks[k]["top1_agreement"]) for i, k in enumerate(files)},
               threads=a.threads, cpu_features=cpu_features())
    try:
        import llama_cpp
    except ImportError:
        out["llama_cpp"] = None
        out["skipped"] = "llama-cpp-python is not installed (pip install -e '.[llama]'): files written and checked, not run"
        print(out["skipped"])
        write_results(results_path(__file__, a.out, a.smoke), out, __file__)
        return
    models = {k: llama(v, a.threads) for k, v in files.items()}
    max_new, ml = recipe.data.max_new_tokens, recipe.data.max_length
    prompts = [prompt_ids(tok, q) for q in data.test.prompts]
    texts = {k: [tok.decode(headline(m, ids, max_new), skip_special_tokens=True).strip()
                 for ids in tqdm(prompts, desc=f"llama.cpp {k}: test headlines", leave=False)] for k, m in models.items()}
    scores = {k: rouge_l_scores(v, data.test.targets) for k, v in texts.items()}
    low, high = bootstrap_ratio(scores["student"], scores["teacher"], seed=recipe.seed)
    timed = prompts[:a.prompts]
    ms, p90, ms_first = time_headlines(models, timed, max_new, tok.eos_token_id, a.rounds)
    rouge = {k: float(v.mean()) for k, v in scores.items()}
    retention = rouge["student"] / rouge["teacher"] if rouge["teacher"] else None
    speedup = ms["teacher"] / ms["student"]
    out |= dict(llama_cpp=llama_cpp.__version__, test_examples=len(prompts), max_new_tokens=max_new, max_length=ml,
                rouge_l=rouge, rouge_l_retention=retention, rouge_l_retention_interval=[None if np.isnan(v) else v for v in (low, high)],
                ms_per_headline=ms, p90_ms_per_headline=p90,
                first_token_ms=ms_first, speedup_per_headline=speedup, tokens_per_second={k: 1000 * max_new / v for k, v in ms.items()},
                timed_prompts=len(timed), rounds=a.rounds,
                goals=dict(llamacpp_speedup_at_least_2_5x=goal(2.5, speedup),
                           llamacpp_rouge_l_retention_at_least_90pct=goal(0.9, retention)))
    print(f"llama.cpp {llama_cpp.__version__}: teacher F16 {ms['teacher']:.0f} ms, student Q8_0 {ms['student']:.0f} ms a headline "
          f"({speedup:.2f}x); ROUGE-L {rouge['teacher']:.1f} vs {rouge['student']:.1f}")
    write_results(results_path(__file__, a.out, a.smoke), out, __file__)


if __name__ == "__main__":
    main()
