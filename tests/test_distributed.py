"""Distillation across 2 CPU processes (DDP over gloo, launched by accelerate) matches one process with the same
global batch.

On a machine without GPUs, `accelerate launch --cpu --num_processes 2` starts a *single* process (accelerate only
spreads CPU work through mpirun); `--multi_gpu` starts torch.distributed workers, which use gloo on the CPU.
"""
import json
import subprocess
import sys
from pathlib import Path

JOB = Path(__file__).with_name("distill_job.py")


def run(cmd, cwd):
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-4000:]


def test_two_process_loss_matches_single_process(tmp_path):
    run([sys.executable, str(JOB), "single.json", "8"], tmp_path)
    accelerate = Path(sys.executable).with_name("accelerate")
    run([str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
         "--mixed_precision", "no", "--dynamo_backend", "no", str(JOB), "ddp.json", "4"], tmp_path)
    single = json.loads((tmp_path / "single.json").read_text())
    ddp = json.loads((tmp_path / "ddp.json").read_text())
    assert (single["world_size"], ddp["world_size"], ddp["backend"]) == (1, 2, "gloo")
    assert len(single["losses"]) == len(ddp["losses"]) == 4
    for a, b in zip(single["losses"], ddp["losses"]):
        assert abs(a - b) <= 1e-5 * abs(a), (single["losses"], ddp["losses"])
    assert single["losses"][-1] < single["losses"][0]  # it trained


def test_dynamic_pruning_removes_the_same_structures_on_every_rank(tmp_path):
    "Each rank sees other batches, so its own gate gradients differ; the pruner sums them before choosing."
    accelerate = Path(sys.executable).with_name("accelerate")
    run([str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
         "--mixed_precision", "no", "--dynamo_backend", "no", str(JOB), "ddp.json", "4", "prune"], tmp_path)
    ranks = [json.loads((tmp_path / f"ddp.json.rank{r}").read_text()) for r in (0, 1)]
    assert ranks[0] == ranks[1], ranks
    removed = sum(len(v) for layers in ranks[0]["plan"].values() for v in layers.values())
    assert removed > 0 and sum(ranks[0]["shapes"]["attention_heads"]) == 4   # half of 2 layers x 4 heads
