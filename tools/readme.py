"""Write README.md from nbs/index.ipynb without Quarto (nbdev_readme needs it).

Markdown cells are copied with their result placeholders filled in from `bench/results/*.json`, so a figure in the
README cannot drift from the run that measured it:
- `{{NAME:PATH}}` or `{{NAME:PATH:FORMAT}}`: one value of `bench/results/NAME.json`, found by the dotted PATH
  (dict keys by name, list items by key: `stages.stage=export`, `rows.model=student&path=ORT INT8`, never by
  position, so a reordered file fails the build instead of printing another row) and written with the Python
  FORMAT spec (default: as is);
- `{{table:NAME}}`: a whole table, drawn by the renderer of that name below.
Code cells become fenced Python blocks followed by their text outputs; cells whose first lines carry `#| hide` are
left out. A placeholder that names a missing file, key or renderer stops the script with that name.
"""
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PLACEHOLDER = re.compile(r"\{\{([\w-]+):([^:}]+)(?::([^}]+))?\}\}")


def results(name: str) -> dict:
    path = RESULTS / f"{name}.json"
    if not path.exists(): sys.exit(f"README placeholder names bench/results/{name}.json, which does not exist")
    return json.loads(path.read_text())


def lookup(name: str, dotted: str):
    "A value of bench/results/NAME.json by its dotted path; list items are addressed by key (`stage=export&variant=f50`)."
    value, where = results(name), f"README placeholder {{{{{name}:{dotted}}}}}"
    for part in re.split(r"(?<!\d)\.|\.(?!\d)", dotted):     # a dot between two digits is part of a value (α=0.8)
        if isinstance(value, list):
            if "=" not in part:    # a position would print another row once the list is reordered
                sys.exit(f"{where}: {part!r} addresses a list by position; address its item by key, e.g. stage=export")
            want = dict(kv.split("=", 1) for kv in part.split("&"))
            hits = [v for v in value if isinstance(v, dict) and all(str(v.get(k)) == x for k, x in want.items())]
            if len(hits) != 1: sys.exit(f"{where}: {len(hits)} items of bench/results/{name}.json match {part!r}, not one")
            value = hits[0]
            continue
        try: value = value[part]
        except (KeyError, TypeError):
            sys.exit(f"{where}: bench/results/{name}.json has no {part!r} there")
    return value


def markdown_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(map(str, r)) + " |" for r in rows])


def ms(x) -> str: return "–" if x is None else f"{x:.1f}"
def ratio(x) -> str: return "–" if x is None else f"{x:.2f}×"


def demo_table() -> str:
    d = results("distill")
    return markdown_table(
        ["model", "accuracy %", "params (M)", "size (MB)", "b1 latency (ms)", "b1 speed-up", "b32 latency (ms)", "b32 speed-up"],
        [[m["model"], f"{100 * m['accuracy']:.1f}", f"{m['parameters'] / 1e6:.1f}", f"{m['size_mb']:.1f}", ms(m["latency_b1_ms"]),
          ratio(m["speedup_b1"]), ms(m["latency_b32_ms"]), ratio(m["speedup_b32"])] for m in d["models"]])


def pair(a, b, fmt=ratio) -> str: return f"{fmt(a)} / {fmt(b)}"


def prune_table() -> str:
    d = results("prune")
    return markdown_table(
        ["model", "pruned", "recovery", "accuracy %", "drop (points)", "params (M)", "FLOPs ratio", "speed-up b1 / b32",
         "vs teacher FP32 b1 / b32"],
        [[r["model"], r["setting"], r["recovery"], f"{100 * r['accuracy']:.1f}", f"{r['accuracy_drop_points']:.1f}",
          f"{r['parameters'] / 1e6:.1f}", ratio(r["flops_ratio"]), pair(r.get("speedup_b1"), r.get("speedup_b32")),
          pair(r.get("vs_teacher_b1"), r.get("vs_teacher_b32"))]
         for r in d["rows"]])


