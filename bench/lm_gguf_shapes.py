"""llama.cpp's speed of decoder shapes before any training: which depth and FFN width make a student's Q8_0 GGUF at
least 2.5x faster per headline than the fine-tuned teacher's F16 GGUF. Writes bench/results/lm_gguf_shapes.json.

    python bench/lm_gguf_shapes.py [--recipe recipes/smollm2-headlines.yaml] [--shapes 20x1536,14x1536,20x768]
                                   [--prompts 16] [--rounds 3] [--threads 2] [--smoke]

Speed does not depend on the weights' values, so each shape is the recipe's teacher cut to size
(`lm.decoder_student`: layers kept evenly from the first to the last, FFN neurons truncated): the speed a pruned and
recovered student of that shape will run at. Quality is what recovery training buys; bench/lm_gguf.py measures it on
trained students. Each file is read back and compared with PyTorch on validation prompts (the next-token agreement is
recorded: an untrained cut's logits are near ties, which Q8_0 rounding breaks either way), then timed by llama.cpp
(`lm_gguf.time_headlines`: ms per headline of `data.max_new_tokens` tokens at batch 1, every prompt from an empty KV
cache) on validation prompts, every shape and the teacher in turns each round. Without llama-cpp-python the files are
written and checked, and the results say llama.cpp was not run. --smoke: a tiny random Llama, two shapes.
"""
import argparse
import atexit
import re
import shutil
import tempfile
from pathlib import Path

from lm_gguf import llama, time_headlines, timing_arguments
from lm_recipe import goal, load_recipe, smoke_recipe

from autoglm_workbench.bench import results_path, write_results
from autoglm_workbench.distill import prompt_ids
from autoglm_workbench.files import cpu_features, recipes_folder
from autoglm_workbench.gguf_export import gguf_shape, to_gguf, validate_gguf
from autoglm_workbench.lm import decoder_student
from autoglm_workbench.pipeline import recipe_data, recipe_teacher

GOAL = 2.5


def parse_shapes(text: str, layers: int, ffn: int) -> list[tuple[int, int]]:
    "'20x1536,14x1536' -> [(20, 1536), (14, 1536)]: layers kept x FFN neurons a layer, each within the teacher's."
    shapes = []
    for item in text.split(","):
        m = re.fullmatch(r"\s*(\d+)x(\d+)\s*", item)
        if not m: raise ValueError(f"--shapes item {item!r}: write LAYERSxFFN, e.g. 20x1536")
        n, f = int(m[1]), int(m[2])
        if not (1 <= n <= layers and 1 <= f <= ffn):
            raise ValueError(f"--shapes item {item!r}: the teacher has {layers} layers of {ffn} FFN neurons; a shape keeps 1-{layers} x 1-{ffn}")
        shapes.append((n, f))
    return shapes


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recipe", default=str(recipes_folder() / "smollm2-headlines.yaml"), help="a causal-lm recipe: its data and (cached) teacher")
    p.add_argument("--shapes", default="20x1536,18x1536,16x1536,14x1536,13x1536,12x1536,20x1024,20x768,18x1024,16x1024",
                   help="LAYERSxFFN, comma-separated")
    timing_arguments(p, "validation", rounds=3)
    p.add_argument("--smoke", action="store_true", help="a tiny random decoder, two shapes, temporary folders")
    p.add_argument("--out", default=None, help="results file (default: bench/results/lm_gguf_shapes.json)")
    a = p.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="lm-gguf-shapes-"))
    atexit.register(shutil.rmtree, scratch, True)
    recipe = load_recipe(p, a.recipe)
    if recipe.task != "causal-lm": p.error(f"--recipe {a.recipe}: its task is {recipe.task!r}; llama.cpp runs a causal-lm recipe's decoder")
    if a.smoke:
        recipe = smoke_recipe(recipe, scratch)
        a.prompts, a.rounds = 2, 1
    data = recipe_data(recipe)
    teacher = recipe_teacher(recipe, data)
    tok, teacher = teacher.tokenizer, teacher.model.eval()
    full = gguf_shape(teacher)
    if a.smoke: a.shapes = f"{full['layers'] // 2}x{full['ffn']},{full['layers'] // 2}x{full['ffn'] // 2}"
    try: shapes = parse_shapes(a.shapes, full["layers"], full["ffn"])
    except ValueError as e: p.error(str(e))
    checked = data.validation.prompts[:4]
    files = {"teacher": to_gguf(teacher, tok, scratch / "teacher-f16.gguf", "f16")}
    rows = {"teacher": dict(layers=full["layers"], ffn=full["ffn"], precision="f16",
                            parameters=sum(t.numel() for t in teacher.parameters()))}
    for n, f in shapes:
        student = decoder_student(teacher, n, intermediate_size=None if f == full["ffn"] else f).eval()
        name, shape = f"{n}x{f}", gguf_shape(student)
        assert (shape["layers"], shape["ffn"]) == (n, f), shape
        files[name] = to_gguf(student, tok, scratch / f"student-{name}-q8_0.gguf", "q8_0")
        rows[name] = dict(layers=n, ffn=f, precision="q8_0", parameters=sum(t.numel() for t in student.parameters()))
        # read back through transformers' GGUF loader; an untrained cut has near-tied logits, so agreement is recorded, not required
        rows[name]["top1_agreement_with_pytorch"] = validate_gguf(files[name], student, tok, checked, min_top1=0.0,
                                                                  max_length=recipe.data.max_length)["top1_agreement"]
    for k, path in files.items(): rows[k]["size_mb"] = path.stat().st_size / 2**20
    out = dict(benchmark="lm_gguf_shapes", smoke=a.smoke, recipe=a.recipe, goal_speedup=GOAL, threads=a.threads,
               cpu_features=cpu_features(), max_new_tokens=recipe.data.max_new_tokens)
    try:
        import llama_cpp
    except ImportError:
        out |= dict(llama_cpp=None, shapes=rows,
                    skipped="llama-cpp-python is not installed (pip install -e '.[llama]'): files written and checked, not timed")
        print(out["skipped"])
        write_results(results_path(__file__, a.out, a.smoke), out, __file__)
        return
    models = {k: llama(v, a.threads) for k, v in files.items()}
    timed = [prompt_ids(tok, q) for q in data.validation.prompts[:a.prompts]]
    ms, p90, first = time_headlines(models, timed, recipe.data.max_new_tokens, tok.eos_token_id, a.rounds)
    for k, row in rows.items():
        row |= dict(ms_per_headline=ms[k], p90_ms_per_headline=p90[k], first_token_ms=first[k],
                    speedup_per_headline=ms["teacher"] / ms[k], first_token_speedup=first["teacher"] / first[k])
        if k != "teacher": row["goal"] = goal(GOAL, row["speedup_per_headline"])
        print(f"{k:>8}: {ms[k]:6.0f} ms a headline ({row['speedup_per_headline']:.2f}x), first token {first[k]:5.0f} ms, "
              f"{row['size_mb']:.0f} MB")
    out |= dict(llama_cpp=llama_cpp.__version__, timed_prompts=len(timed), rounds=a.rounds, prompts_from="validation", shapes=rows)
    write_results(results_path(__file__, a.out, a.smoke), out, __file__)


if __name__ == "__main__":
    main()
