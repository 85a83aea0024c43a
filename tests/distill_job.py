"""A few distillation steps of a tiny model, run alone or under `accelerate launch`; writes the logged losses.
With `prune`, a `PruningCallback` masks heads and neurons during those steps, and every rank writes the
structures it removed.

Usage: python distill_job.py OUT.json PER_DEVICE_BATCH [prune]
"""
import json
import sys
import tempfile

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from autoglm_workbench.data import load_dataset
from autoglm_workbench.distill import Distiller, Stage, Term
from autoglm_workbench.models import make_student, resolve_model_path, tiny_config
from autoglm_workbench.importance import PruningCallback


def main(out_path: str, per_device_batch: int, prune: bool = False) -> None:
    tok = AutoTokenizer.from_pretrained(resolve_model_path("minilm-l6"))
    data = load_dataset("bbc-news", seed=0).limited(48)  # long articles: every example truncates to the same length
    torch.manual_seed(0)
    cfg = tiny_config(num_labels=5, vocab_size=tok.vocab_size, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    teacher = AutoModelForSequenceClassification.from_config(cfg, attn_implementation="eager").eval()
    student = make_student(teacher, num_layers=2)
    stage = Stage("all", terms=[Term("kd", params=dict(alpha=0.5, temperature=2.0)), Term("hidden", weight=0.5)],
                  max_steps=4, lr=1e-3, batch_size=per_device_batch, warmup_ratio=0.0)
    pruner = PruningCallback({"heads": 0.5, "ffn": 0.5}, start=0.0, end=1.0, every=2) if prune else None
    with tempfile.TemporaryDirectory() as d:
        dist = Distiller(teacher, student, tok, [stage], d, max_length=24, logging_steps=1, save_steps=1000, shuffle=False,
                         callbacks=[pruner] if prune else [])
        dist.train(data)
        logs = [json.loads(line) for line in open(f"{d}/steps.jsonl")] if dist_rank() == 0 else []
    if prune:
        plan = {s: {str(l): sorted(map(int, idx)) for l, idx in layers.items()} for s, layers in pruner.plan.items()}
        json.dump(dict(plan=plan, shapes=dist.student.config.autoglm_pruned), open(f"{out_path}.rank{dist_rank()}", "w"))
    if dist_rank() == 0:
        backend = torch.distributed.get_backend() if torch.distributed.is_initialized() else None
        world = torch.distributed.get_world_size() if torch.distributed.is_initialized() else 1
        losses = [l["loss"] for l in logs if "loss" in l]
        json.dump(dict(losses=losses, backend=backend, world_size=world), open(out_path, "w"))


def dist_rank() -> int:
    return torch.distributed.get_rank() if torch.distributed.is_available() and torch.distributed.is_initialized() else 0


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), prune=sys.argv[3:] == ["prune"])