def quant_table() -> str:
    d = results("quant")
    return markdown_table(
        ["model", "path", "accuracy %", "agreement %", "size (MB)", "latency b1 / b32 (ms)", "vs teacher FP32",
         "vs own FP32", "vs FP32, same runtime", "GEMM floor b32"],
        [[r["model"], r["path"], f"{100 * r['accuracy']:.1f}", f"{100 * r['top1_agreement']:.1f}",
          "–" if r["size_mb"] is None else f"{r['size_mb']:.1f}",     # a compiled graph has no file
          pair(r["latency_b1_ms"], r["latency_b32_ms"], ms), pair(r["vs_teacher_fp32_b1"], r["vs_teacher_fp32_b32"]),
          pair(r["vs_own_fp32_b1"], r["vs_own_fp32_b32"]), pair(r["vs_same_runtime_fp32_b1"], r["vs_same_runtime_fp32_b32"]),
          f"{100 * r['gemm_floor_fraction_b32']:.0f}%"] for r in d["rows"]])


def mgad_table() -> str:
    d = results("mgad")
    rows = []
    for k, v in d["summary"].items():
        shares = [x["start_shares"] for x in d["runs"] if x["method"] == k]
        attention = sorted({key for s in shares for key in s} - {"start_share_kd", "start_share_ce"})
        share = ", ".join(f"{key.removeprefix('start_share_')} {100 * sum(s.get(key, 0) for s in shares) / len(shares):.0f}%"
                          for key in attention) or "–"
        vs, vs_kl, kl = v.get("vs_kd_points"), v.get("vs_kd_kl"), v["test_kl_to_teacher"]
        rows.append([k, f"{100 * v['mean']:.1f} ± {100 * v['ci95']:.1f}", f"{v['gap_to_teacher_points']:.1f}",
                     f"{vs['mean']:+.1f} ± {vs['ci95']:.1f}" if vs else "–", f"{kl['mean']:.4f} ± {kl['ci95']:.4f}",
                     f"{vs_kl['mean']:+.4f} ± {vs_kl['ci95']:.4f}" if vs_kl else "–", share, f"{v['train_seconds']:.0f}"])
    return markdown_table(["method", "test accuracy % (mean ± 95% CI)", "gap to teacher (points)",
                           "vs KD, paired by seed (points)", "KL(teacher ‖ student) on test", "KL vs KD, paired",
                           "attention term's share at start", "train s / run"], rows)


def panels_table() -> str:
    "Key press to new marks in JupyterLab, per panel (bench/panels.py)."
    d = results("panels")
    return markdown_table(["panel", "median (ms)", "p90 (ms)", "max (ms)", "sent to the page per move (KB, median)", "actions"],
                          [[k, ms(v["median_ms"]), ms(v["p90_ms"]), ms(v["max_ms"]), ms(v["median_kb_to_page"]), v["actions"]]
                           for k, v in d["panels"].items()])


def pipeline_table() -> str:
    "Every stage of every pruning variant of bench/pipeline.py, ratios against the teacher timed in the same run."
    d = results("pipeline")
    rows = []
    for v in d["variants"]:
        t = v["stages"][0]
        for r in v["stages"]:
            shared = r["stage"] in ("teacher", "distill")      # the same teacher and distill stage in every variant
            if shared and v is not d["variants"][0]: continue
            stage = f"export ({r['runtime']} {r['precision']})" if r["stage"] == "export" and "runtime" in r else r["stage"]
            rows.append(["–" if shared else v["variant"], stage, f"{100 * r['accuracy']:.1f}",
                         f"{100 * r['agreement']:.1f}", f"{r['parameters'] / 1e6:.1f}", f"{r['size_mb']:.1f}",
                         ratio(t["size_mb"] / r["size_mb"]), f"{r['flops'] / 1e9:.2f}",
                         *[x for b in (1, 32) for x in (ms(r[f"latency_b{b}_ms"]), ms(r[f"teacher_latency_b{b}_ms"]),
                                                        ratio(r[f"teacher_latency_b{b}_ms"] / r[f"latency_b{b}_ms"]))]])
    # each stage is timed in turns with the teacher; its speed-up is the ratio of the two medians of that pairing,
    # both shown, so every ratio can be recomputed from its own row
    return markdown_table(["pruning", "stage", "accuracy %", "agrees with teacher %", "params (M)", "size (MB)", "smaller",
                           "GFLOPs / article", "b1 (ms)", "teacher b1 (ms)", "b1 speed-up", "b32 (ms)", "teacher b32 (ms)",
                           "b32 speed-up"], rows)


