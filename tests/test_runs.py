"""Batch runs as users start them: the recipe notebook through papermill, `autoglm sweep` and `autoglm search`."""
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import papermill as pm
import pytest

from autoglm_workbench.runs import load_search, parameters_source, recipe_notebook, run_search
from autoglm_workbench.store import RunStore

TINY = """
data: {name: trec, limit: 40, max_length: 16}
teacher: {train: {epochs: 1, batch_size: 20}}
student: {num_layers: 1}
distill: {eval_steps: 1, train: {epochs: 1, batch_size: 20}}
bench: {batch_sizes: [1], warmup: 0, rounds: 1, repeats: 1}
stages: [distill, quantize]
output_dir: runs
"""
NOTEBOOK = recipe_notebook()


def autoglm(*args, cwd):
    exe = Path(sys.executable).with_name("autoglm")
    return subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True, timeout=900)


def test_the_notebooks_parameters_cell_is_the_schema():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    assert tagged[0].source == parameters_source()      # regenerate the cell from parameters_source() when fields change


def test_papermill_runs_the_recipe_notebook_end_to_end(tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY)
    out = tmp_path / "out.ipynb"
    pm.execute_notebook(str(NOTEBOOK), str(out), cwd=str(tmp_path), progress_bar=False, kernel_name="python3",
                        parameters=dict(recipe_yaml="tiny.yaml", distill_temperature=4, stages="distill,export", export_min_agreement=0.5))
    nb = nbformat.read(out, as_version=4)
    text = json.dumps([o for c in nb.cells if c.cell_type == "code" for o in c.outputs])
    assert "temperature: 4.0" in text                   # the validated recipe is printed
    assert "export" in text and "speedup_b1" in text    # the report table
    runs = RunStore(tmp_path / "runs" / "runs.db").runs()
    assert list(runs.status) == ["done"] and runs.stages[0] == "teacher,distill,export"


@pytest.mark.parametrize("params, message", [
    (dict(distil_alpha=0.3), "parameter 'distil_alpha' is not a recipe field (did you mean distill_alpha?)"),
    (dict(distill_alpha="high"), "recipe.distill.alpha = 'high': expected a number (parameter distill_alpha)"),
    (dict(prune_heads=1.5), "recipe.prune.heads = 1.5: must be in [0, 1) (parameter prune_heads)"),
    (dict(task="causal-lm", export_runtime="tensorrt"),
     "recipe.export.runtime = 'tensorrt': a causal LM is exported to onnxruntime (one decoding step with its KV cache) or gguf (llama.cpp's file) (parameter export_runtime)"),
])
def test_a_wrong_parameter_stops_the_notebook_in_the_validation_cell(tmp_path, params, message):
    out = tmp_path / "bad.ipynb"
    with pytest.raises(pm.PapermillExecutionError) as e:
        pm.execute_notebook(str(NOTEBOOK), str(out), cwd=str(tmp_path), progress_bar=False, kernel_name="python3",
                            parameters=params)
    assert message in e.value.evalue
    nb = nbformat.read(out, as_version=4)
    failed = [c for c in nb.cells if c.cell_type == "code" and any(o.get("output_type") == "error" for o in c.outputs)]
    assert len(failed) == 1 and "notebook_recipe" in failed[0].source     # before any work
    assert not (tmp_path / "runs").exists()


SWEEP = """
name: t-sweep
recipe: tiny.yaml
grid: {distill.temperature: [3.0]}
points: [{data.name: missing.csv}]
workers: 2
"""


def test_sweep_records_a_failing_point_finishes_the_rest_and_skips_them_when_run_again(tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY)
    (tmp_path / "sweep.yaml").write_text(SWEEP)
    first = autoglm("sweep", "sweep.yaml", cwd=tmp_path)
    assert first.returncode == 1, first.stderr[-3000:]               # one point failed
    assert "2 points, 2 to run" in first.stdout
    runs = RunStore(tmp_path / "runs" / "runs.db").runs(label="t-sweep")
    assert sorted(runs.status) == ["done", "failed"], first.stdout + runs.error.to_string()
    failed = runs[runs.status == "failed"].iloc[0]
    assert "missing.csv" in failed.error
    notebooks = sorted((tmp_path / "runs" / "sweeps" / "t-sweep").glob("*.ipynb"))
    assert len(notebooks) == 2                                       # every executed notebook kept beside its run folder
    again = autoglm("sweep", "sweep.yaml", cwd=tmp_path)
    assert "2 points, 0 to run, 2 skipped" in again.stdout
    retry = autoglm("sweep", "sweep.yaml", "--retry-failed", cwd=tmp_path)
    assert "2 points, 1 to run" in retry.stdout
    assert len(RunStore(tmp_path / "runs" / "runs.db").runs(label="t-sweep")) == 2    # the retried point keeps its row


