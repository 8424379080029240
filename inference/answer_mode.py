"""Which answer mode a question gets: a generated answer, or quoted sentences (extractive).

``auto`` rests on a measurement (docs/inference.md, "Extractive answers"): on
200 SQuAD dev questions the CPU default, SmolLM2-135M through llama.cpp, wrote
an answer containing the gold answer 22 % of the time, while quoting the best
sentences of the same passages did 81 % of the time. So a GGUF model small
enough to be a CPU stand-in (a file under ``SMALL_GGUF_BYTES``: SmolLM2-135M is
98 MB; a 7B model at 4 bits is about 4 GB), or no usable generator at all,
gets extractive answers. A GPU model (vLLM) or a remote server is trusted to
write. Either mode can be asked for explicitly with ``answer_mode``.
"""

from __future__ import annotations

from typing import Literal

from inference.factory import choose_backend
from inference.types import GeneratorError

SMALL_GGUF_BYTES = 1 << 30  # 1 GiB: about 2B parameters at 4 bits

AnswerMode = Literal["generative", "extractive"]


def resolve_answer_mode(settings) -> AnswerMode:
    if settings.answer_mode != "auto":
        return settings.answer_mode
    try:
        backend = choose_backend(settings)
    except GeneratorError:  # no generator here: quoting still answers
        return "extractive"
    if backend == "llamacpp":
        model = settings.model_path(settings.generator_model)
        if model.is_file() and model.stat().st_size < SMALL_GGUF_BYTES:
            return "extractive"
    return "generative"
