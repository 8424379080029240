"""Turn a GGUF file into a Hugging Face model folder that vLLM 0.25 can load.

vLLM 0.25 moved GGUF loading out into a plugin, and air-gapped sites often
receive small models as GGUF files (the default CPU model is one). transformers
reads GGUF (de-quantising to floating point) and writes an ordinary folder:
config.json, tokenizer files with the chat template, safetensors. Needs the
``gguf`` package (in the gpu extra).
"""

from __future__ import annotations

from pathlib import Path

from inference.types import GeneratorUnavailableError


def gguf_to_hf_folder(gguf_file: Path, out_dir: Path, dtype: str = "bfloat16") -> Path:
    """Write ``out_dir`` (if not already complete) and return it."""
    if (out_dir / "config.json").exists() and any(out_dir.glob("*.safetensors")):
        return out_dir
    if not gguf_file.is_file():
        raise GeneratorUnavailableError(f"no GGUF file at {gguf_file}")
    try:
        import gguf  # noqa: F401  (transformers needs it to read the file)
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:
        raise GeneratorUnavailableError(f"converting GGUF needs transformers, torch and gguf: {exc}") from exc
    folder, name = str(gguf_file.parent), gguf_file.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=getattr(torch, dtype))
    # The weights are de-quantised on load; drop the GGUF "quantizer" so the model saves as plain
    # floating point and vLLM does not look for a GGUF quantization config in config.json.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(out_dir)
    model.save_pretrained(out_dir)
    return out_dir


def gguf_tokenizer_folder(gguf_file: Path, out_dir: Path) -> Path:
    """Only the tokenizer (and chat template) of a GGUF file, as Hugging Face files."""
    if (out_dir / "tokenizer_config.json").exists():
        return out_dir
    try:
        import gguf  # noqa: F401
        from transformers import AutoTokenizer
    except ImportError as exc:
        raise GeneratorUnavailableError(f"reading a GGUF tokenizer needs transformers and gguf: {exc}") from exc
    out_dir.mkdir(parents=True, exist_ok=True)
    AutoTokenizer.from_pretrained(str(gguf_file.parent), gguf_file=gguf_file.name).save_pretrained(out_dir)
    return out_dir
