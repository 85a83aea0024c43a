"""Which stages each model family takes: every family `models.tiny_config` builds, as a `save_pretrained` folder with
the bundled tokenizer (random weights, TREC, 16 tokens), run through `pipeline.run`. A stage `check_recipe` refuses
is recorded with its message and the run goes on without it. Writes bench/results/families.json, which the README's
compatibility table is rendered from.

    python bench/families.py [--kinds bert,gpt2] [--smoke]
"""
import argparse
import tempfile
import time
from pathlib import Path

import transformers

from autoglm_workbench.bench import results_path, write_results
from autoglm_workbench.core import ConfigError
from autoglm_workbench.models import TINY_KINDS, resolve_model_path, tiny_config
from autoglm_workbench.pipeline import check_recipe, run
from autoglm_workbench.recipe import STAGES, Recipe


def family_recipe(folder: Path, stages: list, output_dir: Path) -> Recipe:
    return Recipe.from_dict(dict(
        data=dict(name="trec", limit=32, max_length=16), teacher=dict(model=str(folder), train=dict(epochs=1, batch_size=32)),
        student=dict(num_layers=2), distill=dict(train=dict(epochs=1, batch_size=16)),
        prune=dict(heads=0.25, ffn=0.25, examples=16, recovery_epochs=0), stages=stages,
        export=dict(min_agreement=0.0, max_accuracy_drop=1.0),     # random weights: the check is that a stage runs
        bench=dict(batch_sizes=[1], warmup=0, rounds=1, repeats=1), output_dir=str(output_dir)))


def try_family(kind: str, work: Path) -> dict:
    tok = transformers.AutoTokenizer.from_pretrained(resolve_model_path("minilm-l6"))
    config = tiny_config(kind, vocab_size=tok.vocab_size, max_position_embeddings=64, num_labels=6)
    folder = work / kind
    transformers.AutoModelForSequenceClassification.from_config(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    stages, refused = list(STAGES), {}
    while stages:
        try:
            check_recipe(family_recipe(folder, stages, work / "runs"))
            break
        except ConfigError as e:
            stage = next((s for s in stages if f"'{s}'" in str(e)), None)
            if stage is None: raise
            refused[stage] = str(e)
            stages.remove(stage)
    t0 = time.time()
    try:
        report = run(family_recipe(folder, stages, work / "runs"), store=False, log=lambda *a: None)
        ran, error = [s for s in report.table.index if s != "teacher"], None
    except Exception as e:         # recorded, not hidden: a stage that crashes is what this script exists to find
        ran, error = [], f"{type(e).__name__}: {str(e)[:300]}"
    return dict(model_type=config.model_type, stages=ran, refused=refused, error=error, seconds=round(time.time() - t0, 1))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kinds", default=",".join(TINY_KINDS), help="families to try (default: every one tiny_config builds)")
    p.add_argument("--smoke", action="store_true", help="two families (one refused for prune) and a temporary output")
    p.add_argument("--out", default=None, help="results file (default: bench/results/families.json)")
    a = p.parse_args()
    kinds = ["bert", "gpt2"] if a.smoke else a.kinds.split(",")
    families = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, k in enumerate(kinds, 1):      # a line per family as it finishes: the whole set takes minutes
            f = families[k] = try_family(k, Path(tmp))
            print(f"[{i}/{len(kinds)}] {k:12s} ran {','.join(f['stages']) or '-':34s} refused "
                  f"{','.join(f['refused']) or '-':10s} {f['error'] or ''}", flush=True)
    write_results(results_path(__file__, a.out, a.smoke), dict(families=families, smoke=a.smoke), __file__)


if __name__ == "__main__":
    main()
