"""Turn an int8 ONNX BERT encoder into an ordinary fp32 sentence-transformers folder.

The default embedder reaches us only as an int8 ONNX export (see
../shared/MODELS.md): the fast path on a CPU, but a GPU wants torch, and
anything written against sentence-transformers (llama-index's HuggingFace
embedding, our own sentence-transformers backend) wants a model folder. The
export is onnxruntime's dynamic quantisation of a Hugging Face ``BertModel``,
so every weight is still there: a MatMulInteger weight is ``(q - zero_point) *
scale`` per output column, an embedding table the same per tensor, and the
biases and LayerNorms are stored as they were, under their state-dict names.
De-quantising gives back a ``BertModel`` whose vectors match the ONNX ones to a
cosine of about 0.998 (the int8 rounding is kept, not undone).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from ingest.encoders import ModelMissingError

QUANT_SUFFIX = "_quantized"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")


class DequantizeError(RuntimeError):
    """The ONNX file is not the BERT export this converter understands."""


def _dequantize(q: np.ndarray, scale: np.ndarray, zero_point: np.ndarray) -> np.ndarray:
    # zero_point and scale are scalars (per tensor) or one per output column (per channel, last axis)
    return ((q.astype(np.float32) - zero_point.astype(np.float32)) * scale.astype(np.float32)).astype(np.float32)


def _param_name(node_name: str) -> str:
    """``/encoder/layer.0/attention/self/query/MatMul_quant`` -> ``encoder.layer.0.attention.self.query.weight``."""
    module = node_name.strip("/").rsplit("/", 1)[0]
    return module.replace("/", ".") + ".weight"


def bert_state_dict(onnx_file: Path) -> dict[str, np.ndarray]:
    """The fp32 weights of a (dynamically quantised) BERT ONNX export, under Hugging Face names."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(onnx_file)).graph
    arrays = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    state: dict[str, np.ndarray] = {}

    def quantised(base: str) -> np.ndarray:
        try:
            return _dequantize(arrays[base + QUANT_SUFFIX], arrays[base + "_scale"], arrays[base + "_zero_point"])
        except KeyError as exc:
            raise DequantizeError(f"{onnx_file}: no scale or zero point for {base}") from exc

    for node in graph.node:
        if node.op_type not in ("MatMulInteger", "MatMul") or len(node.input) < 2:
            continue
        weight = node.input[1]
        if weight.endswith(QUANT_SUFFIX) and weight in arrays:
            matrix = quantised(weight[: -len(QUANT_SUFFIX)])
        elif weight in arrays and arrays[weight].dtype == np.float32:
            matrix = arrays[weight]
        else:
            continue  # activation x activation (attention scores): no weight
        state[_param_name(node.name)] = np.ascontiguousarray(matrix.T)  # MatMul holds W^T of nn.Linear

    for name, array in arrays.items():
        if name.startswith(("onnx::", "/")):
            continue
        if name.endswith(QUANT_SUFFIX):
            state[name[: -len(QUANT_SUFFIX)]] = quantised(name[: -len(QUANT_SUFFIX)])
        elif array.dtype == np.float32 and not name.endswith("_scale") and array.ndim > 0:
            state[name] = array
    if not any(k.startswith("embeddings.word_embeddings") for k in state):
        raise DequantizeError(f"{onnx_file} does not look like a BERT export (no word embeddings)")
    return state


def _check_complete(state: dict[str, np.ndarray], config: dict) -> None:
    """Every weight of every layer must have been found: a silent random init would corrupt the index."""
    per_layer = ("attention.self.query", "attention.self.key", "attention.self.value",
                 "attention.output.dense", "intermediate.dense", "output.dense")
    missing = [
        f"encoder.layer.{i}.{module}.{part}"
        for i in range(int(config["num_hidden_layers"]))
        for module in per_layer
        for part in ("weight", "bias")
        if f"encoder.layer.{i}.{module}.{part}" not in state
    ]
    if missing:
        raise DequantizeError(f"weights not found in the ONNX graph: {', '.join(missing[:5])}"
                              + (f" and {len(missing) - 5} more" if len(missing) > 5 else ""))


def dequantize_to_sentence_transformers(source: Path, out_dir: Path, pooling: str = "cls",
                                        max_seq_length: int = 512) -> Path:
    """Write ``out_dir`` as a sentence-transformers folder (Transformer, Pooling, Normalize) and return it.

    ``source`` is a folder with ``model.onnx``, ``config.json`` and the tokenizer files, as
    ``inhouse models fetch`` lays out bge-small-en. The folder is built beside ``out_dir`` and
    renamed into place, so a half-written model is never loaded.
    """
    from safetensors.numpy import save_file

    onnx_file, config_file = source / "model.onnx", source / "config.json"
    for needed in (onnx_file, config_file, source / "tokenizer.json"):
        if not needed.exists():
            raise ModelMissingError(f"{needed} is missing; run `inhouse models fetch` first")
    config = json.loads(config_file.read_text())
    if config.get("model_type") != "bert":
        raise DequantizeError(f"{source}: model_type {config.get('model_type')!r}; only BERT exports are supported")
    state = bert_state_dict(onnx_file)
    _check_complete(state, config)
    # The export stops at last_hidden_state, so BertModel's pooler is not in it. Sentence vectors
    # never read the pooler (pooling works on the hidden states), but transformers would initialise
    # it at random and warn on every load; zeros make the unused layer explicit and inert.
    hidden = int(config["hidden_size"])
    state.setdefault("pooler.dense.weight", np.zeros((hidden, hidden), dtype=np.float32))
    state.setdefault("pooler.dense.bias", np.zeros(hidden, dtype=np.float32))

    staging = out_dir.with_name(f".{out_dir.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    config = {**config, "torch_dtype": "float32", "_name_or_path": out_dir.name}
    (staging / "config.json").write_text(json.dumps(config, indent=2))
    save_file(state, str(staging / "model.safetensors"), metadata={"format": "pt"})
    for name in TOKENIZER_FILES:
        if (source / name).exists():
            shutil.copy2(source / name, staging / name)
    lower = json.loads((source / "tokenizer_config.json").read_text()).get("do_lower_case", False) \
        if (source / "tokenizer_config.json").exists() else False
    (staging / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": max_seq_length, "do_lower_case": lower}))
    (staging / "1_Pooling").mkdir()
    (staging / "1_Pooling" / "config.json").write_text(json.dumps({
        "word_embedding_dimension": int(config["hidden_size"]),
        "pooling_mode_cls_token": pooling == "cls",
        "pooling_mode_mean_tokens": pooling == "mean",
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
    }, indent=2))
    (staging / "2_Normalize").mkdir()
    (staging / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ], indent=2))
    if out_dir.exists():
        shutil.rmtree(out_dir)
    staging.rename(out_dir)
    return out_dir