def pipeline_front_table() -> str:
    "The searched Pareto front of bench/pipeline.py (validation accuracy up, batch-32 latency down) beside the hand-picked variants."
    d = results("pipeline")
    pct = lambda x: "–" if x is None else f"{100 * x:.1f}"
    share = lambda p: "–" if p is None else f"{p:.0%}"
    rows, seen = [], {}
    for t in d["search"]["front"]:     # a setting the sampler proposed again is one point (its stages were copied)
        key = tuple(t.get(k) for k in d["search"]["space"])
        if key in seen: seen[key][0] += f", {t['trial']}"; continue
        rows.append([f"front: trial {t['trial']}", share(t.get("prune.layers")), share(t.get("prune.heads")), share(t.get("prune.ffn")),
                     f"{t['runtime']} {t['precision']}", pct(t["val_accuracy"]), pct(t["accuracy"]), ms(t["latency_b32_ms"]),
                     ms(t["teacher_latency_b32_ms"]), ratio(t["teacher_latency_b32_ms"] / t["latency_b32_ms"]), f"{t['size_mb']:.1f}"])
        seen[key] = rows[-1]
    for v in d["variants"]:     # the hand-picked points: each variant's exported model
        e, p = v["stages"][-1], v["prune"]
        rows.append([f"hand-picked: {v['variant']}", share(p["layers"]), share(p["heads"]), share(p["ffn"]),
                     f"{e['runtime']} {e['precision']}", pct(e["val_accuracy"]), pct(e["accuracy"]), ms(e["latency_b32_ms"]),
                     ms(e["teacher_latency_b32_ms"]), ratio(e["teacher_latency_b32_ms"] / e["latency_b32_ms"]), f"{e['size_mb']:.1f}"])
    return markdown_table(["point", "layers pruned", "heads pruned", "FFN pruned", "runtime (chosen) and precision",
                           "validation %", "test %", "b32 (ms)", "teacher b32 (ms)", "b32 speed-up", "size (MB)"], rows)


def search_table() -> str:
    "The hand-tuned default against the completed trials of bench/search.py, most accurate first."
    d = results("search")
    dq, r = d["default"]["quantize"], d["recipe"]
    pct = lambda x: "–" if x is None else f"{100 * x:.1f}"
    rows = [["default", f"{r['distill']['alpha']:.2f}", f"{r['distill']['temperature']:.2f}", r["student"]["num_layers"],
             r["student"]["hidden_size"] or "384 (teacher's)", pct(dq.get("val_accuracy")), pct(dq["accuracy"]),
             ms(dq["latency_b1_ms"]), f"{dq['size_mb']:.1f}", "sets the budget"]]
    # sorted as the search chooses: by validation accuracy (test accuracy is reported, never chosen on)
    for t in sorted([t for t in d["trials"] if t["state"] == "COMPLETE"], key=lambda t: -(t.get("val_accuracy") or t["accuracy"])):
        rows.append([f"trial {t['trial']}" + (" (best)" if t.get("best") else ""), f"{t['distill.alpha']:.2f}",
                     f"{t['distill.temperature']:.2f}", t["student.num_layers"], t["student.hidden_size"],
                     pct(t.get("val_accuracy")), pct(t["accuracy"]), ms(t["latency_b1_ms"]), f"{t['size_mb']:.1f}",
                     "yes" if t["feasible"] else "no"])
    table = markdown_table(["run", "alpha", "T", "layers", "width", "validation %", "test %", "b1 (ms)", "size (MB)",
                            "within budget"], rows)
    if not any("val_accuracy" in t for t in d["trials"]):    # written before choices moved to the validation split
        table += ("\n\n*This file was written before searches chose on the validation split: its best trial was picked "
                  "on the test accuracy shown. `python bench/search.py` writes it again with the validation column.*")
    return table


