"""Depth x recovery for the decoder recipe: how much of the teacher's ROUGE-L a student keeps, and how much faster it
generates, as it keeps fewer of the teacher's layers. Writes bench/results/lm_depth.json.

    python bench/lm_depth.py [--recipe recipes/smollm2-headlines.yaml] [--depths 12 16] [--run-root runs/bench-lm-depth]
                             [--recipe-result bench/results/lm_recipe.json] [--smoke]

Each depth is the recipe with `student.num_layers` set and its distill stage only, run by `pipeline.run` in its own
folder (a finished folder of the same recipe is read back, not repeated): the layers of highest block influence are
kept, and every depth gets the same recovery budget (the recipe's epochs, KD over every position, hidden-state
alignment). The speed-up is the one a user gets on one runtime: the student and the fine-tuned teacher both in
PyTorch with the KV cache, timed in turns in the same process. `--recipe-result` adds the recipe's own depth from the
distill stage of bench/lm_recipe.py's results (its commit kept beside it); every point records the processor it was
timed on, since a speed-up is a ratio within one run, not across hosts. From the points the script reads the
depth the 2.5x goal needs (speed-up interpolated in layers kept) and the retention at that depth where the curve
reaches it, and, from the shallowest depth's own run, the depth a fixed-plus-per-layer cost model says the goal
needs. --smoke runs a tiny random Llama at two depths in temporary folders (what the tests run).
"""
import argparse
import atexit
import json
import shutil
import tempfile
from pathlib import Path

from lm_recipe import figure, load_recipe, run_environment, smoke_recipe
from transformers import AutoConfig

from autoglm_workbench.bench import results_path, write_results
from autoglm_workbench.files import recipes_folder
from autoglm_workbench.models import resolve_model_path
from autoglm_workbench.pipeline import run
from autoglm_workbench.recipe import with_fields
from autoglm_workbench.store import recipe_hash

FIELDS = ("val_rouge_l", "rouge_l", "rouge_l_retention", "rouge_l_retention_low", "rouge_l_retention_high", "perplexity",
          "agreement", "parameters", "latency_b1_ms", "speedup_b1", "latency_b8_ms", "speedup_b8", "test_examples", "seconds")
SPEED_GOAL = 2.5


def point(layers: int, row: dict, **where) -> dict:
    "One depth of the curve: the distill stage's figures, None where the stage has no such figure."
    return dict(layers=layers) | {k: figure(row.get(k)) for k in FIELDS} | where


def layers_for(points: list[dict], key: str, target: float) -> float | None:
    "The depth at which `key` reaches `target`, linear between the two measured depths around it (None off the curve)."
    pts = sorted((p["layers"], p[key]) for p in points if p.get(key) is not None)
    for (l0, v0), (l1, v1) in zip(pts, pts[1:]):
        if min(v0, v1) <= target <= max(v0, v1) and v0 != v1:
            return l0 + (target - v0) * (l1 - l0) / (v1 - v0)
    return None


def at_layers(points: list[dict], key: str, layers: float | None) -> float | None:
    "`key` linearly interpolated at a depth between two measured ones."
    pts = sorted((p["layers"], p[key]) for p in points if p.get(key) is not None)
    if layers is None: return None
    for (l0, v0), (l1, v1) in zip(pts, pts[1:]):
        if l0 <= layers <= l1:
            return v0 + (v1 - v0) * (layers - l0) / (l1 - l0) if l1 != l0 else v0
    return None


