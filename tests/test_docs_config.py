"""Set-up pieces of the docs and Lab that no notebook runs."""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import docs  # noqa: E402
from lab import lab_command  # noqa: E402


def test_quarto_config_in_step():
    "The root copy (the layout's) and nbs/ (where nbdev 2 reads it) say the same, so `nbdev_docs` builds what we ship."
    assert (ROOT / "_quarto.yml").read_text() == (ROOT / "nbs" / "_quarto.yml").read_text()


def test_lab_listens_on_loopback_with_a_token():
    cmd = lab_command(ROOT, 8899, "secret")
    assert "--ServerApp.ip=127.0.0.1" in cmd and "--IdentityProvider.token=secret" in cmd
    with pytest.raises(SystemExit, match="without a token"):
        lab_command(ROOT, 8899, "")


def test_nbdev_directives_become_tags():
    nb = {"cells": [
        {"cell_type": "code", "source": "#| default_exp losses", "metadata": {}},
        {"cell_type": "code", "source": "#| export\ndef kd(x):\n    return x\ndef _helper(): pass\nclass Term: pass", "metadata": {}},
        {"cell_type": "code", "source": "#| hide\nimport os", "metadata": {}},
        {"cell_type": "code", "source": "#| slow\ntrain()", "metadata": {}},
        {"cell_type": "code", "source": "#| echo: false\nshow()", "metadata": {}},
        {"cell_type": "markdown", "source": "# Title", "metadata": {}}]}
    cells = docs.convert(nb, "10_kd_loss")["cells"]
    code = [(c["source"], c["metadata"].get("tags", [])) for c in cells if c["cell_type"] == "code"]
    assert code[0] == (docs.SHOW_DOC, ["remove-cell"])                         # show_doc, defined unseen
    assert code[1] == ("def kd(x):\n    return x\ndef _helper(): pass\nclass Term: pass", [])
    assert code[2:4] == [("show_doc(kd)", ["remove-input"]), ("show_doc(Term)", ["remove-input"])]   # public names, one a cell
    assert code[4:] == [("import os", ["remove-cell"]), ("train()", ["skip-execution"]), ("show()", ["remove-input"])]
    assert cells[-1]["source"].startswith("## What you can tune here")        # the chapter points to its panel
