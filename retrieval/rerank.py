"""Cross-encoder scoring of (query, passage) pairs, for re-ranking and for
checking that an answer's sentence is supported by the passage it cites.

Backends like the dense encoder: onnxruntime over an int8 export (CPU) and
sentence-transformers' CrossEncoder (GPU). Pairs are scored in length-sorted
batches; the score is the model's raw logit (ms-marco: ≈ +9 relevant, ≈ −11
not), with ``probability`` mapping it to 0..1.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from ingest.encoders import ModelMissingError, cuda_available, load_tokenizer


class PairScorer(Protocol):
    model_id: str

    def score(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray: ...


def probability(logit: float) -> float:
    return 1.0 / (1.0 + math.exp(-logit))


@dataclass(eq=False)
class OnnxCrossEncoder:
    folder: Path
    batch_size: int = 16
    max_tokens: int = 512
    threads: int | None = None

    def __post_init__(self) -> None:
        import onnxruntime as ort

        model = self.folder / "model.onnx"
        if not model.exists():
            raise ModelMissingError(
                f"cross-encoder not found at {model}; run `inhouse models fetch` or set INHOUSE_RERANK_MODEL"
            )
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads or os.cpu_count() or 1
        # onnxruntime's worker threads busy-wait between operators by default; on a small shared
        # CPU that spinning takes cores from the other requests and from the threads it waits for
        # (bench/answers.py measures the difference)
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._tokenizer = load_tokenizer(self.folder, self.max_tokens)
        self.model_id = self.folder.name

    def score(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        scores = np.zeros(len(pairs), dtype=np.float32)
        if not pairs:
            return scores
        encodings = self._tokenizer.encode_batch([(q, p) for q, p in pairs])
        order = sorted(range(len(pairs)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            width = max(len(encodings[i].ids) for i in idx)
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            types = np.zeros_like(ids)
            for row, i in enumerate(idx):
                enc = encodings[i]
                ids[row, : len(enc.ids)] = enc.ids
                mask[row, : len(enc.ids)] = 1
                types[row, : len(enc.type_ids)] = enc.type_ids
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._inputs:
                feeds["token_type_ids"] = types
            logits = self._session.run(None, feeds)[0]
            scores[idx] = logits.reshape(len(idx), -1)[:, 0]
        return scores


@dataclass(eq=False)
class SentenceTransformerCrossEncoder:
    folder: Path
    batch_size: int = 16
    max_tokens: int = 512

    def __post_init__(self) -> None:
        from sentence_transformers import CrossEncoder

        self._model = CrossEncoder(str(self.folder), max_length=self.max_tokens, local_files_only=True)
        self.model_id = self.folder.name

    def score(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        if not pairs:
            return np.zeros(0, dtype=np.float32)
        raw = self._model.predict(list(pairs), batch_size=self.batch_size)
        return np.asarray(raw, dtype=np.float32).reshape(len(pairs))


def load_cross_encoder(folder: Path, backend: str = "auto", batch_size: int = 16) -> PairScorer:
    if not folder.exists():
        raise ModelMissingError(f"cross-encoder folder {folder} does not exist; run `inhouse models fetch`")
    has_onnx = (folder / "model.onnx").exists()
    has_torch = any((folder / n).exists() for n in ("model.safetensors", "pytorch_model.bin"))
    if backend == "auto":
        backend = "sentence-transformers" if has_torch and (cuda_available() or not has_onnx) else "onnx"
    if backend == "onnx":
        return OnnxCrossEncoder(folder, batch_size)
    return SentenceTransformerCrossEncoder(folder, batch_size)