def layers_by_cost_model(layers: int, speedup: float, teacher_layers: int, target: float) -> float | None:
    """The depth at which a student reaches `target`, from one run's speed-up of a `layers`-deep student: generation time
    taken as a fixed part (embeddings, the vocabulary projection, the loop) plus one equal part per layer, both solved
    from the teacher's and the student's times in that run. None where the fixed part alone is too slow."""
    if speedup <= 1: return None
    fixed = max(0.0, (teacher_layers - speedup * layers) / (speedup - 1))    # in units of one layer's cost
    need = (fixed + teacher_layers) / target - fixed
    return need if need > 0 else None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recipe", default=str(recipes_folder() / "smollm2-headlines.yaml"), help="the decoder recipe")
    p.add_argument("--depths", type=int, nargs="+", default=[12, 16], help="layers the student keeps, one run each")
    p.add_argument("--run-root", default="runs/bench-lm-depth", help="one run folder per depth under it, resumed when it holds the same recipe")
    p.add_argument("--recipe-result", default=None, help="bench/lm_recipe.py's results: its distill stage joins the curve")
    p.add_argument("--smoke", action="store_true", help="a tiny random decoder, a few pairs, temporary folders")
    p.add_argument("--out", default=None, help="results file (default: bench/results/lm_depth.json)")
    a = p.parse_args()
    recipe, root, depths = load_recipe(p, a.recipe), Path(a.run_root), a.depths
    if a.smoke:
        scratch = Path(tempfile.mkdtemp(prefix="smoke-lm-depth-"))
        atexit.register(shutil.rmtree, scratch, True)
        recipe = smoke_recipe(recipe, scratch)
        root, depths = scratch, [2, 3]
    teacher_layers = AutoConfig.from_pretrained(resolve_model_path(recipe.teacher.model)).num_hidden_layers
    bad = [n for n in depths if not 1 <= n < teacher_layers]
    if bad: p.error(f"--depths {' '.join(map(str, bad))}: a student keeps 1 to {teacher_layers - 1} of the teacher's {teacher_layers} layers")
    points = []
    for n in depths:
        r = with_fields(recipe, {"student.num_layers": n, "stages": ["distill"]})
        folder = root / f"layers-{n}"
        report = run(r, run_dir=folder, store=False)
        rows = {stage: row.to_dict() for stage, row in report.table.iterrows()}
        env = run_environment(folder)
        points.append(point(n, rows["distill"], recipe_hash=recipe_hash(r), run_dir=None if a.smoke else str(folder),
                            computed_by=env.get("workbench_commit"), cpu_features=env.get("cpu_features"),
                            teacher_rouge_l=rows["teacher"]["rouge_l"], teacher_latency_b1_ms=rows["teacher"].get("latency_b1_ms"),
                            teacher_latency_b8_ms=rows["teacher"].get("latency_b8_ms")))
        print(f"{n} layers: " + ", ".join(f"{k} {points[-1][k]:.3g}" for k in ("rouge_l", "rouge_l_retention", "speedup_b1", "speedup_b8")
                                          if points[-1][k] is not None))
    if a.recipe_result and not a.smoke:
        given = json.loads(Path(a.recipe_result).read_text())
        rows = {s["stage"]: s for s in given["stages"]}
        points.append(point(given["recipe"]["student"]["num_layers"], rows["distill"], recipe_hash=given["recipe_hash"],
                            run_dir=given.get("run_dir"), computed_by=given.get("stages_computed_by"),
                            cpu_features=given["environment"].get("cpu_features"),
                            from_results=dict(file="bench/results/lm_recipe.json", commit=given["commit"]),
                            teacher_rouge_l=rows["teacher"]["rouge_l"], teacher_latency_b1_ms=rows["teacher"]["latency_b1_ms"],
                            teacher_latency_b8_ms=rows["teacher"]["latency_b8_ms"]))
    points.sort(key=lambda q: q["layers"])
    need = {b: layers_for(points, f"speedup_{b}", SPEED_GOAL) for b in ("b1", "b8")}
    deepest = min((v for v in need.values() if v is not None), default=None)    # both batch sizes reach the goal
    shallowest = next((q for q in points if not q.get("from_results")), None)   # measured by this script, in one run
    modelled = None if shallowest is None else {
        b: layers_by_cost_model(shallowest["layers"], shallowest[f"speedup_{b}"], teacher_layers, SPEED_GOAL)
        for b in ("b1", "b8") if shallowest.get(f"speedup_{b}") is not None}
    out = dict(benchmark="lm_depth", smoke=a.smoke, recipe=recipe.to_dict(), teacher_layers=teacher_layers, points=points,
               speed_goal=SPEED_GOAL, layers_for_speed_goal=need,
               layers_for_speed_goal_by_cost_model=None if modelled is None else dict(from_layers=shallowest["layers"]) | modelled,
               retention_at_speed_goal=at_layers(points, "rouge_l_retention", deepest),
               runtime="pytorch (student and teacher, KV cache, timed in turns)")
    write_results(results_path(__file__, a.out, a.smoke), out, __file__)


if __name__ == "__main__":
    main()