METHOD_NAMES = {"ours": "ours (KD + MGAD)", "distilbert": "DistilBERT-style", "tinybert": "TinyBERT-style",
                "mobilebert": "MobileBERT-style", "minilm-v2": "MiniLM-v2-style",
                "paraphrase-minilm-l3-ce": "paraphrase-MiniLM-L3-v2, CE", "paraphrase-minilm-l3-kd": "paraphrase-MiniLM-L3-v2, KD",
                "teacher": "teacher (MiniLM-L6)"}


def pct_ci(row) -> str: return f"{100 * row['accuracy']:.1f} ± {100 * row['accuracy_ci95']:.1f}"


def compare_main_table() -> str:
    d = results("compare")
    timing = {(t["dataset"], t["method"]): t for t in d["timings"]}
    rows = []
    for ds in dict.fromkeys(r["dataset"] for r in d["main"]):
        t, m = timing.get((ds, "teacher"), {}), d["teachers"][ds]
        rows.append([ds, METHOD_NAMES["teacher"], f"{100 * m['accuracy']:.1f} (one)", f"{m['parameters'] / 1e6:.1f}",
                     f"{m['flops'] / 1e9:.2f}", f"{m['size_mb']:.1f}", ms(t.get("latency_b1_ms")), ms(t.get("latency_b32_ms")), "–"])
        for r in (r for r in d["main"] if r["dataset"] == ds):
            rows.append([ds, METHOD_NAMES.get(r["method"], r["method"]), pct_ci(r) + f" ({r['seeds']})", f"{r['parameters'] / 1e6:.1f}",
                         f"{r['flops'] / 1e9:.2f}", f"{r['size_mb']:.1f}",
                         f"{ms(r.get('latency_b1_ms'))} ({ratio(r.get('speedup_b1'))})",
                         f"{ms(r.get('latency_b32_ms'))} ({ratio(r.get('speedup_b32'))})", f"{r['train_seconds']:.0f}"])
    return markdown_table(["data set", "model", "accuracy % (seeds)", "params (M)", "GFLOPs / text", "size (MB)",
                           "b1 ms (speed-up)", "b32 ms (speed-up)", "training (s)"], rows)


def compare_flops_table() -> str:
    d = results("compare")
    return markdown_table(["data set", "model", "layers × width", "GFLOPs / text", "FLOPs vs ours", "accuracy %"],
                          [[r["dataset"], METHOD_NAMES.get(r["method"], r["method"]), SHAPES.get(r["method"], "–"),
                            f"{r['flops'] / 1e9:.3f}", ratio(r["flops_ratio"]), pct_ci(r)] for r in d["same_flops"]])


SHAPES = {"ours": "3 × 384 (shallow, wide)", "distilbert": "3 × 384", "minilm-v2": "3 × 384", "mobilebert": "6 × 276 (thin, deep)",
          "tinybert": "4 × 312", "paraphrase-minilm-l3-ce": "3 × 384", "paraphrase-minilm-l3-kd": "3 × 384"}


def compare_cross_table() -> str:
    c = results("compare")["cross_dataset"]
    sets = c["sets"]
    rows = []
    for r in c["table"]:
        s = sets[r["set"]]
        rows.append([METHOD_NAMES.get(r["model"], r["model"]), f"{100 * r['in_domain_accuracy']:.1f}",
                     f"{100 * r['out_of_domain_accuracy']:.1f}", f"{100 * s['majority_rate']:.1f}",
                     f"{100 * r['over_majority']:+.1f}", f"{r['retention']:.2f}"])
    return markdown_table([f"model (trained on {c['train']})", f"{c['train']} test %", "tweets % (out of domain)",
                           "tweets majority rate %", "over the majority rate (points)", "retention (out / in)"], rows)


