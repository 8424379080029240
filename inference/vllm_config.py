"""Settings for the in-process vLLM engine, checked before a GPU is touched.

Starting vLLM takes about a minute (torch.compile, CUDA graphs) and its engine
core runs in a child process, so a model that cannot fit surfaces as a generic
"Engine core initialization failed" after that minute. We check what we can
first, from the model's own config.json and the GPU's memory: the weights plus
the KV cache of one full-length sequence must fit in the share of GPU memory
vLLM may use. The arithmetic is the Llama family's (every dense decoder vLLM
serves has the same shape of config); for others the check is skipped and
vLLM's own error is translated instead (``translate_start_error``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from inference.types import GeneratorConfigError, GeneratorError, ModelDoesNotFitError

GIB = 1024**3

# bytes per weight, roughly, by quantisation method (None: the dtype decides)
QUANT_BYTES: dict[str, float] = {
    "awq": 0.5625, "awq_marlin": 0.5625, "gptq": 0.5625, "gptq_marlin": 0.5625,
    "fp8": 1.0, "compressed-tensors": 1.0, "bitsandbytes": 0.5625,
}
QUANTIZATIONS: tuple[str, ...] = tuple(QUANT_BYTES)
DTYPE_BYTES: dict[str, int] = {"bfloat16": 2, "float16": 2, "half": 2, "float32": 4, "float": 4}
LOAD_FORMATS: tuple[str, ...] = ("auto", "safetensors", "pt", "dummy")


@dataclass(frozen=True)
class VllmConfig:
    model: Path
    dtype: str = "auto"
    quantization: str | None = None
    max_model_len: int | None = None
    gpu_memory_utilization: float = 0.9
    tensor_parallel_size: int = 1
    load_format: str = "auto"
    enforce_eager: bool = False
    max_num_seqs: int | None = None
    tokenizer: Path | None = None
    seed: int = 0
    extra: dict = field(default_factory=dict)  # passed to AsyncEngineArgs as is

    @classmethod
    def from_settings(cls, settings) -> "VllmConfig":
        tok = settings.vllm_tokenizer
        return cls(
            model=settings.model_path(settings.generator_model), dtype=settings.vllm_dtype,
            quantization=settings.vllm_quantization, max_model_len=settings.generator_max_model_len,
            gpu_memory_utilization=settings.vllm_gpu_memory_utilization,
            tensor_parallel_size=settings.vllm_tensor_parallel_size, load_format=settings.vllm_load_format,
            enforce_eager=settings.vllm_enforce_eager, max_num_seqs=settings.vllm_max_num_seqs,
            tokenizer=settings.model_path(tok) if tok else None,
        )

    # ---- validation without vLLM ------------------------------------------
    def validate(self) -> dict:
        """Raise GeneratorConfigError for settings vLLM would reject; return the model's config.json."""
        if self.model.suffix == ".gguf" or self.model.is_file():
            raise GeneratorConfigError(
                f"{self.model} is a file; vLLM 0.25 loads a Hugging Face model folder (config.json, "
                "tokenizer, safetensors). Convert a GGUF with `inhouse models convert-gguf FILE OUT`, or use "
                "INHOUSE_GENERATOR_BACKEND=llamacpp for GGUF files."
            )
        cfg_file = self.model / "config.json"
        if not cfg_file.exists():
            raise GeneratorConfigError(f"no config.json in {self.model}: not a model folder vLLM can load")
        tokenizer_dir = self.tokenizer or self.model
        if not any((tokenizer_dir / n).exists() for n in ("tokenizer.json", "tokenizer.model", "tokenizer_config.json")):
            raise GeneratorConfigError(f"no tokenizer files in {tokenizer_dir}; set INHOUSE_VLLM_TOKENIZER")
        if not 0.0 < self.gpu_memory_utilization <= 1.0:
            raise GeneratorConfigError("vllm_gpu_memory_utilization must be in (0, 1]")
        if self.tensor_parallel_size < 1:
            raise GeneratorConfigError("vllm_tensor_parallel_size must be at least 1")
        if self.quantization is not None and self.quantization not in QUANT_BYTES:
            raise GeneratorConfigError(
                f"unknown quantization {self.quantization!r}; choose one of {', '.join(QUANTIZATIONS)}"
            )
        if self.load_format not in LOAD_FORMATS:
            raise GeneratorConfigError(f"unknown load format {self.load_format!r}; choose one of {LOAD_FORMATS}")
        hf = json.loads(cfg_file.read_text())
        limit = hf.get("max_position_embeddings")
        if self.max_model_len is not None and limit and self.max_model_len > limit:
            raise GeneratorConfigError(
                f"max_model_len {self.max_model_len} exceeds the model's max_position_embeddings {limit}"
            )
        heads = hf.get("num_attention_heads")
        if heads and heads % self.tensor_parallel_size:
            raise GeneratorConfigError(
                f"tensor_parallel_size {self.tensor_parallel_size} does not divide the {heads} attention heads"
            )
        return hf

    def resolved_max_model_len(self, hf: dict) -> int:
        return int(self.max_model_len or hf.get("max_position_embeddings") or 4096)

    def engine_kwargs(self, for_async: bool = True) -> dict:
        """Keyword arguments for ``vllm.AsyncEngineArgs`` (or, with ``for_async=False``, ``vllm.LLM``)."""
        kwargs: dict = {
            "model": str(self.model),
            "tokenizer": str(self.tokenizer or self.model),
            "dtype": self.dtype,
            "quantization": self.quantization,
            "max_model_len": self.max_model_len,
            "gpu_memory_utilization": self.gpu_memory_utilization,
            "tensor_parallel_size": self.tensor_parallel_size,
            "load_format": self.load_format,
            "enforce_eager": self.enforce_eager,
            "seed": self.seed,
        }
        if for_async:
            kwargs["enable_log_requests"] = False
        if self.max_num_seqs:
            kwargs["max_num_seqs"] = self.max_num_seqs
        return {k: v for k, v in {**kwargs, **self.extra}.items() if v is not None}


