"""`task: causal-lm` through `pipeline.run`: a tiny Llama distilled, pruned (whole layers too), quantized and exported;
killed mid-training and resumed; refused before any work where a field does not apply to a decoder."""
import json
from pathlib import Path

import pandas as pd
import pytest
import torch
from transformers import AutoModelForCausalLM

from autoglm_workbench.core import ConfigError
from autoglm_workbench.lm import OnnxCausalLM
from autoglm_workbench.models import load_pretrained, load_tokenizer, tiny_config
from autoglm_workbench.pipeline import run
from autoglm_workbench.quant import Int8Linear
from autoglm_workbench.recipe import Recipe
from autoglm_workbench.store import RunStore
from test_pipeline import pipeline_process, stage_rows

DECODER = """
task: causal-lm
data: {{name: bbc-headlines, limit: 12, prompt_words: 30, max_length: 96, max_new_tokens: 6}}
teacher: {{model: {teacher}, train: {{epochs: 1, batch_size: 4, lr: 0.001}}}}
student: {{num_layers: 3}}
distill: {{eval_steps: 2, train: {{epochs: 2, batch_size: 4}}}}
prune: {{layers: 0.34, heads: 0.5, ffn: 0.3, scope: layer, examples: 8, recovery_epochs: 0.5}}
export: {{min_agreement: 0.5}}
bench: {{batch_sizes: [1, 4], warmup: 0, rounds: 1, repeats: 1}}
output_dir: runs
"""


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory):
    "A 4-layer Llama (grouped-query attention: 4 query heads, 2 key/value heads) with SmolLM2's tokenizer, in a folder."
    folder = tmp_path_factory.mktemp("decoder") / "tiny-llama"
    tok = load_tokenizer("smollm2-135m")
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(tiny_config("llama", vocab_size=tok.vocab_size, max_position_embeddings=512,
                                                         num_hidden_layers=4, architectures=["LlamaForCausalLM"]))
    assert (model.config.num_attention_heads, model.config.num_key_value_heads) == (4, 2)
    model.save_pretrained(folder); tok.save_pretrained(folder)
    return folder


@pytest.fixture
def tiny_decoder(tmp_path, tiny_llama):
    "The tiny Llama's recipe, `tiny.yaml` in the test's folder."
    (tmp_path / "tiny.yaml").write_text(DECODER.format(teacher=tiny_llama))
    return tiny_llama


