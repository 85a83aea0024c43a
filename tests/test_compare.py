"""The comparison's baselines as a user runs them: recipe files that describe their method and train end to end."""
import re

import torch

from autoglm_workbench.bench import count_flops
from autoglm_workbench.compare import baseline_recipes, baselines_folder
from autoglm_workbench.recipe import with_fields
from autoglm_workbench.data import tokenize
from autoglm_workbench.models import label_ids, load_pretrained, predict_logits
from autoglm_workbench.pipeline import check_recipe, recipe_data, recipe_stages, recipe_student, run

TINY = {"data.name": "trec", "data.limit": 32, "data.max_length": 16, "stages": ["distill"], "distill.eval_steps": None,
        "teacher.train": dict(epochs=1.0, batch_size=32, lr=1e-4),
        "bench": dict(batch_sizes=[1], warmup=0, rounds=1, repeats=1)}


def test_every_baseline_is_a_checked_recipe_that_cites_its_paper():
    recipes = baseline_recipes()
    assert {"ours", "distilbert", "tinybert", "mobilebert", "minilm-v2",
            "paraphrase-minilm-l3-ce", "paraphrase-minilm-l3-kd"} <= set(recipes)
    for name, recipe in recipes.items():
        check_recipe(recipe)
        assert recipe_stages(recipe), name
        comment = "\n".join(l for l in (baselines_folder() / f"{name}.yaml").read_text().splitlines() if l.startswith("#"))
        assert len(comment.splitlines()) >= 3 and re.search(r"\b(19|20)\d\d\b", comment), f"{name}: no paper cited"


def test_baseline_shapes_and_same_flops():
    teacher, tok = load_pretrained("minilm-l6", num_labels=6)
    recipes = baseline_recipes()
    tiny = recipe_student(recipes["tinybert"], teacher).config
    assert (tiny.num_hidden_layers, tiny.hidden_size, tiny.intermediate_size, tiny.num_attention_heads) == (4, 312, 1200, 12)
    deep, ours = recipe_student(recipes["mobilebert"], teacher), recipe_student(recipes["ours"], teacher)
    assert deep.config.num_hidden_layers == teacher.config.num_hidden_layers and deep.config.hidden_size < ours.config.hidden_size
    # started from the teacher's weights cut to the narrow width (TinyBERT's and MobileBERT's truncated start)
    assert torch.equal(deep.bert.embeddings.word_embeddings.weight, teacher.bert.embeddings.word_embeddings.weight[:, :276])
    for length in (32, 64, 128):     # the thin-deep student matches ours within 5% at every length the comparison uses
        batch = tokenize(tok, ["a question about a word " * 40], length, pad_to_max=True)
        ratio = count_flops(deep, batch) / count_flops(ours, batch)
        assert abs(ratio - 1) <= 0.05, (length, ratio)
    l3 = recipe_student(recipes["paraphrase-minilm-l3-ce"], teacher)
    assert (l3.config.num_hidden_layers, l3.config.hidden_size, l3.config.num_labels) == (3, 384, 6)


def test_baselines_train_end_to_end(tmp_path):
    "A narrow two-stage student, a progressive thin-deep one and the released model, on one cached tiny teacher."
    for name in ("tinybert", "mobilebert", "paraphrase-minilm-l3-kd"):
        recipe = with_fields(baseline_recipes()[name], TINY | {"output_dir": str(tmp_path)})
        report = run(recipe, run_dir=tmp_path / name, store=False, log=lambda *_: None)
        row = report.table.loc["distill"]
        assert row["parameters"] < report.table.loc["teacher", "parameters"], name
        model, tok = load_pretrained(tmp_path / name / "stages" / "1-distill" / "model", num_labels=6)
        saved, data = model.config, recipe_data(recipe)
        hits = (predict_logits(model, tok, data.test.texts, max_length=recipe.data.max_length).argmax(-1)
                == torch.tensor(label_ids(data.test, model)))
        assert abs(row["accuracy"] - hits.float().mean().item()) < 1e-9, name     # the report's accuracy, counted again
        expected = recipe_student(recipe, report_teacher(tmp_path / name)).config
        assert (saved.num_hidden_layers, saved.hidden_size) == (expected.num_hidden_layers, expected.hidden_size), name


def report_teacher(run_dir):
    from autoglm_workbench.recipe import Recipe
    from autoglm_workbench.pipeline import recipe_teacher
    return recipe_teacher(Recipe.from_yaml(run_dir / "config.yaml")).model