def presets_table() -> str:
    d = results("presets")["presets"]
    rows = []
    for name, r in d.items():
        m, checks = r["chosen"]["measured"], r["chosen"]["checks"]
        budget = "; ".join(f"{c['item']} {c['rule']}: {c['measured']:.3g} {'✓' if c['met'] else '✗'}" for c in checks)
        val = "–" if m.get("val_accuracy") is None else f"{100 * m['val_accuracy']:.1f}"
        rows.append([name, r["recipe"]["data"]["name"], m["stage"], val, f"{100 * m['accuracy']:.1f}", f"{m['size_mb']:.1f}",
                     f"{m['peak_rss_mb']:.0f}", budget, f"{m['speedup_b1']:.1f}× / {m.get('speedup_b32', float('nan')):.1f}×",
                     f"{r['claimed_speedup']:g}×", "yes" if r["met"] else "no"])
    table = markdown_table(["preset", "data", "deployed", "validation %", "test %", "size (MB)", "peak memory (MB)", "budget (measured)",
                           "speed-up b1 / b32", "seed's claim", "budget met"], rows)
    if any("val_accuracy" not in r["chosen"]["measured"] for r in d.values()):   # before choices moved to validation
        table += ("\n\n*This file was written before presets chose on the validation split: a search's candidate was "
                  "picked on the test accuracy shown, and the command that wrote it was not recorded. "
                  "`python bench/presets.py` writes it again.*")
    return table


LM_METHODS = {"recipe": ("the recipe: most influential layers", "KD over every position + hidden states"),
              "shrink-fine-tune": ("shrink-and-fine-tune: layers spread", "CE on the references"),
              "word-kd": ("word-level KD: layers spread", "CE + KD on the target's tokens"),
              "sequence-kd": ("sequence-level KD: layers spread", "CE on the teacher's greedy outputs"),
              "depth-pruned": ("depth-pruned teacher: least influential layers removed", "CE on the references (healing)")}


def lm_table() -> str:
    "The decoder recipe against the baselines (bench/lm.py): each a variant of one recipe at one budget, scored and timed alike."
    d = results("lm")
    num = lambda v, f: "–" if v is None else format(v, f)
    def row(name, r, teacher=False):
        band = "" if teacher or r.get("rouge_l_retention_low") is None else \
            f" [{100 * r['rouge_l_retention_low']:.0f}–{100 * r['rouge_l_retention_high']:.0f}%]"
        def speed(b):   # the teacher is timed in turns with each student, in that student's run: its own row has no one time
            if teacher: return "reference of each row"
            return "–" if r.get(f"latency_b{b}_ms") is None else f"{r[f'latency_b{b}_ms'] / b:.0f} ({r[f'speedup_b{b}']:.2f}×)"
        student, training = ("fine-tuned teacher", "–") if teacher else LM_METHODS[name]
        mark = " (chosen on validation)" if name == d["best_on_validation"] else ""
        return [f"{student}{mark}", training, str(d["teacher_layers"] if teacher else r["layers"]), num(r["val_rouge_l"], ".1f"),
                num(r["rouge_l"], ".1f"), "100%" if teacher else num(r["rouge_l_retention"], ".0%") + band,
                num(r.get("bleu4"), ".1f"), num(r.get("sbert"), ".1f"), num(r.get("perplexity"), ".1f"),
                "100%" if teacher else f"{100 * r['agreement']:.0f}%", speed(1), speed(8)]
    rows = [row("teacher", d["teacher"], teacher=True)] + [row(r["method"], r) for r in d["methods"]]
    return markdown_table(["student", "training", "layers", "ROUGE-L, validation", "ROUGE-L, test", "of the teacher's [95% interval]",
                           "BLEU-4", "SBERT sim.", "perplexity", "greedy tokens equal to the teacher's",
                           "ms per headline, b1 (speed-up)", "ms per headline, b8 (speed-up)"], rows)


