"""Time per training step: the Distiller (transformers.Trainer underneath) vs a minimal hand-written PyTorch loop
doing the same forward and backward passes. Writes bench/results/overhead.json.

    python bench/overhead.py [--steps 30] [--batch 16] [--length 64] [--smoke]

Goal (issue 3): Distiller step time <= 1.10x the hand-written loop's. Both run the same teacher (MiniLM-L6),
the same 3-layer student, the same KD + hidden-state loss, the same batches, AdamW, one thread setting.
"""
import argparse
import json
import statistics
import tempfile
import time

import torch
from transformers import TrainerCallback

from autoglm_workbench.align import hidden_loss, make_adapters, uniform_layer_map
from autoglm_workbench.bench import results_path, write_results
from autoglm_workbench.data import load_dataset
from autoglm_workbench.distill import Distiller, Stage, Term, TokenizedSplit
from autoglm_workbench.losses import kd_loss
from autoglm_workbench.models import load_pretrained, make_student


class StepTimer(TrainerCallback):
    "Wall-clock time of every optimizer step (data loading included, as in the hand loop)."
    def __init__(self): self.times, self._t = [], None
    def on_step_begin(self, args, state, control, **kw): self._t = time.perf_counter()
    def on_step_end(self, args, state, control, **kw): self.times.append(time.perf_counter() - self._t)


def hand_loop(teacher, student, batches, lr):
    layer_map = uniform_layer_map(student.config.num_hidden_layers, teacher.config.num_hidden_layers)
    adapters = make_adapters(layer_map, student.config.hidden_size, teacher.config.hidden_size)
    # the same optimizer the Trainer builds by default (fused AdamW), so only the loop differs
    opt = torch.optim.AdamW(list(student.parameters()) + list(adapters.parameters()), lr=lr, weight_decay=0.01, fused=True)
    student.train()
    times = []
    for batch in batches:
        t0 = time.perf_counter()
        inputs = {k: v for k, v in batch.items() if k != "labels"}
        s = student(**inputs, output_hidden_states=True)
        with torch.no_grad():
            t = teacher(**inputs, output_hidden_states=True)
        loss = kd_loss(s.logits, t.logits, batch["labels"], alpha=0.5, temperature=2.0) + hidden_loss(
            s.hidden_states, t.hidden_states, layer_map, adapters, mask=inputs["attention_mask"])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        opt.step(); opt.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--length", type=int, default=64)
    p.add_argument("--smoke", action="store_true", help="a few short steps and a temporary output: checks the script runs")
    p.add_argument("--out", default=None, help="results file (default: bench/results/overhead.json)")
    a = p.parse_args()
    if a.smoke: a.steps, a.warmup, a.batch, a.length = 2, 1, 4, 16
    data = load_dataset("bbc-news", seed=0)
    teacher, tok = load_pretrained("minilm-l6", label_names=data.label_names)
    teacher.eval()
    torch.manual_seed(0)
    n = (a.steps + a.warmup) * a.batch
    split = data.train.subset(n)
    from transformers import DataCollatorWithPadding
    ds, collate = TokenizedSplit(split, tok, a.length), DataCollatorWithPadding(tok)
    batches = [collate([ds[i] for i in range(j, j + a.batch)]) for j in range(0, n, a.batch)]

    # alternate the two several times so drift in machine speed hits both alike
    hand, dist = [], []
    for rnd in range(2):
        hand += hand_loop(teacher, make_student(teacher, num_layers=3), batches, 1e-4)[a.warmup:]
        timer = StepTimer()
        stage = Stage("all", terms=[Term("kd", params=dict(alpha=0.5, temperature=2.0)), Term("hidden")],
                      max_steps=a.steps + a.warmup, lr=1e-4, batch_size=a.batch, warmup_ratio=0.0)
        with tempfile.TemporaryDirectory() as d:
            Distiller(teacher, make_student(teacher, num_layers=3), tok, [stage], d, max_length=a.length,
                      shuffle=False, save_steps=10_000, logging_steps=10_000, callbacks=[timer]).train(
                type(data)(data.name, data.label_names, split, data.validation, data.test))
        dist += timer.times[a.warmup:]
    med_hand, med_dist = statistics.median(hand), statistics.median(dist)
    out = dict(benchmark="overhead", batch=a.batch, length=a.length, steps_timed=len(hand),
               hand_loop_step_ms=med_hand * 1e3, distiller_step_ms=med_dist * 1e3, ratio=med_dist / med_hand,
               goal_ratio_at_most_1_10=bool(med_dist / med_hand <= 1.10), smoke=a.smoke)
    write_results(results_path(__file__, a.out, a.smoke), out, __file__)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
