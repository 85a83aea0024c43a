"""A finished run's export folder used as users use it: `autoglm predict` classifies texts without importing torch,
with the labels the workbench's own ONNX Runtime path gives; `autoglm eval` reproduces the run's test accuracy and its
agreement with the teacher, computed another way (tokenizers + ONNX Runtime vs the pipeline's transformers path); bad
input gets one message and exit code 2."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autoglm_workbench.export import OnnxModel
from autoglm_workbench.models import predict_logits
from autoglm_workbench.pipeline import recipe_data, run
from autoglm_workbench.recipe import Recipe

TINY = dict(data=dict(name="trec", limit=64, max_length=16), teacher=dict(train=dict(epochs=1, batch_size=32)),
            student=dict(num_layers=1), distill=dict(train=dict(epochs=1, batch_size=16)), stages=["distill", "export"],
            export=dict(min_agreement=0.0, max_accuracy_drop=1.0), bench=dict(batch_sizes=[1], warmup=0, rounds=1, repeats=1))

# Optimum's ONNX Runtime classes pin transformers < 4.58 (ours is 5.x): they get an environment of their own, which
# takes torch, ONNX Runtime and NumPy from this one
OPTIMUM = ["optimum==2.1.0", "optimum-onnx==0.1.0", "transformers==4.57.6", "tokenizers==0.22.2", "huggingface_hub==0.36.2"]
ORT_PREDICT = """
import json, sys
from optimum.onnxruntime import ORTModelForSequenceClassification
from transformers import AutoTokenizer
folder, texts, max_length = sys.argv[1], json.load(open(sys.argv[2])), int(sys.argv[3])
model, tok = ORTModelForSequenceClassification.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)
labels, logits = [], []
for i in range(0, len(texts), 16):
    enc = tok(texts[i:i + 16], truncation=True, max_length=max_length, padding=True, return_tensors="np")
    out = model(**enc).logits
    labels += [model.config.id2label[int(j)] for j in out.argmax(-1)]
    logits += out.tolist()
