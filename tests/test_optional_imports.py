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
