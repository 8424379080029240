"""Dense text encoders behind one small interface.

Two backends: onnxruntime over an (int8) ONNX export, the fast path on a CPU,
and sentence-transformers over a regular model folder, the fast path on a GPU.
Both return L2-normalised float32 vectors, so cosine similarity is a dot product
whichever backend built the index.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

BGE_QUERY_INSTRUCTION = "Represent this sentence for searching relevant passages: "


class ModelMissingError(RuntimeError):
    """A model folder the settings point at is not there or not usable."""


class DenseEncoder(Protocol):
    model_id: str
    dim: int

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def count_tokens(self, text: str) -> int: ...


def _l2_normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


def _pooling_mode(folder: Path) -> str:
    """bge uses the [CLS] vector; sentence-transformers folders say what they use."""
    cfg = folder / "1_Pooling" / "config.json"
    if cfg.exists():
        data = json.loads(cfg.read_text())
        if data.get("pooling_mode_cls_token"):
            return "cls"
        return "mean"
    return "cls"


def default_query_instruction(folder: Path) -> str:
    return BGE_QUERY_INSTRUCTION if "bge" in folder.name.lower() else ""


def load_tokenizer(folder: Path, max_tokens: int):
    from tokenizers import Tokenizer

    path = folder / "tokenizer.json"
    if not path.exists():
        raise ModelMissingError(f"no tokenizer.json in {folder}")
    tok = Tokenizer.from_file(str(path))
    tok.enable_truncation(max_length=max_tokens)
    tok.no_padding()
    return tok


@dataclass(eq=False)
class OnnxEncoder:
    """bge-style encoder on onnxruntime: length-sorted batches, dynamic padding."""

    folder: Path
    batch_size: int = 32
    max_tokens: int = 512
    query_instruction: str | None = None
    threads: int | None = None

    def __post_init__(self) -> None:
        import onnxruntime as ort

        model = self.folder / "model.onnx"
        if not model.exists():
            raise ModelMissingError(
                f"embedding model not found at {model}; run `inhouse models fetch` "
                "or set INHOUSE_EMBED_MODEL to a model folder"
            )
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads or os.cpu_count() or 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
        self._input_names = {i.name for i in self._session.get_inputs()}
        self._tokenizer = load_tokenizer(self.folder, self.max_tokens)
        self._pooling = _pooling_mode(self.folder)
        self.dim = int(self._session.get_outputs()[0].shape[-1])
        self.model_id = self.folder.name
        if self.query_instruction is None:
            self.query_instruction = default_query_instruction(self.folder)

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(list(texts))

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode([f"{self.query_instruction}{t}" for t in texts])

    def _encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encodings = self._tokenizer.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            width = max(len(encodings[i].ids) for i in idx)
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                seq = encodings[i].ids
                ids[row, : len(seq)] = seq
                mask[row, : len(seq)] = 1
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._input_names:
                feeds["token_type_ids"] = np.zeros_like(ids)
            hidden = self._session.run(None, feeds)[0]
            if self._pooling == "cls":
                pooled = hidden[:, 0, :]
            else:
                weights = mask[:, :, None].astype(np.float32)
                pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            out[idx] = pooled
        return _l2_normalise(out)


@dataclass(eq=False)
class SentenceTransformerEncoder:
    """Any sentence-transformers folder; on a GPU this is the fast path."""

    folder: Path
    batch_size: int = 32
    max_tokens: int = 512
    query_instruction: str | None = None
    device: str | None = None

    def __post_init__(self) -> None:
        if not (self.folder / "config.json").exists():
            raise ModelMissingError(f"no sentence-transformers model at {self.folder}")
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(str(self.folder), device=self.device, local_files_only=True)
        self._model.max_seq_length = min(self.max_tokens, self._model.max_seq_length or self.max_tokens)
        dim_of = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(dim_of())
        self.model_id = self.folder.name
        if self.query_instruction is None:
            self.query_instruction = default_query_instruction(self.folder)

    def count_tokens(self, text: str) -> int:
        return len(self._model.tokenizer(text, add_special_tokens=False)["input_ids"])

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(list(texts))

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode([f"{self.query_instruction}{t}" for t in texts])

    def _encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return np.asarray(vectors, dtype=np.float32)


def cuda_available() -> bool:
    """Whether torch sees a CUDA GPU (the one probe the encoders, re-ranker and generator share)."""
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:  # torch missing or broken: CPU it is
        return False


def load_encoder(
    folder: Path,
    backend: str = "auto",
    batch_size: int = 32,
    max_tokens: int = 512,
    query_instruction: str | None = None,
) -> DenseEncoder:
    """Pick the backend: ONNX on a CPU when the folder has one, else sentence-transformers."""
    if not folder.exists():
        raise ModelMissingError(
            f"embedding model folder {folder} does not exist; run `inhouse models fetch` "
            "or point INHOUSE_EMBED_MODEL at a model folder"
        )
    has_onnx = (folder / "model.onnx").exists()
    has_torch = any((folder / n).exists() for n in ("model.safetensors", "pytorch_model.bin"))
    if backend == "auto":
        backend = "sentence-transformers" if has_torch and (cuda_available() or not has_onnx) else "onnx"
    if backend == "onnx":
        return OnnxEncoder(folder, batch_size, max_tokens, query_instruction)
    return SentenceTransformerEncoder(folder, batch_size, max_tokens, query_instruction)
