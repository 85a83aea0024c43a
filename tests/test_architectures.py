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

DECODERS = {"llama", "qwen2", "qwen3", "mistral", "gemma2", "gemma3", "phi3", "gpt2"}
FUSED = {"modernbert", "phi3", "gpt2"}     # q, k and v in one projection (and gate and up in one, for two of them)
PRUNABLE = {"bert", "roberta", "electra", "xlm_roberta", "distilbert", "deberta_v2", "modernbert"} | DECODERS
# DeBERTa-v2/v3 with relative attention and projections of its own for the positions (rows that follow the query heads)
DEBERTA_RELATIVE = dict(relative_attention=True, pos_att_type=["p2c", "c2p"], share_att_key=False, position_buckets=8)
SHARED = {"albert"}                  # one layer shared by every repeat: pruning it prunes every repeat
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
    assert PRUNABLE | SHARED == set(TINY_KINDS) and FUSED <= PRUNABLE


@pytest.mark.parametrize("kind", TINY_KINDS)
def test_each_family_takes_every_stage(folders, kind):
    check_recipe(recipe(folders[kind], ALL))


def test_what_a_shared_layer_cannot_take_is_refused_before_any_work(folders):
    "ALBERT repeats one layer: no layer to copy or remove, only repeats; heads and FFN neurons of the shared layer prune."
    with pytest.raises(ConfigError, match=r"recipe.student: albert repeats one shared layer.*student.layers, pick, hidden_size"):
        check_recipe(Recipe.from_dict(recipe(folders["albert"], ALL).to_dict() | dict(student=dict(num_layers=2, layers=[0, 3]))))
    with pytest.raises(ConfigError, match=r"recipe.prune.layers = 0.25: albert repeats one shared layer.*student.num_layers"):
        check_recipe(Recipe.from_dict(recipe(folders["albert"], ALL).to_dict() | dict(prune=dict(layers=0.25))))


