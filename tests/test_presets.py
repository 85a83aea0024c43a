"""Industry presets: listed, printed as recipes that read back, and run under their budget on tiny configs."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml
from transformers import AutoTokenizer

from autoglm_workbench.recipe import Recipe
from autoglm_workbench.models import predict_logits
from autoglm_workbench.pipeline import load_stage, recipe_data, StageState
from autoglm_workbench.presets import PRESETS, preset_recipe, run_budgeted

TINY = dict(data=dict(limit=40, max_length=16), teacher=dict(train=dict(epochs=1.0, lr=2e-4)),
            distill=dict(eval_steps=None, train=dict(epochs=1.0)), bench=dict(warmup=0, rounds=1, repeats=1))


def autoglm(*args, cwd):
    exe = Path(sys.executable).with_name("autoglm")
    return subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True, timeout=900)


def test_preset_commands(tmp_path):
    listed = autoglm("preset", "list", cwd=tmp_path)
    assert listed.returncode == 0 and [l.split()[0] for l in listed.stdout.splitlines()] == list(PRESETS)
    shown = autoglm("preset", "show", "finance-risk", cwd=tmp_path)
    assert shown.returncode == 0 and Recipe.from_dict(yaml.safe_load(shown.stdout)) == preset_recipe("finance-risk")
    wrong = autoglm("run", "--preset", "finance", cwd=tmp_path)
    assert wrong.returncode == 2 and "did you mean finance-risk" in wrong.stderr


def test_finance_risk_reports_recall_at_fixed_fpr(tmp_path):
    recipe = preset_recipe("finance-risk", TINY | dict(prune=dict(examples=16, recovery_epochs=0), output_dir=str(tmp_path)))
    result = run_budgeted(recipe, run_dir=tmp_path / "run", store=False, log=lambda *_: None)
    m = result["chosen"]["measured"]
    assert m["stage"] == "export"
    # recall and false-positive rate counted again from the exported model's test scores and the chosen threshold
    folder = Path(json.loads((tmp_path / "run" / "report.json").read_text())["stages"][-1]["artifact"]).parent
    tok = AutoTokenizer.from_pretrained(folder / "model")
    model, data = load_stage("export", folder, StageState(None, None, tok)).model, recipe_data(recipe)
    k = data.label_names.index(recipe.budget.risk_label)
    flagged = predict_logits(model, tok, data.test.texts, max_length=16).softmax(-1)[:, k].numpy() > m["risk_threshold"]
    risky = np.asarray(data.test.labels) == k
    assert abs(m["risk_recall"] - flagged[risky].sum() / risky.sum()) < 1e-9
    assert abs(m["risk_fpr"] - flagged[~risky].sum() / (~risky).sum()) < 1e-9
    assert m["p99_latency_b1_ms"] >= m["median_latency_b1_ms"] > 0
    items = {c["item"]: c for c in result["chosen"]["checks"]}
    assert set(items) == {"risk_recall", "p99_latency_b1_ms", "speedup_b1"}
    assert items["risk_recall"]["met"] == (m["risk_recall"] >= 0.85)
    assert json.loads((tmp_path / "run" / "budget.json").read_text())["claimed_speedup"] == 3.2


def test_customer_service_reports_throughput(tmp_path):
    recipe = preset_recipe("customer-service", TINY | dict(output_dir=str(tmp_path)))
    result = run_budgeted(recipe, run_dir=tmp_path / "run", store=False, log=lambda *_: None)
    m = result["chosen"]["measured"]
    assert m["stage"] == "quantize" and m["throughput_b32"] > 0
    last = json.loads((tmp_path / "run" / "report.json").read_text())["stages"][-1]
    assert abs(m["throughput_b32"] - 32 / (last["latency_b32_ms"] / 1e3) / m["threads"]) < 1e-6 * m["throughput_b32"]


def test_edge_qc_search_picks_a_shape_within_the_budget(tmp_path):
    # two shapes; a disk budget between their sizes: only the smaller may be chosen, whatever its accuracy
    recipe = preset_recipe("edge-qc", TINY | dict(output_dir=str(tmp_path), budget=dict(size_mb=4.5, peak_rss_mb=400.0)))
    result = run_budgeted(recipe, search={"student.num_layers": [1], "student.hidden_size": [96, 192]},
                          run_dir=tmp_path / "run", store=False, log=lambda *_: None)
    sizes = {c["fields"]["student.hidden_size"]: c["measured"]["size_mb"] for c in result["candidates"]}
    assert sizes[96] <= 4.5 < sizes[192], sizes
    assert result["chosen"]["fields"]["student.hidden_size"] == 96 and result["met"] == result["chosen"]["met"]
    served = result["chosen"]["measured"]
    assert served["stage"] == "export" and 0 < served["peak_rss_mb"] < 400     # ONNX Runtime alone, no PyTorch