# ---- does it fit? ---------------------------------------------------------
@dataclass(frozen=True)
class MemoryEstimate:
    weight_bytes: float
    kv_bytes_per_token: float
    max_model_len: int

    @property
    def needed_bytes(self) -> float:
        return self.weight_bytes + self.kv_bytes_per_token * self.max_model_len


def estimate_memory(hf: dict, config: VllmConfig) -> MemoryEstimate | None:
    """Per-GPU bytes for the weights and one full-length sequence; None if the config is not Llama-shaped."""
    try:
        hidden = int(hf["hidden_size"])
        layers = int(hf["num_hidden_layers"])
        heads = int(hf["num_attention_heads"])
        inter = int(hf["intermediate_size"])
        vocab = int(hf["vocab_size"])
    except (KeyError, TypeError, ValueError):
        return None
    kv_heads = int(hf.get("num_key_value_heads") or heads)
    head_dim = int(hf.get("head_dim") or hidden // heads)
    attn = hidden * heads * head_dim * 2 + hidden * kv_heads * head_dim * 2  # q, o, k, v
    params = layers * (attn + 3 * hidden * inter) + vocab * hidden * (1 if hf.get("tie_word_embeddings") else 2)
    dtype = config.dtype if config.dtype != "auto" else str(hf.get("torch_dtype") or hf.get("dtype") or "bfloat16")
    act_bytes = DTYPE_BYTES.get(dtype, 2)
    per_weight = QUANT_BYTES[config.quantization] if config.quantization else act_bytes
    tp = config.tensor_parallel_size
    kv_per_token = 2 * layers * kv_heads * head_dim * act_bytes
    return MemoryEstimate(params * per_weight / tp, kv_per_token / tp, config.resolved_max_model_len(hf))


def check_fits(hf: dict, config: VllmConfig, gpu_total_bytes: int) -> MemoryEstimate | None:
    """Raise ModelDoesNotFitError, with figures and what to change, when the model cannot fit."""
    est = estimate_memory(hf, config)
    if est is None:
        return None
    allowed = gpu_total_bytes * config.gpu_memory_utilization
    if est.needed_bytes <= allowed:
        return est
    fits_len = int((allowed - est.weight_bytes) / est.kv_bytes_per_token) if est.kv_bytes_per_token else 0
    advice = (
        f"lower INHOUSE_GENERATOR_MAX_MODEL_LEN to at most {fits_len}"
        if fits_len >= 1024
        else "use a smaller or quantised model (INHOUSE_VLLM_QUANTIZATION=awq|gptq|fp8), "
        "or spread it over more GPUs (INHOUSE_VLLM_TENSOR_PARALLEL_SIZE)"
    )
    raise ModelDoesNotFitError(
        f"{config.model.name} does not fit: weights {est.weight_bytes / GIB:.1f} GiB + KV cache for "
        f"{est.max_model_len} tokens {est.kv_bytes_per_token * est.max_model_len / GIB:.1f} GiB per GPU, but "
        f"vLLM may use {allowed / GIB:.1f} GiB ({config.gpu_memory_utilization:.0%} of "
        f"{gpu_total_bytes / GIB:.1f} GiB). Raise INHOUSE_VLLM_GPU_MEMORY_UTILIZATION, or {advice}."
    )


def translate_start_error(exc: BaseException, config: VllmConfig) -> GeneratorError:
    """vLLM's start-up failures, in words an operator can act on."""
    text = f"{exc.__class__.__name__}: {exc}"
    memory_words = ("KV cache", "No available memory", "out of memory", "OutOfMemory", "CUDA error: out of")
    if any(w in text for w in memory_words):
        return ModelDoesNotFitError(
            f"{config.model.name} does not fit in GPU memory ({text}). Lower INHOUSE_GENERATOR_MAX_MODEL_LEN, "
            "raise INHOUSE_VLLM_GPU_MEMORY_UTILIZATION, quantise, or use more GPUs."
        )
    if "Engine core initialization failed" in text:
        return GeneratorError(
            f"the vLLM engine process failed to start ({text}); the lines logged above by the engine say why. "
            "Most often the model does not fit (lower INHOUSE_GENERATOR_MAX_MODEL_LEN) or another "
            "process holds GPU memory (see nvidia-smi)."
        )
    return GeneratorError(f"the vLLM engine failed to start: {text}")