def test_a_decoder_runs_every_stage_and_a_killed_run_resumes_to_the_same_report(tmp_path, tiny_decoder):
    whole = pipeline_process(tmp_path, tmp_path / "whole")
    assert whole.returncode == 0, whole.stderr[-3000:]
    run_dir = tmp_path / "killed"
    first = pipeline_process(tmp_path, run_dir, "1-distill", 5)        # after the checkpoint at step 4
    assert first.returncode == -9
    assert (run_dir / "work" / "1-distill" / "stage0-all" / "checkpoint-4" / "trainer_state.json").exists()
    second = pipeline_process(tmp_path, run_dir)
    assert second.returncode == 0, second.stderr[-3000:]

    a, b = stage_rows(tmp_path / "whole"), stage_rows(run_dir)
    assert list(a) == list(b) == ["teacher", "distill", "prune", "quantize", "export"]
    for stage in a:
        assert a[stage]["quality_metric"] == "rouge_l" and "accuracy" not in a[stage]
        for k in ("val_rouge_l", "rouge_l", "agreement", "perplexity", "parameters", "flops", "size_mb"):
            assert a[stage][k] == b[stage][k], (stage, k, a[stage][k], b[stage][k])
    assert a["teacher"]["agreement"] == 1.0 and a["teacher"]["rouge_l_retention"] in (None, 1.0)

    stages = Path(run_dir) / "stages"
    pruned = load_pretrained(stages / "2-prune" / "model", task="causal-lm")[0]
    assert pruned.config.num_hidden_layers == 2                         # one of the student's 3 layers removed
    assert all(l.self_attn.k_proj.out_features == l.self_attn.q_proj.out_features // 2 for l in pruned.model.layers)  # whole GQA groups
    assert len({(l.self_attn.q_proj.out_features, l.mlp.up_proj.out_features) for l in pruned.model.layers}) == 1   # scope: layer
    assert a["prune"]["removed"]["layers"] == 1 and a["prune"]["parameters"] < a["distill"]["parameters"]
    quantized = load_pretrained(stages / "3-quantize" / "model", task="causal-lm")[0]
    assert any(isinstance(m, Int8Linear) for m in quantized.modules())  # scheme 'auto': INT8 weights for a decoder
    assert a["quantize"]["size_mb"] < a["prune"]["size_mb"]
    deploy = json.loads((stages / "4-export" / "model" / "deploy.json").read_text())
    assert (deploy["runtime"], deploy["precision"], deploy["kv_cache"]) == ("onnxruntime", "int8", True)
    assert a["export"]["validation"]["prompts"] == 12 and a["export"]["perplexity"] is None    # ONNX: no logits over a target
    assert OnnxCausalLM(stages / "4-export" / "model" / "model.onnx").layers == 2
    report = json.loads((Path(run_dir) / "report.json").read_text())
    assert report["recipe"]["task"] == "causal-lm"
    recorded = RunStore(tmp_path / "runs" / "runs.db").stages()
    assert set(recorded.quality_metric) == {"rouge_l"} and recorded.rouge_l.notna().all()

    # the same stages shipped to llama.cpp instead: teacher to quantize copied from the finished run, the export written
    # as GGUF (Q8_0 after a quantize stage), read back and checked at every position; its speed is llama.cpp's to time
    gguf = Recipe.from_yaml(tmp_path / "tiny.yaml")
    gguf = Recipe.from_dict(gguf.to_dict() | dict(export=dict(runtime="gguf", min_agreement=0.9)))
    report = run(gguf, run_dir=tmp_path / "gguf", store=False, reuse=[tmp_path / "whole"], log=lambda *a: None)
    export = report.table.loc["export"]
    for stage in ("distill", "prune", "quantize"):
        assert report.table.loc[stage, "rouge_l"] == a[stage]["rouge_l"]          # copied, not trained again
    assert (export["runtime"], export["precision"]) == ("gguf", "q8_0")
    assert export["validation"]["top1_agreement"] >= 0.9 and export["validation"]["same_tokenizer"]
    assert pd.isna(export.get("latency_b1_ms")) and export["timing"].startswith("not timed")
    file = tmp_path / "gguf" / "stages" / "4-export" / "model" / "model.gguf"
    assert export["size_mb"] == pytest.approx(file.stat().st_size / 2**20) and export["size_mb"] < a["prune"]["size_mb"]


@pytest.mark.fast
@pytest.mark.parametrize("fields, message", [
    (dict(teacher=dict(model="minilm-l6")), "recipe.teacher.model = 'minilm-l6': a bert (BertModel), not a decoder"),
    (dict(data=dict(name="bbc-news")), "recipe.data.name = 'bbc-news' (recipe.task: causal-lm): 'bbc-news' is neither"),
    (dict(prune=dict(heads=0.8)), "recipe.prune.heads = 0.8: every layer keeps at least one key/value group (2 heads) of its 4 heads"),
    (dict(distill=dict(mgad_weight=0.5)), "recipe.distill.mgad_weight = 0.5: MGAD's sentence and paragraph levels"),
    (dict(export=dict(runtime="openvino")), "recipe.export.runtime = 'openvino': a causal LM is exported to onnxruntime"),
    (dict(budget=dict(risk_label="sport")), "recipe.budget.risk_label = 'sport': measured for classifiers only"),
])
def test_a_decoder_recipe_is_refused_before_any_work(tmp_path, tiny_decoder, fields, message):
    d = Recipe.from_yaml(tmp_path / "tiny.yaml").to_dict()
    for section, values in fields.items(): d[section] |= values
    with pytest.raises(ConfigError) as e:
        run(Recipe.from_dict(d), run_dir=tmp_path / "refused", store=False, log=lambda *a: None)
    assert message in str(e.value)
    assert not (tmp_path / "refused").exists() and not (tmp_path / "cache" / "teachers").exists()   # no folder, no teacher trained


@pytest.mark.fast
def test_a_student_picked_by_block_influence_leaves_out_the_layer_that_does_nothing(tmp_path, tiny_decoder):
    from autoglm_workbench.pipeline import recipe_data, recipe_student
    teacher, tok = load_pretrained(tiny_decoder, task="causal-lm")
    with torch.no_grad():      # a pre-norm layer with zero output projections leaves the residual stream as it is
        teacher.model.layers[2].self_attn.o_proj.weight.zero_(); teacher.model.layers[2].mlp.down_proj.weight.zero_()
    d = Recipe.from_yaml(tmp_path / "tiny.yaml").to_dict()
    r = Recipe.from_dict(d | dict(student=dict(num_layers=3, pick="influence")))
    student = recipe_student(r, teacher, recipe_data(r), tok)
    copied = [next(i for i, t in enumerate(teacher.model.layers) if torch.equal(s.mlp.up_proj.weight, t.mlp.up_proj.weight))
              for s in student.model.layers]
    assert copied == [0, 1, 3]
    spread = recipe_student(Recipe.from_dict(d | dict(student=dict(num_layers=3))), teacher)
    assert torch.equal(spread.model.layers[1].mlp.up_proj.weight, teacher.model.layers[2].mlp.up_proj.weight)   # 0, 2, 3
    with pytest.raises(ConfigError, match="pick = 'influence' ranks the teacher's layers on training examples"):
        recipe_student(r, teacher)



@pytest.mark.fast
def test_sequence_level_kd_trains_distillation_and_recovery_on_the_teachers_outputs(tmp_path, tiny_decoder, monkeypatch):
    from autoglm_workbench import pipeline
    from autoglm_workbench.lm import greedy_outputs
    teacher, tok = load_pretrained(tiny_decoder, task="causal-lm")
    d = Recipe.from_yaml(tmp_path / "tiny.yaml").to_dict()
    r = Recipe.from_dict(d | dict(distill=d["distill"] | dict(targets="teacher")))
    data = pipeline.recipe_data(r)
    seen = []
    monkeypatch.setattr(pipeline, "distill_student", lambda teacher, student, tokenizer, data, recipe, **kw: seen.append(data) or student)
    ctx = pipeline.RunContext(r, data, teacher, tok)
    pipeline._distill(None, ctx, tmp_path / "work", tmp_path / "distill")
    student = load_pretrained(tmp_path / "distill" / "model", task="causal-lm")[0]
    pipeline._prune(pipeline.StageState(student, student, tok), ctx, tmp_path / "work-prune", tmp_path / "prune")
    _, made = greedy_outputs(teacher, tok, data.train.prompts, max_new_tokens=6)
    expected = [(p, t) for p, t in zip(data.train.prompts, made) if t]
    assert len(seen) == 2 and expected and expected != list(zip(data.train.prompts, data.train.targets))
    for learned in seen:                                   # distillation, then the pruned model's recovery
        assert list(zip(learned.train.prompts, learned.train.targets)) == expected
        assert learned.validation == data.validation       # the checkpoint is still chosen on the references


@pytest.mark.fast
def test_smoothquant_before_token_int8_is_what_the_quantize_stage_saves(tmp_path, tiny_decoder):
    from autoglm_workbench import pipeline
    from autoglm_workbench.quant import quantize
    from autoglm_workbench.smooth import smooth_quant
    teacher, tok = load_pretrained(tiny_decoder, task="causal-lm")
    d = Recipe.from_yaml(tmp_path / "tiny.yaml").to_dict()
    r = Recipe.from_dict(d | dict(quantize=dict(scheme="token-int8", smooth_alpha=0.8, calibration_examples=8)))
    data = pipeline.recipe_data(r)
    pipeline._quantize(pipeline.StageState(teacher, teacher, tok), pipeline.RunContext(r, data, teacher, tok),
                       tmp_path / "work", tmp_path / "quantize")
    saved = load_pretrained(tmp_path / "quantize" / "model", task="causal-lm")[0].eval()
    calibration = pipeline.importance_batches(r, data, tok, 8)              # the first 8 training pairs
    probe = {k: v for k, v in calibration[0].items() if k in ("input_ids", "attention_mask")}
    with torch.no_grad():
        got = saved(**probe).logits
        smoothed = quantize(smooth_quant(teacher, calibration, alpha=0.8), "token-int8")(**probe).logits
        plain = quantize(teacher, "token-int8")(**probe).logits
    torch.testing.assert_close(got, smoothed, rtol=0, atol=1e-5)
    assert (got - plain).abs().max() > 1e-3             # the scales were folded in: not the unsmoothed INT8 model
