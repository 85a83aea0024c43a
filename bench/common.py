"""What the compression benchmarks share: the demo's task, its cached teacher and its cached distilled student."""
import dataclasses
import tempfile

from autoglm_workbench.core import Recipe, cache_dir, seed_everything
from autoglm_workbench.data import load_dataset
from autoglm_workbench.distill import Distiller, Stage, Term
from autoglm_workbench.models import accuracy, cache_key, cached_classifier, make_student, teacher_classifier


def distill(teacher, student, tok, data, recipe, epochs, *, callbacks=(), hidden=False, stage=None):
    "One KD stage (plus hidden-state alignment when `hidden`) from `teacher` into `student`, or the given `stage`."
    kd = recipe.distill
    if stage is None:
        terms = [Term("kd", params=dict(alpha=kd.alpha, temperature=kd.temperature))]
        if hidden: terms.append(Term("hidden", weight=kd.hidden_weight, params=dict(kind=kd.hidden_kind)))
        stage = Stage("all", terms=terms, epochs=epochs, lr=kd.train.lr, batch_size=kd.train.batch_size,
                      warmup_ratio=kd.train.warmup_ratio)
    with tempfile.TemporaryDirectory() as d:
        return Distiller(teacher, student, tok, [stage], d, max_length=recipe.data.max_length, seed=recipe.seed,
                         save_steps=10_000, callbacks=list(callbacks)).train(data)


def demo_task():
    "Recipe, data, teacher (CachedClassifier) and the demo's distilled student (KD + hidden states, cached)."
    recipe = Recipe()
    seed_everything(recipe.seed)
    ml = recipe.data.max_length
    data = load_dataset(recipe.data.name, seed=recipe.seed)
    teacher = teacher_classifier(data, recipe.teacher.model, max_length=ml, seed=recipe.seed,
                                 **dataclasses.asdict(recipe.teacher.train))
    shape = dict(num_layers=recipe.student.num_layers)

    def build_student():
        s = distill(teacher.model, make_student(teacher.model, **shape), teacher.tokenizer, data, recipe,
                    recipe.distill.train.epochs, hidden=recipe.distill.hidden_weight > 0)
        return s, teacher.tokenizer, dict(val_accuracy=accuracy(s, teacher.tokenizer, data.validation, max_length=ml))
    key = cache_key(teacher=teacher.path.name, shape=shape, distill=dataclasses.asdict(recipe.distill), seed=recipe.seed)
    student = cached_classifier(cache_dir() / "students" / f"{data.name}-kd-{key}", build_student).model
    return recipe, data, teacher, student
