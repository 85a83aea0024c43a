"""The bundled teacher loads with no network, and a hub id fails at once instead of trying to download."""
import socket
import time

import pytest
import torch

from autoglm_workbench.core import ModelNotFoundError
from autoglm_workbench.models import load_pretrained, resolve_model_path


@pytest.fixture
def no_network(monkeypatch):
    "Any attempt to open a connection fails the test."
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_bundled_model_loads_offline(no_network):
    model, tokenizer = load_pretrained("minilm-l6", task="base")
    assert resolve_model_path("minilm-l6").name == "model"
    enc = tokenizer(["The quarterly profits rose."], return_tensors="pt")
    with torch.no_grad():
        out = model(**enc)
    assert out.last_hidden_state.shape == (1, enc["input_ids"].shape[1], 384)


@pytest.mark.parametrize("hub_id", ["sentence-transformers/all-MiniLM-L6-v2", "bert-base-uncased"])
def test_hub_id_fails_fast_without_network(no_network, monkeypatch, hub_id):
    monkeypatch.delenv("HF_HUB_OFFLINE")  # even with the hub nominally on, nothing is fetched
    t0 = time.perf_counter()
    with pytest.raises(ModelNotFoundError, match="never downloads from a model hub"):
        load_pretrained(hub_id)
    assert time.perf_counter() - t0 < 2.0


def test_local_folder_round_trip(tmp_path, no_network):
    model, tokenizer = load_pretrained("minilm-l6", num_labels=3, label_names=["a", "b", "c"])
    model.save_pretrained(tmp_path / "mine")
    tokenizer.save_pretrained(tmp_path / "mine")
    again, _ = load_pretrained(tmp_path / "mine")
    assert again.config.id2label == {0: "a", 1: "b", 2: "c"}
    for (k, a), b in zip(model.state_dict().items(), again.state_dict().values()):
        assert torch.equal(a, b), k


@pytest.mark.slow
def test_gguf_teacher_loads_offline(no_network):
    "The causal-LM teacher ships as GGUF in a registry package: dequantized into the cache once, then loaded offline."
    model, tokenizer = load_pretrained("smollm2-135m", task="causal-lm")
    assert (resolve_model_path("smollm2-135m") / "model.safetensors").exists()
    assert model.config.num_hidden_layers == 30 and model.config.num_key_value_heads == 3
    ids = tokenizer.apply_chat_template([{"role": "user", "content": "Say hello."}], add_generation_prompt=True,
                                        return_tensors="pt", return_dict=True)
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=3, do_sample=False)
    assert out.shape[1] == ids["input_ids"].shape[1] + 3 or tokenizer.eos_token_id in out[0].tolist()