def test_search_two_workers_on_sqlite_then_resumed_from_the_store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = dict(study="s", recipe=dict(
        data=dict(name="trec", limit=24, max_length=16), teacher=dict(train=dict(epochs=1, batch_size=24)),
        student=dict(num_layers=1), distill=dict(eval_steps=None, train=dict(epochs=1, batch_size=12)), stages=["distill"],
        bench=dict(batch_sizes=[1], warmup=0, rounds=1, repeats=1)),
        space={"distill.alpha": {"low": 0.0, "high": 1.0}, "distill.temperature": {"choices": [1.0, 4.0]}},
        budget={"latency_b1_ms": 1000.0}, pruner="none")
    first = run_search(load_search(spec | dict(trials=2, workers=2)), log=lambda *a: None)
    assert len(first) == 2 and (first.state == "COMPLETE").all()
    resumed = run_search(load_search(spec | dict(trials=3)), log=lambda *a: None)
    assert len(resumed) == 3 and (resumed.state == "COMPLETE").all()
    assert resumed.trial.tolist() == [0, 1, 2] and resumed.best.sum() == 1
    assert resumed.loc[resumed.best, "val_accuracy"].item() == resumed.val_accuracy.max()   # chosen on validation
    runs = RunStore(tmp_path / "runs" / "runs.db").runs(label="search:s")
    assert len(runs) == 3 and (runs.status == "done").all()


@pytest.mark.fast
def test_the_best_trial_is_chosen_on_validation_when_validation_and_test_disagree(tmp_path):
    import optuna
    from autoglm_workbench.runs import _study, search_table
    spec = dict(study="disagree", recipe=dict(output_dir=str(tmp_path / "runs")), space={"distill.alpha": {"low": 0.0, "high": 1.0}},
                budget={"latency_b1_ms": 10.0})
    search = load_search(spec)
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    study = _study(search, url, 0)
    # (validation, test, latency): trial 0 wins on test, trial 1 on validation, trial 2 on validation but over budget
    for alpha, (val, test, ms) in zip((0.1, 0.5, 0.9), ((0.70, 0.95, 5.0), (0.90, 0.80, 5.0), (0.99, 0.99, 20.0))):
        study.add_trial(optuna.trial.create_trial(
            params={"distill.alpha": alpha}, distributions={"distill.alpha": optuna.distributions.FloatDistribution(0, 1)},
            value=val, user_attrs=dict(metrics=dict(val_accuracy=val, accuracy=test, latency_b1_ms=ms), constraint=[ms - 10.0])))
    table = search_table(search, url)
    assert table.best.tolist() == [False, True, False], table


def test_a_trial_the_pruner_stops_ends_its_run_as_pruned(tmp_path, monkeypatch):
    import optuna
    from autoglm_workbench.recipe import Recipe
    from autoglm_workbench.pipeline import run, RunPruned
    from autoglm_workbench.runs import _pruning_callback
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.yaml").write_text(TINY)
    study = optuna.create_study(direction="maximize")
    trial = study.ask()
    monkeypatch.setattr(trial, "should_prune", lambda: True)       # the median pruner's verdict, forced
    store = RunStore(tmp_path / "runs.db")
    with pytest.raises(RunPruned, match="pruned at evaluation 1: validation accuracy"):
        run(Recipe.from_yaml("tiny.yaml"), run_dir=tmp_path / "run", store=store, callbacks=[_pruning_callback(trial)], log=lambda *a: None)
    assert list(store.runs().status) == ["pruned"]
    assert list(study.trials[0].intermediate_values) == [1]       # the pruner heard the first evaluation
    assert not (tmp_path / "run" / "stages" / "1-distill").exists()


def test_a_two_objective_search_marks_its_pareto_front(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = dict(study="mo", recipe=dict(
        data=dict(name="trec", limit=24, max_length=16), teacher=dict(train=dict(epochs=1, batch_size=24)),
        distill=dict(eval_steps=None, train=dict(epochs=1, batch_size=12)), stages=["distill"],
        bench=dict(batch_sizes=[1], warmup=0, rounds=1, repeats=2)),
        space={"student.num_layers": {"choices": [1, 3]}}, objectives=["val_accuracy", "latency_b1_ms"], trials=3)
    table = run_search(load_search(spec), log=lambda *a: None)
    assert (table.state == "COMPLETE").all() and table.best.any()
    # three trials, two depths: a depth's second trial copied the first's stages (a second timing would differ)
    assert table.groupby("student.num_layers").latency_b1_ms.nunique().max() == 1, table
    for _, t in table.iterrows():     # the front: the trials no other trial beats on one objective and matches on the other
        others = table[table.trial != t.trial]
        dominated = ((others.val_accuracy >= t.val_accuracy) & (others.latency_b1_ms <= t.latency_b1_ms)
                     & ((others.val_accuracy > t.val_accuracy) | (others.latency_b1_ms < t.latency_b1_ms)))
        assert t.best == (not dominated.any()), table


def test_a_notebook_that_fails_before_the_pipeline_is_recorded_by_the_sweep(tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('run_dir = ""', metadata={"tags": ["parameters"]}),
                                         nbformat.v4.new_code_cell('raise RuntimeError("the kernel gave up")')])
    nb.metadata["kernelspec"] = dict(name="python3", display_name="python3", language="python")
    nbformat.write(nb, tmp_path / "broken.ipynb")
    (tmp_path / "sweep.yaml").write_text("name: broken\nrecipe: tiny.yaml\nnotebook: broken.ipynb\npoints: [{seed: 1}]\n")
    r = autoglm("sweep", "sweep.yaml", cwd=tmp_path)
    assert r.returncode == 1 and "FAILED" in r.stdout
    runs = RunStore(tmp_path / "runs" / "runs.db").runs(label="broken")
    assert list(runs.status) == ["failed"] and runs.error[0] == "RuntimeError: the kernel gave up"
