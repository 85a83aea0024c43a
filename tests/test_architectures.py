"""A user's model of any common family, as a `save_pretrained` folder: `check_recipe` accepts the stages its layout
can take and refuses the others before any work, naming the stage, the family and what still applies."""
import subprocess
import sys
from pathlib import Path

import pytest
import transformers

from autoglm_workbench.core import ConfigError
from autoglm_workbench.models import TINY_KINDS, tiny_config
from autoglm_workbench.pipeline import check_recipe
from autoglm_workbench.recipe import Recipe

PRUNABLE = {"bert", "roberta", "electra", "xlm_roberta", "distilbert", "llama", "qwen2", "mistral"}
NO_PRUNING = {"deberta_v2", "modernbert", "gpt2"}       # layouts structured pruning does not know yet
NO_LAYER_COPY = {"albert"}                                            # one layer shared by every repeat
ALL = ["distill", "prune", "quantize", "export"]
pytestmark = pytest.mark.fast


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("families")
    out = {}
    for kind in TINY_KINDS:
        model = transformers.AutoModelForSequenceClassification.from_config(tiny_config(kind, num_labels=6))
        model.save_pretrained(root / kind)
        out[kind] = root / kind
    return out


def recipe(folder, stages):
    return Recipe.from_dict(dict(data=dict(name="trec"), teacher=dict(model=str(folder)), student=dict(num_layers=2),
                                 stages=stages))


def test_every_family_is_placed():
    assert PRUNABLE | NO_PRUNING | NO_LAYER_COPY == set(TINY_KINDS)


@pytest.mark.parametrize("kind", TINY_KINDS)
def test_each_family_gets_the_stages_its_layout_can_take(folders, kind):
    if kind in PRUNABLE:
        check_recipe(recipe(folders[kind], ALL))
    elif kind in NO_PRUNING:
        model_type = tiny_config(kind).model_type
        with pytest.raises(ConfigError, match=rf"'prune' does not know where {model_type}'s heads .* leave 'prune' out: "
                                              "distill, quantize and export still apply"):
            check_recipe(recipe(folders[kind], ALL))
        check_recipe(recipe(folders[kind], ["distill", "quantize", "export"]))
    else:
        with pytest.raises(ConfigError, match=r"'distill' builds its student from teacher layers, which albert does not "
                                              r"lay out as one stack .*recipe\.student\.model"):
            check_recipe(recipe(folders[kind], ALL))


def test_autoglm_run_refuses_with_exit_code_2_and_no_traceback(folders, tmp_path):
    r = subprocess.run([str(Path(sys.executable).with_name("autoglm")), "run", "--set", f"teacher.model={folders['gpt2']}",
                        "--set", "data.name=trec", "--set", f"output_dir={tmp_path / 'runs'}"],
                       capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 2, r.stderr[-2000:]
    assert "'prune' does not know where gpt2's heads" in r.stderr + r.stdout
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("kind", sorted(PRUNABLE))
def test_a_pruned_model_of_each_family_equals_its_masked_original_and_round_trips(kind, tmp_path):
    import copy
    import torch
    from autoglm_workbench.prune import Gates, load_pruned, prune_ffn, prune_heads, save_pruned
    torch.manual_seed(0)
    config = tiny_config(kind, num_labels=3, **({"pad_token_id": 0} if kind in ("llama", "qwen2", "mistral") else {}))
    model = transformers.AutoModelForSequenceClassification.from_config(config, attn_implementation="eager").eval()
    group = getattr(config, "num_attention_heads", 4) // (getattr(config, "num_key_value_heads", None) or config.num_attention_heads)
    heads = {0: list(range(group)), 2: list(range(group, 2 * group))}     # whole key/value groups where heads share them
    ffn = {1: list(range(0, 64, 3)), 3: [5, 7]}
    ids = torch.randint(3, 128, (2, 10))
    with torch.no_grad(), Gates(model).zero(heads, ffn):
        masked = model(input_ids=ids).logits
    pruned = prune_ffn(prune_heads(copy.deepcopy(model), heads), ffn)
    with torch.no_grad():
        torch.testing.assert_close(pruned(input_ids=ids).logits, masked, atol=1e-5, rtol=1e-4)
    save_pruned(pruned, tmp_path / kind)
    back = load_pruned(tmp_path / kind, attn_implementation="eager")
    with torch.no_grad():
        torch.testing.assert_close(back(input_ids=ids).logits, pruned(input_ids=ids).logits, atol=1e-5, rtol=1e-4)


def test_a_family_pruning_does_not_know_is_saved_and_loaded_as_a_plain_folder(folders, tmp_path):
    "The distill stage saves its student with save_pruned; for DeBERTa-v2 that is a plain folder transformers opens."
    import torch
    from autoglm_workbench.prune import save_pruned
    model = transformers.AutoModelForSequenceClassification.from_pretrained(folders["deberta_v2"]).eval()
    save_pruned(model, tmp_path / "student")
    assert "autoglm_pruned" not in (tmp_path / "student" / "config.json").read_text()
    ids = torch.randint(3, 128, (2, 8))
    back = transformers.AutoModelForSequenceClassification.from_pretrained(tmp_path / "student").eval()
    with torch.no_grad(): torch.testing.assert_close(back(input_ids=ids).logits, model(input_ids=ids).logits)


def test_a_decoder_classifier_without_a_pad_token_classifies_batches(tmp_path):
    "GPT-2 classifiers usually come without pad_token_id, and transformers refuses any batch of two texts without it."
    from autoglm_workbench.models import load_pretrained, predict_logits, resolve_model_path
    tok = transformers.AutoTokenizer.from_pretrained(resolve_model_path("minilm-l6"))
    model = transformers.AutoModelForSequenceClassification.from_config(tiny_config("gpt2", vocab_size=tok.vocab_size, num_labels=3))
    assert model.config.pad_token_id is None
    model.save_pretrained(tmp_path / "gpt2"); tok.save_pretrained(tmp_path / "gpt2")
    loaded, tokenizer = load_pretrained(tmp_path / "gpt2")
    assert loaded.config.pad_token_id == tokenizer.pad_token_id
    assert predict_logits(loaded, tokenizer, ["one text", "and a longer second one"], max_length=16).shape == (2, 3)
