"""The vLLM backend as far as it runs without a GPU: settings, fit checks, errors, request plumbing.

No engine is faked here. What needs the engine (start, streaming, batching,
abort) is in tests/gpu and runs on a GPU machine with vLLM installed.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from inference.types import (
    GeneratorConfigError,
    GeneratorError,
    GeneratorUnavailableError,
    ModelDoesNotFitError,
)
from inference.vllm_config import GIB, VllmConfig, check_fits, estimate_memory, translate_start_error

HAS_VLLM = importlib.util.find_spec("vllm") is not None

LLAMA_8B = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096,
    "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
    "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 128256, "max_position_embeddings": 131072,
    "torch_dtype": "bfloat16", "tie_word_embeddings": False,
}


def model_folder(tmp_path: Path, config: dict = LLAMA_8B, tokenizer: bool = True) -> Path:
    folder = tmp_path / "llama-8b"
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config))
    if tokenizer:
        (folder / "tokenizer_config.json").write_text("{}")
    return folder


def test_settings_map_onto_engine_arguments(make_settings, tmp_path):
    folder = model_folder(tmp_path)
    settings = make_settings(
        generator_model=str(folder), vllm_dtype="bfloat16", vllm_quantization="fp8",
        generator_max_model_len=8192, vllm_gpu_memory_utilization=0.8, vllm_tensor_parallel_size=2,
        vllm_max_num_seqs=64,
    )
    kwargs = VllmConfig.from_settings(settings).engine_kwargs()
    assert kwargs == {
        "model": str(folder), "tokenizer": str(folder), "dtype": "bfloat16", "quantization": "fp8",
        "max_model_len": 8192, "gpu_memory_utilization": 0.8, "tensor_parallel_size": 2,
        "load_format": "auto", "enforce_eager": False, "seed": 0, "enable_log_requests": False,
        "max_num_seqs": 64,
    }
    assert "enable_log_requests" not in VllmConfig.from_settings(settings).engine_kwargs(for_async=False)


@pytest.mark.parametrize(
    "field, value",
    [("vllm_gpu_memory_utilization", 0.0), ("vllm_gpu_memory_utilization", 1.5), ("vllm_tensor_parallel_size", 0),
     ("vllm_quantization", "int3"), ("vllm_dtype", "int8"), ("generator_max_model_len", 16)],
)
def test_settings_reject_values_vllm_would_refuse(make_settings, field, value):
    with pytest.raises(ValidationError):
        make_settings(**{field: value})


def test_a_gguf_file_is_refused_with_the_way_out(gguf_path):
    with pytest.raises(GeneratorConfigError, match="convert-gguf"):
        VllmConfig(model=gguf_path).validate()


def test_a_folder_without_config_or_tokenizer_is_refused(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(GeneratorConfigError, match="config.json"):
        VllmConfig(model=empty).validate()
    with pytest.raises(GeneratorConfigError, match="tokenizer"):
        VllmConfig(model=model_folder(tmp_path, tokenizer=False)).validate()


def test_context_beyond_the_model_and_uneven_tensor_parallel_are_refused(tmp_path):
    folder = model_folder(tmp_path)
    with pytest.raises(GeneratorConfigError, match="max_position_embeddings"):
        VllmConfig(model=folder, max_model_len=200_000).validate()
    with pytest.raises(GeneratorConfigError, match="does not divide"):
        VllmConfig(model=folder, tensor_parallel_size=3).validate()
    assert VllmConfig(model=folder, max_model_len=8192).validate()["hidden_size"] == 4096


def test_memory_estimate_matches_a_known_8b_model(tmp_path):
    est = estimate_memory(LLAMA_8B, VllmConfig(model=tmp_path, max_model_len=8192))
    assert 14.5 < est.weight_bytes / GIB < 15.5  # Llama-3.1-8B: 8.03 B parameters in bf16 = 14.96 GiB
    assert est.kv_bytes_per_token == 2 * 32 * 8 * 128 * 2  # K and V, 32 layers, 8 KV heads, bf16
    fp8 = estimate_memory(LLAMA_8B, VllmConfig(model=tmp_path, quantization="fp8"))
    tp2 = estimate_memory(LLAMA_8B, VllmConfig(model=tmp_path, tensor_parallel_size=2))
    assert fp8.weight_bytes == pytest.approx(est.weight_bytes / 2)
    assert tp2.weight_bytes == pytest.approx(est.weight_bytes / 2)


def test_an_8b_model_fits_an_l40s_but_not_a_16gb_card(tmp_path):
    config = VllmConfig(model=tmp_path, max_model_len=8192, gpu_memory_utilization=0.9)
    assert check_fits(LLAMA_8B, config, 48 * GIB) is not None
    with pytest.raises(ModelDoesNotFitError, match="quantised model") as info:
        check_fits(LLAMA_8B, config, 16 * GIB)
    assert "weights 15.0 GiB" in str(info.value) and "14.4 GiB" in str(info.value)  # figures, not just "no"


def test_a_context_too_long_for_the_kv_cache_gets_a_length_that_fits(tmp_path):
    config = VllmConfig(model=tmp_path, max_model_len=131072, gpu_memory_utilization=0.9)
    with pytest.raises(ModelDoesNotFitError, match=r"MAX_MODEL_LEN to at most \d+") as info:
        check_fits(LLAMA_8B, config, 24 * GIB)
    fits = int(str(info.value).split("at most ")[1].split(".")[0].split()[0])
    assert check_fits(LLAMA_8B, VllmConfig(model=tmp_path, max_model_len=fits), 24 * GIB) is not None


def test_vllms_own_startup_errors_become_actionable():
    config = VllmConfig(model=Path("/models/llama-8b"))
    kv = ValueError(
        "To serve at least one request with the model's max seq len (131072), (16.00 GiB KV cache is needed, "
        "which is larger than the available KV cache memory (9.1 GiB). Try increasing `gpu_memory_utilization`"
    )
    assert isinstance(translate_start_error(kv, config), ModelDoesNotFitError)
    dead = RuntimeError("Engine core initialization failed. See root cause above. Failed core proc(s): {}")
    translated = translate_start_error(dead, config)
    assert type(translated) is GeneratorError and "MAX_MODEL_LEN" in str(translated)


@pytest.mark.skipif(HAS_VLLM, reason="vLLM is installed here")
def test_without_vllm_the_error_says_how_to_get_it(tmp_path):
    from inference.vllm_engine import VllmGenerator

    with pytest.raises(GeneratorUnavailableError, match=r"inhouse\[gpu\]"):
        VllmGenerator(VllmConfig(model=model_folder(tmp_path)))


def test_without_a_gpu_the_error_names_the_alternatives():
    import torch

    from inference.vllm_engine import gpu_memory_bytes

    if torch.cuda.is_available():
        assert gpu_memory_bytes() > 0
        return
    with pytest.raises(GeneratorUnavailableError, match="llamacpp"):
        gpu_memory_bytes()


def test_auto_backend_never_swaps_in_another_model(make_settings, tmp_path):
    from inference.factory import choose_backend

    folder = model_folder(tmp_path)
    if not HAS_VLLM:
        with pytest.raises(GeneratorUnavailableError, match="vLLM is not installed"):
            choose_backend(make_settings(generator_model=str(folder)))
    else:
        import torch

        if torch.cuda.is_available():
            assert choose_backend(make_settings(generator_model=str(folder))) == "vllm"
        else:
            with pytest.raises(GeneratorUnavailableError, match="no.*GPU|none is visible"):
                choose_backend(make_settings(generator_model=str(folder)))
    assert choose_backend(make_settings()) == "llamacpp"  # the default GGUF
    assert choose_backend(make_settings(openai_url="http://llm:8000/v1")) == "openai"
    with pytest.raises(GeneratorUnavailableError, match="not found"):
        choose_backend(make_settings(generator_model="no-such-model"))


def test_batch_stats_tell_batched_steps_from_single_ones():
    from inference.vllm_engine import BatchStats

    stats = BatchStats()
    for running in (1, 4, 32, 2, 0):
        stats.observe(running, 0)
    assert (stats.steps, stats.peak_running, stats.batched_steps, stats.running) == (5, 32, 3, 0)