def test_autoglm_run_refuses_with_exit_code_2_and_no_traceback(folders, tmp_path):
    r = subprocess.run([str(Path(sys.executable).with_name("autoglm")), "run", "--set", f"teacher.model={folders['albert']}",
                        "--set", "data.name=trec", "--set", "prune.layers=0.25", "--set", f"output_dir={tmp_path / 'runs'}"],
                       capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 2, r.stderr[-2000:]
    assert "recipe.prune.layers = 0.25: albert repeats one shared layer" in r.stderr + r.stdout
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("kind", sorted(PRUNABLE | SHARED) + ["deberta_v2-relative"])
def test_a_pruned_model_of_each_family_equals_its_masked_original_and_round_trips(kind, tmp_path):
    import copy
    import torch
    from autoglm_workbench.prune import Gates, load_pruned, prune_ffn, prune_heads, save_pruned
    torch.manual_seed(0)
    kind, extra = (kind.split("-")[0], DEBERTA_RELATIVE) if kind.endswith("-relative") else (kind, {})
    config = tiny_config(kind, num_labels=3, **extra, **({"pad_token_id": 0} if kind in DECODERS else {}))
    model = transformers.AutoModelForSequenceClassification.from_config(config, attn_implementation="eager").eval()
    group = getattr(config, "num_attention_heads", 4) // (getattr(config, "num_key_value_heads", None) or getattr(config, "num_attention_heads", 4))
    heads = {0: list(range(group)), 2: list(range(group, 2 * group))}     # whole key/value groups where heads share them
    ffn = {1: list(range(0, 64, 3)), 3: [5, 7]}
    if kind in SHARED: heads, ffn = {0: heads[0]}, {0: ffn[1]}             # one shared layer (view 0) serves every repeat
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


def test_a_family_pruning_does_not_know_is_saved_and_loaded_as_a_plain_folder(tmp_path):
    "save_pruned on a layout pruning does not know (MPNet's attention.attn.q/k/v) writes a plain folder transformers opens."
    import torch
    from autoglm_workbench.prune import save_pruned
    model = transformers.MPNetForSequenceClassification(transformers.MPNetConfig(
        vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, num_labels=3)).eval()
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


def test_importance_reads_fused_projections_by_their_roles():
    """Magnitude scores of Phi-3's fused qkv_proj / gate_up_proj equal a Llama's with the same weights split; GPT-2's
    Conv1D (weights stored inputs x outputs) against the norms taken by hand."""
    import torch
    from autoglm_workbench.importance import Magnitude
    torch.manual_seed(0)
    phi3 = transformers.AutoModelForCausalLM.from_config(tiny_config("phi3"))
    llama = transformers.AutoModelForCausalLM.from_config(tiny_config("llama", head_dim=8))
    q, kv, ffn = 4 * 8, 2 * 8, 64
    with torch.no_grad():
        for a, b in zip(phi3.model.layers, llama.model.layers):
            qkv, gate_up = a.self_attn.qkv_proj.weight, a.mlp.gate_up_proj.weight
            b.self_attn.q_proj.weight.copy_(qkv[:q]); b.self_attn.k_proj.weight.copy_(qkv[q:q + kv])
            b.self_attn.v_proj.weight.copy_(qkv[q + kv:]); b.self_attn.o_proj.weight.copy_(a.self_attn.o_proj.weight)
            b.mlp.gate_proj.weight.copy_(gate_up[:ffn]); b.mlp.up_proj.weight.copy_(gate_up[ffn:])
            b.mlp.down_proj.weight.copy_(a.mlp.down_proj.weight)
    fused, split = Magnitude()(phi3), Magnitude()(llama)
    for layer in range(4):
        torch.testing.assert_close(fused.heads[layer], split.heads[layer])
        torch.testing.assert_close(fused.ffn[layer], split.ffn[layer])

    gpt2 = transformers.AutoModelForCausalLM.from_config(tiny_config("gpt2"))
    block, hd = gpt2.transformer.h[1], 8
    c_attn, c_proj = block.attn.c_attn.weight, block.attn.c_proj.weight          # (32, 96) and (32, 32): inputs x outputs
    by_hand = [sum(c_attn[:, part * 32 + h * hd:part * 32 + (h + 1) * hd].pow(2).sum() for part in range(3))
               + c_proj[h * hd:(h + 1) * hd].pow(2).sum() for h in range(4)]
    torch.testing.assert_close(Magnitude()(gpt2).heads[1], torch.stack(by_hand).sqrt().detach())
    neuron = block.mlp.c_fc.weight[:, 7].pow(2).sum() + block.mlp.c_proj.weight[7].pow(2).sum()
    torch.testing.assert_close(Magnitude()(gpt2).ffn[1][7], neuron.sqrt().detach())


def test_an_albert_student_repeats_the_shared_layer_fewer_times(folders):
    import torch
    from autoglm_workbench.models import make_student
    teacher = transformers.AutoModelForSequenceClassification.from_pretrained(folders["albert"]).eval()
    student = make_student(teacher, num_layers=2).eval()
    assert student.config.num_hidden_layers == 2
    t, s = teacher.state_dict(), student.state_dict()
    assert t.keys() == s.keys() and all(torch.equal(t[k], s[k]) for k in t)      # the same weights, repeated twice
    ids = torch.randint(3, 128, (2, 8))
    with torch.no_grad():        # two repeats of the shared layer: the teacher's third hidden state, by another route
        assert torch.allclose(student(input_ids=ids, output_hidden_states=True).hidden_states[-1],
                              teacher(input_ids=ids, output_hidden_states=True).hidden_states[2], atol=1e-6)
    with pytest.raises(Exception, match="repeats one shared layer"):
        make_student(teacher, num_layers=2, layers=[0, 3])


@pytest.mark.parametrize("kind,heads,plain", [("llama", [0, 1], True), ("qwen3", [2, 3], True), ("gpt2", [], True),
                                              ("bert", [], True), ("bert", [1], False), ("bert", [1, 2], False),
                                              ("gpt2", [1], False)])
def test_a_folder_transformers_can_describe_opens_with_automodel(kind, heads, plain, tmp_path):
    """One head count and one FFN width for every layer, in a config that can say so (heads need a head_dim): a plain
    folder that AutoModelForSequenceClassification opens with the same logits. Otherwise a card names the loader."""
    import torch
    from autoglm_workbench.models import load_pretrained, resolve_model_path
    from autoglm_workbench.prune import prune_ffn, prune_heads, save_pruned
    torch.manual_seed(0)
    config = tiny_config(kind, num_labels=3, **({"pad_token_id": 0} if kind in DECODERS else {}))
    model = transformers.AutoModelForSequenceClassification.from_config(config).eval()
    prune_ffn(prune_heads(model, {layer: heads for layer in range(4)}), {layer: list(range(0, 20, 2)) for layer in range(4)})
    tok = transformers.AutoTokenizer.from_pretrained(resolve_model_path("minilm-l6"))      # load_pretrained opens both
    save_pruned(model, tmp_path / "pruned", tok)
    ids = torch.randint(3, 128, (2, 8))
    with torch.no_grad(): expected = model(input_ids=ids).logits
    assert (tmp_path / "pruned" / "README.md").exists() != plain
    if plain:
        back = transformers.AutoModelForSequenceClassification.from_pretrained(tmp_path / "pruned").eval()
        with torch.no_grad(): torch.testing.assert_close(back(input_ids=ids).logits, expected)
    else:
        assert "load_pretrained" in (tmp_path / "pruned" / "README.md").read_text()
    with torch.no_grad(): torch.testing.assert_close(load_pretrained(tmp_path / "pruned")[0](input_ids=ids).logits, expected)