def lm_compressed_table() -> str:
    "The recipe's student, float and with INT8 activations per token, plain and after SmoothQuant (bench/lm.py --quantize); the policy chosen on validation perplexity marked."
    plain, smooth = (results(name) for name in ("lm_token_int8", "lm_smooth_token_int8"))
    variants = {"INT8 per token": plain["methods"][0], f"SmoothQuant α={smooth['quantize']['smooth_alpha']:g} + INT8 per token": smooth["methods"][0]}
    chosen = min(variants, key=lambda k: variants[k]["val_perplexity"])
    teacher, student = plain["teacher"], plain["methods"][0]["float"]
    pct = lambda r: f"{r['rouge_l_retention']:.0%} [{100 * r['rouge_l_retention_low']:.0f}–{100 * r['rouge_l_retention_high']:.0f}%]"
    ppl = lambda r: f"{r['val_perplexity']:.2f} ({100 * (r['val_perplexity'] / student['val_perplexity'] - 1):+.1f}%)"
    speed = lambda r, b: f"{r[f'latency_b{b}_ms'] / b:.0f} ({r[f'speedup_b{b}']:.2f}×)"
    rows = [["fine-tuned teacher", str(plain["teacher_layers"]), f"{teacher['val_rouge_l']:.1f}", "–", f"{teacher['rouge_l']:.1f}", "100%",
             f"{teacher['perplexity']:.2f}", f"{teacher['size_mb']:.0f}", "reference of each row", "reference of each row"],
            ["student, float", str(plain["methods"][0]["layers"]), f"{student['val_rouge_l']:.1f}", ppl(student), f"{student['rouge_l']:.1f}",
             pct(student), f"{student['perplexity']:.2f}", f"{student['size_mb']:.0f}", speed(student, 1), speed(student, 8)]]
    for name, r in variants.items():
        rows.append([f"student, {name}" + (" (chosen on validation)" if name == chosen else ""), str(r["layers"]), f"{r['val_rouge_l']:.1f}",
                     ppl(r), f"{r['rouge_l']:.1f}", pct(r), f"{r['perplexity']:.2f}", f"{r['size_mb']:.0f}", speed(r, 1), speed(r, 8)])
    return markdown_table(["model (PyTorch)", "layers", "ROUGE-L, validation", "perplexity, validation (vs float student)", "ROUGE-L, test",
                           "of the teacher's [95% interval]", "perplexity, test", "MB", "ms per headline, b1 (speed-up)",
                           "ms per headline, b8 (speed-up)"], rows)


def families_table() -> str:
    "Which stages each model family takes (bench/families.py): run, refused before any work (and why), or crashed."
    d = results("families")
    def why(msg: str) -> str:
        return "no single layer stack to copy a student from" if "'distill'" in msg else "heads / FFN layout unknown to pruning"
    return markdown_table(["family", "model_type", "stages run", "refused before any work", "crashed"],
                          [[k, f["model_type"], " → ".join(f["stages"]) or "–",
                            "; ".join(f"{s}: {why(m)}" for s, m in f["refused"].items()) or "–", f["error"] or "–"]
                           for k, f in d["families"].items()])


def lm_int8_table() -> str:
    "Every INT8 scheme of bench/lm_int8.py against its float model: perplexity, greedy agreement, speed."
    d = results("lm_int8")
    lat = {(r["model"], r["batch_size"]): r for r in d["latency"]}
    base = next(r for r in d["models"] if r["kind"] == "float")
    def ppl(r, split):
        v = r.get(f"{split}_perplexity")
        return "–" if v is None else f"{v:.2f} ({100 * (v / base[f'{split}_perplexity'] - 1):+.1f}%)"
    def speed(name, b):
        r = lat.get((name, b))
        return "–" if r is None else f"{r['ms_per_headline']:.0f} ({r['speedup']:.2f}×)"
    rows = [[r["name"], r["runtime"], ppl(r, "val"), ppl(r, "test"),
             "–" if "agreement" not in r else f"{100 * r['agreement']['token_agreement']:.0f}%", speed(r["name"], 1), speed(r["name"], 8)]
            for r in d["models"]]
    return markdown_table(["model", "runtime", "perplexity, validation (vs float)", "perplexity, test (vs float)",
                           "greedy tokens equal to float", "ms per headline, b1 (speed-up)", "ms per headline, b8 (speed-up)"], rows)