print(json.dumps(dict(labels=labels, logits=logits)))
"""

# The console script in a process that reports, on its last line, whether torch was imported
CLI = "import sys; from autoglm_workbench.cli import main; rc = main(sys.argv[1:]); print('torch' in sys.modules); sys.exit(rc)"


def autoglm(*args, stdin=None, cwd=None):
    return subprocess.run([sys.executable, "-c", CLI, *map(str, args)], input=stdin, capture_output=True, text=True,
                          cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    "A tiny run (distill, export) on TREC: its folder, its recipe's data and its report rows."
    root = tmp_path_factory.mktemp("served")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AUTOGLM_CACHE", str(root / "cache"))
        mp.setenv("HF_HUB_OFFLINE", "1")
        recipe = Recipe.from_dict(TINY | dict(output_dir=str(root / "runs")))
        report = run(recipe, log=lambda *a: None, store=False)
        data = recipe_data(recipe)
    return report.run_dir, data, json.loads((Path(report.run_dir) / "report.json").read_text())["stages"]


def test_predict_classifies_without_torch_as_the_workbench_does(finished_run, tmp_path):
    run_dir, data, _ = finished_run
    texts = data.test.texts[:20]
    (tmp_path / "texts.txt").write_text("\n".join(texts) + "\n")
    r = autoglm("predict", run_dir, tmp_path / "texts.txt", "--batch-size", 7)
    assert r.returncode == 0, r.stderr[-2000:]
    *lines, torch_loaded = r.stdout.strip().splitlines()
    assert torch_loaded == "False"
    rows = [json.loads(line) for line in lines]
    export = Path(run_dir) / "stages" / "2-export" / "model"
    onnx = OnnxModel(export / "model.onnx")
    tokenizer = __import__("transformers").AutoTokenizer.from_pretrained(export)
    expected = predict_logits(onnx, tokenizer, texts, max_length=16).softmax(-1)
    names = [onnx.config.id2label[i] for i in range(expected.shape[1])]
    assert [row["text"] for row in rows] == texts
    assert [row["label"] for row in rows] == [names[i] for i in expected.argmax(-1).tolist()]
    got = [[row["probabilities"][n] for n in names] for row in rows]
    assert max(abs(a - b) for g, e in zip(got, expected.tolist()) for a, b in zip(g, e)) < 1e-4
    piped = autoglm("predict", export, "-", stdin="What is the capital of France?\n\nWho wrote Hamlet?\n")
    assert piped.returncode == 0 and len(piped.stdout.strip().splitlines()) == 3       # two rows, then the probe


def test_eval_reproduces_the_runs_test_accuracy_and_teacher_agreement(finished_run, tmp_path):
    run_dir, data, stages = finished_run
    names = data.test.label_names
    pd.DataFrame(dict(text=data.test.texts, label=[names[l] for l in data.test.labels])).to_csv(tmp_path / "test.csv", index=False)
    r = autoglm("eval", run_dir, "--data", tmp_path / "test.csv", "--json")
    assert r.returncode == 0, r.stderr[-2000:]
    result = json.loads(r.stdout.rsplit("\n", 2)[0])
    export = next(s for s in stages if s["stage"] == "export")
    assert result["examples"] == len(data.test)
    assert result["accuracy"] == pytest.approx(export["accuracy"], abs=1e-6)
    assert result["agreement"] == pytest.approx(export["agreement"], abs=1e-6)
    counts = result["confusion"]["counts"]
    assert sum(map(sum, counts)) == len(data.test)
    assert sum(counts[i][i] for i in range(len(counts))) / len(data.test) == pytest.approx(result["accuracy"])
    shown = autoglm("eval", run_dir, "--data", tmp_path / "test.csv")
    assert shown.returncode == 0 and "confusion (rows: true, columns: predicted)" in shown.stdout


def test_bad_input_is_one_message_and_exit_2(finished_run, tmp_path):
    run_dir, data, stages = finished_run
    names = data.test.label_names
    renamed = [{"HUM": "PERSON"}.get(names[l], names[l]) for l in data.test.labels]
    pd.DataFrame(dict(question=data.test.texts, label=renamed)).to_csv(tmp_path / "renamed.csv", index=False)
    no_text = autoglm("eval", run_dir, "--data", tmp_path / "renamed.csv")
    assert no_text.returncode == 2 and "no column 'text'; the columns are question, label" in no_text.stderr
    unmatched = autoglm("eval", run_dir, "--data", tmp_path / "renamed.csv", "--text-column", "question")
    assert unmatched.returncode == 2 and "PERSON not among them" in unmatched.stderr and "Traceback" not in unmatched.stderr
    mapped = autoglm("eval", run_dir, "--data", tmp_path / "renamed.csv", "--text-column", "question", "--label-map", "PERSON=HUM", "--json")
    assert mapped.returncode == 0, mapped.stderr[-2000:]
    export = next(s for s in stages if s["stage"] == "export")       # PERSON sorts after NUM: matched by name, not position
    assert json.loads(mapped.stdout.rsplit("\n", 2)[0])["accuracy"] == pytest.approx(export["accuracy"], abs=1e-6)
    (tmp_path / "notes").mkdir()
    not_a_model = autoglm("predict", tmp_path / "notes", "-", stdin="hello\n")
    assert not_a_model.returncode == 2 and "not a model folder" in not_a_model.stderr
    empty = autoglm("predict", run_dir, "-", stdin="\n\n")
    assert empty.returncode == 2 and "standard input: no texts" in empty.stderr


@pytest.fixture(scope="module")
def optimum_python():
    "A Python with Optimum's ONNX Runtime classes and their transformers 4.57, built once from the registry and kept."
    cache = Path(os.environ.get("AUTOGLM_CACHE") or Path.home() / ".cache" / "autoglm-workbench")
    root = cache / f"optimum-{hashlib.sha256(' '.join(OPTIMUM + [sys.version]).encode()).hexdigest()[:12]}"
    python = root / "bin" / "python"
    if not (root / "ready").exists():
        shutil.rmtree(root, ignore_errors=True)
        try:
            subprocess.run([sys.executable, "-m", "venv", str(root)], check=True, capture_output=True, text=True, timeout=300)
            subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps", *OPTIMUM],
                           check=True, capture_output=True, text=True, timeout=600)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
            shutil.rmtree(root, ignore_errors=True)
            detail = (getattr(e, "stderr", None) or str(e)).strip()[-500:]
            pytest.skip(f"OPTIMUM CHECK SKIPPED: its isolated environment could not be built from the registry: {detail}")
        site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              check=True, capture_output=True, text=True).stdout.strip()
        # after its own packages on sys.path: torch, onnxruntime, numpy and the rest from this environment
        Path(site, "zz-workbench-packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
        (root / "ready").write_text(" ".join(OPTIMUM))
    return python


def test_optimum_opens_the_export_folder_with_the_same_predictions(finished_run, optimum_python, tmp_path):
    "The export folder as the Hugging Face stack serves it: ORTModelForSequenceClassification, its labels from config.json."
    from autoglm_workbench.serve import model_folder, open_classifier, predictions
    run_dir, data, _ = finished_run
    export = model_folder(run_dir)
    (tmp_path / "texts.json").write_text(json.dumps(data.test.texts))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run([str(optimum_python), "-c", ORT_PREDICT, str(export), str(tmp_path / "texts.json"), "16"],
                       capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    theirs, ours = json.loads(r.stdout.strip().splitlines()[-1]), open_classifier(export)
    assert theirs["labels"] == [row["label"] for row in predictions(ours, data.test.texts)]
    assert abs(np.array(theirs["logits"]) - ours.logits(data.test.texts)).max() < 1e-4
