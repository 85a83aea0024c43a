"""Redraw time of the KD, alignment, MGAD and pruning panels: the work a slider change triggers (recompute the DataFrames from
cached logits / hidden states, rebuild the altair specs). Writes bench/results/panels.json.

    python bench/panels.py [--repeats 30]

Goal (issue 3): a slider change redraws in under 150 ms. The browser's own rendering is not included.
"""
import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from autoglm_workbench.align import cka_frame, cka_heatmap, resolve_layer_map
from autoglm_workbench.core import environment_info
from autoglm_workbench.data import load_dataset, tokenize
from autoglm_workbench.losses import (gradient_chart, kd_gradient_frame, kd_terms_frame, softened_chart, softened_frame,
                                      terms_chart)
from autoglm_workbench.mgad import attention_heatmap, level_frame, mgad_loss, segment, terms_frame, top_links
from autoglm_workbench.mgad import terms_chart as mgad_terms_chart
from autoglm_workbench.models import forward_with_internals, load_pretrained, make_student, predict_logits
from autoglm_workbench.bench import sparsity_sweep
from autoglm_workbench.prune import MaskGradient, cost_chart, ffn_frame, head_frame, importance_charts, select

TEMPERATURES = (1, 1.5, 2, 3, 4, 6, 8, 12, 16, 20)


def timed(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter(); fn(); times.append((time.perf_counter() - t0) * 1e3)
    return dict(median_ms=statistics.median(times), max_ms=max(times))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "panels.json"))
    a = p.parse_args()
    data = load_dataset("bbc-news")
    teacher, tok = load_pretrained("minilm-l6", label_names=data.label_names)
    student = make_student(teacher, num_layers=3)
    val = data.validation.subset(6)
    t_logits = predict_logits(teacher, tok, val.texts, max_length=128)
    s_logits = predict_logits(student, tok, val.texts, max_length=128)
    labels = torch.tensor(val.labels)
    state = dict(alpha=0.5, T=2.0)

    grads = kd_gradient_frame(s_logits, t_logits, TEMPERATURES)   # the panel computes it once

    def kd_redraw():
        state["alpha"] = 1 - state["alpha"]
        terms = kd_terms_frame(s_logits, t_logits, labels, TEMPERATURES, state["alpha"])
        soft = softened_frame(t_logits, state["T"], data.label_names)
        (softened_chart(soft) | (terms_chart(terms, state["T"]) & gradient_chart(grads))).to_dict()

    batch = tokenize(tok, val.texts, max_length=128)
    with torch.no_grad():
        cka = cka_frame(forward_with_internals(student, batch).hidden_states,
                        forward_with_internals(teacher, batch).hidden_states, batch["attention_mask"])
    maps = ["uniform", "last-1", "last-2", "last-3"]

    def align_redraw():
        maps.append(maps.pop(0))
        cka_heatmap(cka, resolve_layer_map(maps[0], 3, 6)).to_dict()

    enc1, seg1 = segment(val.texts[:1], tok, max_length=128)
    with torch.no_grad():
        ta = forward_with_internals(teacher, enc1).attentions
        sa = forward_with_internals(student, enc1).attentions
    ids = seg1.sentence_ids[0]
    sentences = [tok.decode(enc1["input_ids"][0][ids == k]) for k in range(int(ids.max()) + 1)]
    weights = dict(alpha=1.0, beta=1.0, gamma=1.0)

    def mgad_redraw():
        weights["beta"] = 2.0 - weights["beta"]
        terms = mgad_loss(sa[1], ta[3], enc1["attention_mask"], seg1, **weights)
        (attention_heatmap(level_frame(sa[1][0], ta[3][0], ids, "sentence")) |
         mgad_terms_chart(terms_frame(terms, **weights))).to_dict()
        top_links(ta[3][0], ids, sentences)

    pb = tokenize(tok, val.texts, max_length=128)
    pb["labels"] = labels
    importance = MaskGradient()(teacher, [pb])
    sweep = sparsity_sweep(teacher, importance, [dict(heads=h, ffn=f) for h in (0.25, 0.5, 0.75) for f in (0.0, 0.3)],
                           pb, repeats=2, progress=False)
    sparsity = dict(heads=0.5, ffn=0.3)

    def prune_redraw():
        sparsity["heads"] = 1.25 - sparsity["heads"]      # 0.5 <-> 0.75
        plan = select(teacher, importance, sparsity)
        importance_charts(head_frame(importance, plan), ffn_frame(importance, plan)).to_dict()
        cost_chart(sweep, sparsity["heads"], sparsity["ffn"]).to_dict()

    out = dict(benchmark="panels", kd_panel=timed(kd_redraw, a.repeats), alignment_panel=timed(align_redraw, a.repeats),
               mgad_panel_sentence_level=timed(mgad_redraw, a.repeats), prune_panel=timed(prune_redraw, a.repeats),
               environment=environment_info())
    out["goal_under_150ms"] = bool(all(out[k]["median_ms"] < 150 for k in
                                       ("kd_panel", "alignment_panel", "mgad_panel_sentence_level", "prune_panel")))
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(out, indent=2))
    print(json.dumps({k: v for k, v in out.items() if k != "environment"}, indent=2))


if __name__ == "__main__":
    main()