def lm_recipe_table() -> str:
    "Each stage of the decoder recipe run by bench/lm_recipe.py: quality with its retention interval, size and speed."
    d = results("lm_recipe")
    num = lambda v, f: "–" if v is None else format(v, f)
    def retention(r):
        if r.get("rouge_l_retention") is None: return "–"
        if r["stage"] == "teacher": return "100%"
        low, high = r.get("rouge_l_retention_low"), r.get("rouge_l_retention_high")
        band = "" if low is None else f" [{100 * low:.0f}–{100 * high:.0f}%]"
        return f"{100 * r['rouge_l_retention']:.0f}%{band}"
    def runtime(r):
        if r.get("runtime"): return f"{r['runtime']} {r['precision']}"
        if r["stage"] != "quantize": return "pytorch"
        q = d["recipe"]["quantize"]
        int8 = {"token-int8": "INT8 per token", "dynamic-int8": "dynamic INT8"}.get(q["scheme"], "INT8 weights")
        return f"pytorch, {'SmoothQuant + ' if q.get('smooth_alpha') is not None else ''}{int8}"
    def speed(r, b):   # the teacher is timed in turns with each stage: a copied teacher stage's own time is another run's
        if r["stage"] == "teacher": return "reference of each row"
        ms = r.get(f"latency_b{b}_ms")
        return "–" if ms is None else f"{ms / b:.0f} ({r[f'speedup_b{b}']:.2f}×)"
    rows = [[r["stage"], runtime(r), num(r["rouge_l"], ".1f"), retention(r), num(r.get("bleu4"), ".1f"), num(r.get("sbert"), ".1f"),
             num(r.get("perplexity"), ".2f"), f"{100 * r['agreement']:.0f}%", f"{r['parameters'] / 1e6:.1f}", f"{r['size_mb']:.0f}",
             speed(r, 1), speed(r, 8)] for r in d["stages"]]
    return markdown_table(["stage", "runtime", "ROUGE-L", "of the teacher's [95% interval]", "BLEU-4", "SBERT sim.",
                           "perplexity", "greedy tokens equal to the teacher's", "parameters (M)", "MB",
                           "ms per headline, b1 (speed-up)", "ms per headline, b8 (speed-up)"], rows)


def lm_depth_table() -> str:
    "The depth x recovery curve of bench/lm_depth.py: each depth's share of the teacher's ROUGE-L and its speed-up."
    d = results("lm_depth")
    def row(p):
        band = "" if p.get("rouge_l_retention_low") is None else \
            f" [{100 * p['rouge_l_retention_low']:.0f}–{100 * p['rouge_l_retention_high']:.0f}%]"
        speed = lambda b: "–" if p.get(f"latency_b{b}_ms") is None else f"{p[f'latency_b{b}_ms'] / b:.0f} ({p[f'speedup_b{b}']:.2f}×)"
        source = "bench/lm_recipe.py" if p.get("from_results") else "bench/lm_depth.py"
        host = "AMX" if "amx_tile" in (p.get("cpu_features") or []) else ", ".join((p.get("cpu_features") or [])[-2:])
        return [f"{p['layers']} of {d['teacher_layers']}", f"{p['rouge_l']:.1f}", f"{100 * p['rouge_l_retention']:.0f}%{band}",
                f"{p['perplexity']:.2f}", f"{p['parameters'] / 1e6:.1f}", speed(1), speed(8), source, host]
    return markdown_table(["layers kept", "ROUGE-L", "of the teacher's [95% interval]", "perplexity", "parameters (M)",
                           "ms per headline, b1 (speed-up)", "ms per headline, b8 (speed-up)", "run by", "processor"],
                          [row(p) for p in d["points"]])


