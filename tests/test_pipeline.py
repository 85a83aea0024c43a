"""`pipeline.run` killed mid-stage and resumed gives the report of a run that was never interrupted; `autoglm run` end to end."""
import json
import os
import subprocess
import sys
from pathlib import Path

TINY = """
data: {name: trec, limit: 48, max_length: 16}
teacher: {train: {epochs: 1, batch_size: 48}}
student: {num_layers: 2}
distill: {eval_steps: 3, train: {epochs: 2, batch_size: 8}}
prune: {heads: 0.5, ffn: 0.5, layers: 0.5, examples: 16, recovery_epochs: 1}
export: {min_agreement: 0.5, max_accuracy_drop: 0.3}
bench: {batch_sizes: [1, 4], warmup: 0, rounds: 1, repeats: 1}
output_dir: runs
"""

# Runs the pipeline in a process of its own; with KILL_IN set, the process kills itself (SIGKILL: no cleanup, no
# exception handlers) at the given optimizer step of the training stage whose work folder has that name.
RUNNER = """
import os, signal, sys
from transformers import TrainerCallback
from autoglm_workbench.recipe import Recipe
from autoglm_workbench.pipeline import run

class KillAt(TrainerCallback):
    def on_step_end(self, args, state, control, **kw):
        where, step = os.environ["KILL_IN"], int(os.environ["KILL_AT"])
        if where in args.output_dir and state.global_step == step: os.kill(os.getpid(), signal.SIGKILL)

callbacks = [KillAt()] if os.environ.get("KILL_AT") else []
if os.environ.get("KILL_IN") == "export":      # a stage without training: killed as it starts
    from autoglm_workbench import pipeline
    pipeline.STAGE_RUNNERS["export"] = lambda *a: os.kill(os.getpid(), signal.SIGKILL)
run(Recipe.from_yaml(sys.argv[1]), run_dir=sys.argv[2], callbacks=callbacks, log=lambda *a: None)
"""


def pipeline_process(tmp_path, run_dir, kill_in=None, kill_at=None):
    env = os.environ.copy()
    env.pop("KILL_IN", None)
    env.pop("KILL_AT", None)
    if kill_in: env["KILL_IN"] = kill_in
    if kill_at: env["KILL_AT"] = str(kill_at)
    return subprocess.run([sys.executable, "-c", RUNNER, str(tmp_path / "tiny.yaml"), str(run_dir)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=900)


def stage_rows(run_dir):
    return {r["stage"]: r for r in json.loads((Path(run_dir) / "report.json").read_text())["stages"]}


def test_killed_in_three_stages_then_resumed_equals_an_uninterrupted_run(tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY)
    whole = pipeline_process(tmp_path, tmp_path / "whole")
    assert whole.returncode == 0, whole.stderr[-3000:]

    run_dir = tmp_path / "killed"
    first = pipeline_process(tmp_path, run_dir, "1-distill", 7)        # after the checkpoint at step 6
    assert first.returncode == -9
    assert not (run_dir / "stages" / "1-distill").exists()
    assert (run_dir / "work" / "1-distill" / "stage0-all" / "checkpoint-6" / "trainer_state.json").exists()
    second = pipeline_process(tmp_path, run_dir, "2-prune", 4)          # resumed; killed again in recovery
    assert second.returncode == -9
    assert (run_dir / "stages" / "1-distill" / "metrics.json").exists() and not (run_dir / "stages" / "2-prune").exists()
    assert (run_dir / "work" / "2-prune" / "pruned" / "plan.json").exists()
    third = pipeline_process(tmp_path, run_dir, "export")               # killed again: the finished stages feed export
    assert third.returncode == -9
    assert (run_dir / "stages" / "3-quantize" / "metrics.json").exists() and not (run_dir / "stages" / "4-export").exists()
    fourth = pipeline_process(tmp_path, run_dir)
    assert fourth.returncode == 0, fourth.stderr[-3000:]

    a, b = stage_rows(tmp_path / "whole"), stage_rows(run_dir)
    assert list(a) == list(b) == ["teacher", "distill", "prune", "quantize", "export"]
    for stage in a:
        for k in ("accuracy", "agreement", "parameters", "flops", "size_mb"):
            assert a[stage][k] == b[stage][k], (stage, k, a[stage][k], b[stage][k])
    assert a["prune"]["removed"] == b["prune"]["removed"]
    assert not (run_dir / "work").exists()                             # checkpoints gone once every stage landed


def test_autoglm_run_prints_stages_not_trainer_dictionaries(tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY)
    exe = Path(sys.executable).with_name("autoglm")
    r = subprocess.run([str(exe), "run", "tiny.yaml", "--set", "stages=[distill,quantize]", "--label", "cli"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "stage 2/2 quantize: accuracy" in r.stdout
    assert "{'loss'" not in r.stdout + r.stderr and "{'eval_loss'" not in r.stdout + r.stderr and "'train_runtime'" not in r.stdout
    run_dir = next((tmp_path / "runs").glob("*-run-*"))
    listed = subprocess.run([str(exe), "runs", "--label", "cli"], cwd=tmp_path, capture_output=True, text=True)
    assert listed.returncode == 0 and "teacher,distill,quantize" in listed.stdout and " done " in listed.stdout
    report = subprocess.run([str(exe), "report", str(run_dir)], cwd=tmp_path, capture_output=True, text=True)
    assert report.returncode == 0 and "quantize" in report.stdout and "pareto.png" in report.stdout
    bad = subprocess.run([str(exe), "run", "tiny.yaml", "--set", "stages=[distill,prnue]"], cwd=tmp_path, capture_output=True, text=True)
    assert bad.returncode == 2 and "recipe.stages[1] = 'prnue': must be one of 'distill', 'prune'" in bad.stderr
    resumed = subprocess.run([str(exe), "run", "--resume", str(run_dir)], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0 and "stage 1/2 distill: finished earlier" in resumed.stdout
