"""The README's figures are placeholders filled from bench/results/*.json by tools/readme.py."""
import importlib.util
import json
from pathlib import Path

import pytest

spec = importlib.util.spec_from_file_location("readme", Path(__file__).parent.parent / "tools" / "readme.py")
readme = importlib.util.module_from_spec(spec)
spec.loader.exec_module(readme)


@pytest.fixture
def results(tmp_path, monkeypatch):
    monkeypatch.setattr(readme, "RESULTS", tmp_path)
    (tmp_path / "distill.json").write_text(json.dumps(dict(
        distilled=dict(retention=0.98765), features=["avx2", "amx_int8"], models=[dict(model="teacher", accuracy=0.991, parameters=22_700_000,
                                                         size_mb=86.7, latency_b1_ms=32.94, speedup_b1=1.0,
                                                         latency_b32_ms=626.9, speedup_b32=1.0)])))
    return tmp_path


def test_values_and_tables_come_from_the_json(results):
    assert readme.fill("kept {{distill:distilled.retention:.1%}} of it") == "kept 98.8% of it"
    assert readme.fill("{{distill:models.model=teacher.accuracy}}") == "0.991"          # list items by key
    assert readme.fill("{{distill:features}}") == "avx2, amx_int8"                       # a list of values, joined
    table = readme.fill("{{table:demo}}").splitlines()
    assert table[0].startswith("| model | accuracy %") and table[2] == "| teacher | 99.1 | 22.7 | 86.7 | 32.9 | 1.00× | 626.9 | 1.00× |"


@pytest.mark.parametrize("text, message", [("{{distill:distilled.speedup}}", "has no 'speedup'"),
                                           ("{{nope:x}}", "nope.json, which does not exist"),
                                           ("{{table:nope}}", "no such table"),
                                           ("{{distill:models.0.model}}", "addresses a list by position"),
                                           ("{{distill:models.model=student.accuracy}}", "0 items .* match 'model=student'")])
def test_a_placeholder_without_a_source_stops_the_build(results, text, message):
    with pytest.raises(SystemExit, match=message):
        readme.fill(text)
