import pytest


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    "Every test gets its own empty cache folder and the hub switched off."
    monkeypatch.setenv("AUTOGLM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    yield


# Modules whose tests train models, start servers or browsers, or run whole scripts: `make check` leaves them to
# `make test`. A quick test among them carries @pytest.mark.fast.
SLOW_MODULES = {"test_bench_smoke", "test_browser_docs", "test_browser_lab", "test_cli", "test_compare", "test_distributed",
                "test_serve", "test_teacher_as_is", "test_decoder_pipeline",
                "test_pipeline", "test_presets", "test_runs", "test_store"}


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: trains models, starts servers or browsers, runs scripts (make test only)")
    config.addinivalue_line("markers", "fast: a quick test in a slow module (make check runs it)")


def pytest_collection_modifyitems(items):
    for item in items:
        if item.module.__name__.rsplit(".", 1)[-1] in SLOW_MODULES and not item.get_closest_marker("fast"):
            item.add_marker(pytest.mark.slow)