def lm_gguf_table() -> str:
    "llama.cpp on the teacher's F16 GGUF and a student's Q8_0 GGUF (bench/lm_gguf.py), one pair of rows a run (each timed in turns): quality and ms per headline."
    rows = []
    for file in ("lm_gguf", "lm_gguf_20_layers"):
        d = results(file)
        rows += [[name, f"{d['layers'][name]}", d["files"][name]["precision"].upper(), f"{d['files'][name]['size_mb']:.0f}",
                  f"{d['rouge_l'][name]:.1f}",
                  "100%" if name == "teacher" else f"{100 * d['rouge_l_retention']:.0f}% [{100 * d['rouge_l_retention_interval'][0]:.0f}–"
                                                   f"{100 * d['rouge_l_retention_interval'][1]:.0f}%]",
                  f"{d['ms_per_headline'][name]:.0f}", f"{d['first_token_ms'][name]:.0f}",
                  "1.00×" if name == "teacher" else f"{d['speedup_per_headline']:.2f}×", f"`{file}.json`"] for name in ("teacher", "student")]
    return markdown_table(["model", "layers", "GGUF", "MB", "ROUGE-L (llama.cpp)", "of the teacher's [95% interval]",
                           "ms per headline", "ms to first token", "speed-up", "run"], rows)


def lm_gguf_shapes_table() -> str:
    "llama.cpp's speed of student shapes before training (bench/lm_gguf_shapes.py), all timed in turns with the F16 teacher."
    d = results("lm_gguf_shapes")
    rows = [[("teacher (F16)" if name == "teacher" else f"{r['layers']} layers × {r['ffn']} FFN neurons (Q8_0)"),
             f"{r['parameters'] / 1e6:.0f}M", f"{r['size_mb']:.0f}", f"{r['first_token_ms']:.0f}", f"{r['ms_per_headline']:.0f}",
             f"{r['speedup_per_headline']:.2f}×", "–" if name == "teacher" else ("yes" if r["goal"]["met"] else "no")]
            for name, r in d["shapes"].items()]
    return markdown_table(["shape", "parameters", "MB", "ms to first token", "ms per headline", "speed-up", "≥ 2.5×"], rows)


TABLES = {"demo": demo_table, "families": families_table, "pipeline": pipeline_table, "pipeline-front": pipeline_front_table, "search": search_table, "prune": prune_table, "quant": quant_table, "mgad": mgad_table, "panels": panels_table,
          "compare_main": compare_main_table, "compare_flops": compare_flops_table, "compare_cross": compare_cross_table,
          "presets": presets_table, "lm": lm_table, "lm-compressed": lm_compressed_table, "lm-int8": lm_int8_table, "lm-recipe": lm_recipe_table,
          "lm-depth": lm_depth_table, "lm-gguf": lm_gguf_table,
          "lm-gguf-shapes": lm_gguf_shapes_table}


def fill(text: str) -> str:
    def one(m):
        name, path, fmt = m.groups()
        if name == "table":
            if path not in TABLES: sys.exit(f"README placeholder {{{{table:{path}}}}}: no such table ({', '.join(TABLES)})")
            return TABLES[path]()
        value = lookup(name, path)
        if isinstance(value, list): return ", ".join(format(v, fmt) if fmt else str(v) for v in value)
        return format(value, fmt) if fmt else str(value)
    return PLACEHOLDER.sub(one, text)


def _directives(src: str) -> set[str]:
    return {line[3:].strip() for line in src.splitlines() if line.startswith("#| ")}


def render(nb: dict) -> str:
    parts = []
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            parts.append(fill(src.strip()))
            continue
        if "hide" in _directives(src):
            continue
        code = "\n".join(l for l in src.splitlines() if not l.startswith("#|")).strip()
        if code:
            parts.append(f"```python\n{code}\n```")
        for out in cell.get("outputs", []):
            text = out.get("text") or out.get("data", {}).get("text/plain")
            if text:
                parts.append("```\n" + "".join(text).rstrip() + "\n```")
    return "\n\n".join(p for p in parts if p) + "\n"


def main() -> int:
    readme = render(json.loads((ROOT / "nbs" / "index.ipynb").read_text()))
    (ROOT / "README.md").write_text(readme)
    return 0


if __name__ == "__main__":
    sys.exit(main())
