"""The package imports and reports TensorRT's absence clearly when tensorrt (and Jupyter) are not installed."""
import subprocess
import sys
import textwrap


def run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300)


def test_package_imports_without_tensorrt_or_panels():
    r = run("""
        import sys
        for blocked in ("tensorrt", "ipywidgets", "altair"): sys.modules[blocked] = None   # import fails
        import autoglm_workbench.core, autoglm_workbench.data, autoglm_workbench.models, autoglm_workbench.losses
        import autoglm_workbench.align, autoglm_workbench.mgad, autoglm_workbench.distill, autoglm_workbench.prune
        import autoglm_workbench.quant, autoglm_workbench.export, autoglm_workbench.bench, autoglm_workbench.cli
        from autoglm_workbench.export import TensorRTModel, TensorRTUnavailable, tensorrt_missing
        why = tensorrt_missing()
        assert why is not None and "tensorrt package is not installed" in why, why
        try:
            TensorRTModel("model.engine")
        except TensorRTUnavailable as e:
            print("raised:", e)
        else:
            raise AssertionError("TensorRTModel ran without TensorRT")
    """)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "raised: TensorRT is unavailable: the tensorrt package is not installed" in r.stdout


def test_without_openvino_the_auto_runtime_skips_it_and_a_recipe_naming_it_is_refused():
    r = run("""
        import sys
        for blocked in ("openvino", "nncf"): sys.modules[blocked] = None   # import fails
        from autoglm_workbench.openvino_export import openvino_missing
        from autoglm_workbench.runtimes import runtime_candidates
        from autoglm_workbench.pipeline import check_recipe
        from autoglm_workbench.recipe import Recipe
        from autoglm_workbench.core import ConfigError
        assert "OpenVINO is not installed" in openvino_missing(), openvino_missing()
        rows = runtime_candidates(features=["avx2"])
        skipped = {(c["runtime"], c["precision"]) for c in rows if c["skip"] and "OpenVINO is not installed" in c["skip"]}
        assert skipped == {("openvino", p) for p in ("fp32", "bf16", "int8", "int8-weights")}, rows
        assert all(c["skip"] is None for c in rows if c["runtime"] == "onnxruntime"), rows
        try:
            check_recipe(Recipe.from_dict(dict(stages=["export"], export=dict(runtime="openvino"))))
        except ConfigError as e:
            print("refused:", e)
    """)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "refused: recipe.export.runtime = 'openvino': OpenVINO is not installed" in r.stdout, r.stdout


def test_a_chart_is_drawn_and_checked_without_compiling_the_iri_grammars():
    r = run("""
        import sys, time
        t0 = time.perf_counter()
        import autoglm_workbench
        import altair as alt
        spec = alt.Chart(alt.Data(values=[{"x": 1}])).mark_point().encode(x="x:Q").to_dict(validate=True)
        assert spec["mark"]["type"] == "point", spec
        assert sys.modules.get("rfc3987_syntax") is None, "rfc3987_syntax was imported"
        print(f"{time.perf_counter() - t0:.2f} s")
    """)
    assert r.returncode == 0, r.stderr[-2000:]
