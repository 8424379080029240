"""Real generation on the CPU with SmolLM2-135M-Instruct through llama.cpp."""

from __future__ import annotations

import asyncio

import pytest

from inference.types import GenerationParams, GenerationStats, GeneratorConfigError, PromptTooLongError

MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "List the days of the week, one per line."},
]


def run(gen, messages=MESSAGES, **params):
    stats = GenerationStats()

    async def go():
        return [p async for p in gen.generate(messages, GenerationParams(**params), stats)]

    return asyncio.run(go()), stats


def test_streams_text_piece_by_piece(llama_generator):
    pieces, stats = run(llama_generator, max_tokens=24)
    assert len(pieces) > 3 and "".join(pieces).strip()
    assert len(pieces) <= 24
    assert 0 < stats.completion_tokens <= 24 + 2  # re-tokenising the text may merge or split a token


def test_max_tokens_is_a_hard_limit(llama_generator):
    pieces, stats = run(llama_generator, max_tokens=5)
    assert stats.finish_reason == "length"
    assert len(pieces) <= 5


def test_greedy_decoding_is_repeatable(llama_generator):
    first, _ = run(llama_generator, max_tokens=16)
    second, _ = run(llama_generator, max_tokens=16)
    assert first == second


def test_a_stop_sequence_ends_the_answer_before_it(llama_generator):
    full = "".join(run(llama_generator, max_tokens=40)[0])
    words = full.split()
    assert len(words) >= 4, full
    stop = words[3]
    cut, stats = run(llama_generator, max_tokens=40, stop=(stop,))
    text = "".join(cut)
    assert stop not in text
    assert full.startswith(text) and len(text) < len(full)
    assert stats.finish_reason == "stop"


def test_the_chat_template_comes_from_the_gguf(llama_generator):
    rendered = llama_generator.render(MESSAGES)
    assert rendered.startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>")
    assert rendered.endswith("<|im_start|>assistant\n")


def test_a_prompt_that_cannot_fit_is_refused_before_generation(llama_generator):
    long = [{"role": "user", "content": "word " * 2100}]
    with pytest.raises(PromptTooLongError, match="max_model_len 2048"):
        run(llama_generator, long, max_tokens=8)


def test_leaving_mid_stream_stops_the_model_and_frees_it(llama_generator):
    stats = GenerationStats()

    async def go():
        received = []
        stream = llama_generator.generate(MESSAGES, GenerationParams(max_tokens=200), stats)
        async for piece in stream:
            received.append(piece)
            if len(received) == 3:
                break
        await stream.aclose()  # what the web app does when the browser disconnects
        # the context is free again: a second request runs to completion
        after = [p async for p in llama_generator.generate(MESSAGES, GenerationParams(max_tokens=4))]
        return received, after

    received, after = asyncio.run(asyncio.wait_for(go(), timeout=60))
    assert len(received) == 3 and after
    assert stats.finish_reason == "abort"
    assert stats.extra["engine_tokens"] < 10  # counted where the model runs: 200 if the stop were ignored


def test_concurrent_requests_are_served_one_after_another(llama_generator):
    async def go():
        params = GenerationParams(max_tokens=6)

        async def one():
            return "".join([p async for p in llama_generator.generate(MESSAGES, params)])

        return await asyncio.gather(one(), one(), one())

    texts = asyncio.run(go())
    assert len(set(texts)) == 1 and texts[0]  # same greedy answer: no interleaving in one context


def test_a_context_beyond_what_the_model_was_trained_for_is_refused(gguf_path):
    from inference.llamacpp_isolated import IsolatedLlamaCppGenerator

    with pytest.raises(GeneratorConfigError, match="8192"):
        IsolatedLlamaCppGenerator(gguf_path, n_ctx=16384)
