"""Every benchmark script runs: `python bench/X.py --smoke` (a tiny recipe, temporary folders) exits 0 and writes a
results JSON that says which commit and command made it. A script broken by a renamed keyword fails here, not months
later when someone regenerates a README figure."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted(p.stem for p in (ROOT / "bench").glob("*.py"))
# A script whose smoke run is part of another test: that test opens what the script needs (JupyterLab and the tour
# for bench/panels.py) and times it with the script's own functions, so it is not started twice.
RUN_BY = {"panels": ROOT / "tests" / "test_browser_lab.py"}
# Flags a smoke run adds, where they take a script through more of its code (lm.py: the INT8 stage after each method).
FLAGS = {"lm": ["--quantize", "token-int8", "--smooth-alpha", "0.8"]}


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    "One cache for every script: the smoke recipe's teacher is fine-tuned once, as a user's cache would hold it."
    return tmp_path_factory.mktemp("smoke-cache")


@pytest.mark.fast
def test_every_script_is_tested():
    assert set(SCRIPTS) >= {"compare", "distill", "gpu", "lm", "lm_depth", "lm_gguf", "lm_gguf_shapes", "lm_int8", "lm_recipe", "mgad", "overhead", "panels", "pipeline", "presets",
                            "prune", "quant", "search"}, SCRIPTS
    for script, test in RUN_BY.items():
        assert f'"bench" / "{script}.py"' in test.read_text(), f"{test.name} no longer runs bench/{script}.py"


@pytest.mark.parametrize("script", sorted(set(SCRIPTS) - set(RUN_BY)))
def test_smoke(script, tmp_path, shared_cache):
    out = tmp_path / f"{script}.json"
    env = os.environ | dict(AUTOGLM_CACHE=str(shared_cache), HF_HUB_OFFLINE="1")
    flags = ["--smoke", "--out", str(out), *FLAGS.get(script, [])]
    r = subprocess.run([sys.executable, str(ROOT / "bench" / f"{script}.py"), *flags],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, f"bench/{script}.py --smoke failed:\n{r.stderr[-4000:]}"
    results = json.loads(out.read_text())
    assert results["smoke"] is True
    assert results["command"] == " ".join(["python", f"bench/{script}.py", *flags])
    assert len(results["commit"]) == 40 and results["environment"]["cpu_count"] >= 1
    if script == "lm":      # the INT8 stage ran after every method: a smaller model, scored on validation beside its float one
        assert results["quantize"] == dict(scheme="token-int8", smooth_alpha=0.8)
        assert all(m["size_mb"] < m["float"]["size_mb"] and m["val_perplexity"] > 0 < m["float"]["val_perplexity"]
                   for m in results["methods"]), results["methods"]


@pytest.mark.fast
@pytest.mark.parametrize("script, flag, value", [("lm_gguf", "--rounds", "0"), ("lm_gguf_shapes", "--prompts", "-3"),
                                                 ("lm_gguf_shapes", "--threads", "two")])
def test_llama_cpp_timing_flags_refuse_what_cannot_be_timed(script, flag, value):
    r = subprocess.run([sys.executable, str(ROOT / "bench" / f"{script}.py"), flag, value], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and f"argument {flag}: '{value}': give a whole number, at least 1" in r.stderr, r.stderr[-1500:]
