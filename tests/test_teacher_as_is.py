"""A user's fine-tuned classifier compressed as it is: no teacher training, its classes matched to the data's by
name (in its own order, one of them renamed); labels that cannot be matched, and a head of another size, each get one
message before any work."""
import copy
import json
from pathlib import Path

import pytest
import torch

from autoglm_workbench.core import ConfigError
from autoglm_workbench.export import OnnxModel
from autoglm_workbench.files import cache_dir
from autoglm_workbench.models import model_label_names, predict_logits
from autoglm_workbench.pipeline import recipe_data, recipe_teacher, run
from autoglm_workbench.recipe import Recipe, with_fields

TINY = dict(data=dict(name="trec", limit=48, max_length=16), teacher=dict(train=dict(epochs=1, batch_size=48)),
            student=dict(num_layers=1), distill=dict(train=dict(epochs=1, batch_size=16)), stages=["distill", "export"],
            export=dict(min_agreement=0.0, max_accuracy_drop=1.0), bench=dict(batch_sizes=[1], warmup=0, rounds=1, repeats=1))
ORDER = [5, 3, 1, 0, 4, 2]        # the user's class i is the recipe teacher's class ORDER[i]


@pytest.fixture()
def users_classifier(tmp_path):
    "The recipe's fine-tuned teacher saved as a user's folder holds it: its classes in another order, HUM named PERSON."
    recipe = Recipe.from_dict(TINY | dict(output_dir=str(tmp_path / "runs")))
    teacher = recipe_teacher(recipe)
    model = copy.deepcopy(teacher.model)
    names = [model.config.id2label[i] for i in range(len(ORDER))]
    with torch.no_grad():         # the head's rows follow the new order: the same classifier, numbered differently
        model.classifier.weight.copy_(model.classifier.weight[ORDER].clone())
        model.classifier.bias.copy_(model.classifier.bias[ORDER].clone())
    users = [{"HUM": "PERSON"}.get(names[o], names[o]) for o in ORDER]
    model.config.id2label, model.config.label2id = dict(enumerate(users)), {n: i for i, n in enumerate(users)}
    folder = tmp_path / "my-classifier"
    model.save_pretrained(folder)
    teacher.tokenizer.save_pretrained(folder)
    return recipe, teacher, folder, users


def test_a_fine_tuned_classifier_is_compressed_as_it_is(users_classifier, tmp_path):
    recipe, original, folder, users = users_classifier
    as_is = with_fields(recipe, {"teacher.model": str(folder), "teacher.fine_tune": False,
                                 "teacher.label_map": {"HUM": "PERSON"}, "output_dir": str(tmp_path / "runs-as-is")})
    data = recipe_data(as_is)
    assert data.label_names == users
    trained_before = sorted((cache_dir() / "teachers").iterdir())
    teacher = recipe_teacher(as_is, data)
    assert sorted((cache_dir() / "teachers").iterdir()) == trained_before         # nothing was trained
    assert teacher.metrics["fine_tuned"] is False
    assert teacher.metrics["test_accuracy"] == original.metrics["test_accuracy"]   # the same answers, matched by name
    theirs = predict_logits(teacher.model, teacher.tokenizer, data.test.texts, max_length=16).argmax(-1).tolist()
    ours = predict_logits(original.model, original.tokenizer, data.test.texts, max_length=16).argmax(-1).tolist()
    assert [ORDER[i] for i in theirs] == ours

    report = run(as_is, log=lambda *a: None, store=False)
    export = Path(report.table.loc["export", "artifact"])
    config = json.loads((export / "config.json").read_text())
    assert [config["id2label"][str(i)] for i in range(len(users))] == users
    assert not any(k.startswith("autoglm_") for k in config)
    assert model_label_names(OnnxModel(export / "model.onnx")) == users           # the deployed model knows its classes
    assert report.table.loc["teacher", "accuracy"] == original.metrics["test_accuracy"]


def test_labels_that_cannot_be_matched_are_refused_before_any_work(users_classifier, tmp_path):
    recipe, _, folder, _ = users_classifier
    as_is = with_fields(recipe, {"teacher.model": str(folder), "teacher.fine_tune": False,
                                 "output_dir": str(tmp_path / "refused")})
    with pytest.raises(ConfigError, match=r"knows \[.*'PERSON'.*\]: HUM not among them.*label_map"):
        run(as_is, log=lambda *a: None, store=False)
    assert not (tmp_path / "refused").exists()                                     # refused before the run folder
    with pytest.raises(ConfigError, match=r"label_map names \['HUMAN'\], which are not labels of 'trec'"):
        recipe_data(with_fields(as_is, {"teacher.label_map": {"HUMAN": "PERSON"}}))


def test_a_head_of_another_size_is_replaced_with_a_message(users_classifier):
    recipe, _, folder, _ = users_classifier
    bbc = with_fields(recipe, {"teacher.model": str(folder), "data.name": "bbc-news"})     # 5 classes, the head has 6
    with pytest.warns(UserWarning, match=r"its 6-label classification head \(.*PERSON.*\) is replaced by a new 5-label head"):
        teacher = recipe_teacher(bbc)
    assert model_label_names(teacher.model) == recipe_data(bbc).label_names
