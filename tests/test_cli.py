"""`autoglm` as a user runs it: a separate process, a recipe file, exit codes, the run folder it leaves."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

QUICK = """
seed: 1
data: {name: trec, limit: 48, max_length: 16}
teacher: {train: {epochs: 1, batch_size: 48, lr: 1e-4}}
student: {num_layers: 2, train: {epochs: 1, batch_size: 48, lr: 2e-4}}
distill: {train: {epochs: 1, batch_size: 48}}
bench: {batch_sizes: [1, 8], warmup: 0, rounds: 1, repeats: 2}
"""


def autoglm(*args, cwd):
    exe = Path(sys.executable).with_name("autoglm")
    return subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True, env=os.environ.copy(), timeout=600)


def test_demo_end_to_end_then_from_cache(tmp_path):
    (tmp_path / "quick.yaml").write_text(QUICK)
    first = autoglm("demo", "--config", "quick.yaml", "--set", "output_dir=runs", cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "teacher: trained and cached" in first.stdout and "distilled student: trained in its run" in first.stdout
    assert "student (2 layers, CE)" in first.stdout and "b8 speed-up" in first.stdout
    reports = sorted((tmp_path / "runs").glob("*-demo-*"))
    assert len(reports) == 1
    metrics = json.loads((reports[0] / "metrics.json").read_text())
    assert [m["model"] for m in metrics["models"]] == ["teacher", "student (2 layers, CE)", "student (2 layers, distilled)"]
    assert metrics["test_examples"] == 48
    student, teacher = metrics["models"][1], metrics["models"][0]
    assert student["parameters"] < teacher["parameters"]
    env = json.loads((reports[0] / "environment.json").read_text())
    assert env["packages"]["transformers"].startswith("5.")
    # the students are two pipeline runs, in the run store like any other
    runs = {p.name.split("-")[0]: p for p in (tmp_path / "runs" / "demo").iterdir()}
    assert set(runs) == {"ce", "distilled"}
    for run in runs.values(): assert (run / "stages" / "1-distill" / "model" / "model.safetensors").exists()
    store = subprocess.run([str(Path(sys.executable).with_name("autoglm")), "runs", "--label", "demo"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=300)
    assert store.returncode == 0 and sum(" done" in line for line in store.stdout.splitlines()[1:]) == 2, store.stdout

    second = autoglm("demo", "--config", "quick.yaml", "--set", "output_dir=runs", cwd=tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "teacher: loaded from cache" in second.stdout and "distilled student: loaded from its run" in second.stdout
    assert len(list((tmp_path / "runs").glob("*-demo-*"))) == 2


@pytest.mark.parametrize("override, message", [
    ("student.num_layers=0", "recipe.student.num_layers = 0: must be >= 1"),
    ("data.name=imdb", "'imdb' is neither a registered data set"),
    ("device=gpu", "recipe.device = 'gpu'"),
])
def test_bad_input_exits_2_with_message(tmp_path, override, message):
    r = autoglm("demo", "--set", override, "--set", "output_dir=runs", cwd=tmp_path)
    assert r.returncode == 2
    assert message in r.stderr
    assert "Traceback" not in r.stderr


def test_recipe_and_datasets_commands(tmp_path):
    r = autoglm("recipe", "--set", "student.num_layers=2", cwd=tmp_path)
    assert r.returncode == 0 and "num_layers: 2" in r.stdout
    (tmp_path / "r.yaml").write_text(r.stdout)
    again = autoglm("recipe", "--config", "r.yaml", cwd=tmp_path)
    assert again.stdout == r.stdout
    d = autoglm("datasets", cwd=tmp_path)
    assert d.returncode == 0 and all(n in d.stdout for n in ("bbc-news", "trec", "rotten-tomatoes"))


def test_missing_recipe_file_is_a_message_not_a_traceback(tmp_path):
    r = autoglm("demo", "--config", "nope.yaml", cwd=tmp_path)
    assert r.returncode == 2
    assert "nope.yaml: no such recipe file" in r.stderr and "Traceback" not in r.stderr
