"""Fixtures for the GPU suite (`pytest -m gpu`): a real vLLM engine on a real GPU.

Run on the lent H100/H200 with the bundle of ../shared/gpu/README.md on
PYTHONPATH (and VLLM_USE_FLASHINFER_SAMPLER=0). Real small weights come from
the SmolLM2-135M-Instruct GGUF in data/models, converted once per session into
a Hugging Face folder (vLLM 0.25 has no GGUF loader). Every test shares one
engine on one event loop, as the web app does.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/gpu/" in str(item.fspath):
            item.add_marker(pytest.mark.gpu)


@pytest.fixture(scope="session")
def require_gpu():
    import importlib.util

    import torch

    if not torch.cuda.is_available():
        pytest.fail("the gpu suite needs a CUDA GPU (torch.cuda.is_available() is False)")
    if importlib.util.find_spec("vllm") is None:
        pytest.fail("the gpu suite needs vLLM importable: put the bundle on PYTHONPATH (../shared/gpu/README.md)")


@pytest.fixture(scope="session")
def smol_folder(require_gpu, models_dir: Path, tmp_path_factory) -> Path:
    from inference.gguf_convert import gguf_to_hf_folder

    return gguf_to_hf_folder(models_dir / GGUF, tmp_path_factory.mktemp("smol-hf"))


def llama_8b_dummy_folder(target: Path, tokenizer_from: Path) -> Path:
    """An 8B-shaped Llama folder (config + tokenizer only) for load_format="dummy"."""
    target.mkdir(parents=True, exist_ok=True)
    for f in tokenizer_from.iterdir():
        if f.name.startswith(("tokenizer", "special_tokens", "vocab", "merges", "chat_template")):
            shutil.copy(f, target / f.name)
    vocab = json.loads((tokenizer_from / "config.json").read_text())["vocab_size"]
    (target / "config.json").write_text(json.dumps({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096,
        "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
        "num_key_value_heads": 8, "head_dim": 128, "vocab_size": vocab, "max_position_embeddings": 8192,
        "rms_norm_eps": 1e-5, "rope_theta": 500000.0, "hidden_act": "silu", "torch_dtype": "bfloat16",
        "tie_word_embeddings": False, "bos_token_id": 1, "eos_token_id": 2,
    }))
    return target


@pytest.fixture
def dummy_8b_folder(smol_folder, tmp_path) -> Path:
    return llama_8b_dummy_folder(tmp_path / "llama-8b", smol_folder)


@pytest.fixture(scope="module")
def loop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def smol_generator(smol_folder, loop):
    from inference.vllm_config import VllmConfig
    from inference.vllm_engine import VllmGenerator

    gen = VllmGenerator(VllmConfig(model=smol_folder, max_model_len=4096, gpu_memory_utilization=0.5,
                                   enforce_eager=True))
    loop.run_until_complete(gen.start())
    yield gen
    loop.run_until_complete(gen.aclose())
