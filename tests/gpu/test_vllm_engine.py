"""The in-process vLLM engine on a GPU: start, stream, stop, batch, abort, refuse what cannot fit.

`pytest -m gpu tests/gpu` on a GPU machine; deselected everywhere else.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from inference.types import GenerationParams, GenerationStats, GeneratorError, ModelDoesNotFitError

pytestmark = pytest.mark.gpu

MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "List the days of the week, one per line."},
]


async def collect(gen, params, stats=None, messages=MESSAGES):
    return [p async for p in gen.generate(messages, params, stats)]


def test_engine_starts_once_and_streams(smol_generator, loop):
    engine = smol_generator.engine
    assert engine is not None and loop.run_until_complete(smol_generator.start()) is engine  # started once
    stats = GenerationStats()
    pieces = loop.run_until_complete(collect(smol_generator, GenerationParams(max_tokens=32), stats))
    assert len(pieces) > 3 and "".join(pieces).strip()
    assert stats.prompt_tokens == len(smol_generator.prompt_ids(MESSAGES))
    assert 0 < stats.completion_tokens <= 32 and stats.finish_reason in ("stop", "length")


def test_a_stop_sequence_ends_the_answer_before_it(smol_generator, loop):
    full = "".join(loop.run_until_complete(collect(smol_generator, GenerationParams(max_tokens=48))))
    words = full.split()
    assert len(words) >= 4, full
    stats = GenerationStats()
    cut = "".join(loop.run_until_complete(
        collect(smol_generator, GenerationParams(max_tokens=48, stop=(words[3],)), stats)))
    assert words[3] not in cut and full.startswith(cut.rstrip()) and stats.finish_reason == "stop"


def test_32_concurrent_requests_share_batches(smol_generator, loop):
    params = GenerationParams(max_tokens=64, ignore_eos=True)
    single_start = time.perf_counter()
    loop.run_until_complete(collect(smol_generator, params))
    single = time.perf_counter() - single_start

    before = smol_generator.batch_stats.batched_steps
    smol_generator.batch_stats.peak_running = 0
    start = time.perf_counter()
    stats = [GenerationStats() for _ in range(32)]
    outs = loop.run_until_complete(asyncio.gather(*(collect(smol_generator, params, s) for s in stats)))
    elapsed = time.perf_counter() - start
    assert all(s.completion_tokens == 64 for s in stats) and all(outs)
    assert smol_generator.batch_stats.peak_running >= 16  # the scheduler ran them together
    assert smol_generator.batch_stats.batched_steps > before
    assert elapsed < single * 8  # 32 requests in far less than 32 times one


def test_leaving_mid_stream_aborts_the_request_in_the_engine(smol_generator, loop):
    stats = GenerationStats()

    async def go():
        stream = smol_generator.generate(MESSAGES, GenerationParams(max_tokens=3000, ignore_eos=True), stats)
        received = []
        async for piece in stream:
            received.append(piece)
            if len(received) == 5:
                break
        await stream.aclose()  # the browser went away
        for _ in range(50):
            if smol_generator.unfinished_requests() == 0:
                break
            await asyncio.sleep(0.05)
        return received

    received = loop.run_until_complete(go())
    assert len(received) == 5 and stats.finish_reason == "abort"
    assert smol_generator.unfinished_requests() == 0
    assert stats.completion_tokens < 3000


def test_an_8b_model_on_a_sliver_of_the_gpu_is_refused_before_start(dummy_8b_folder):
    from inference.vllm_config import VllmConfig
    from inference.vllm_engine import VllmGenerator

    folder = dummy_8b_folder
    started = time.perf_counter()
    with pytest.raises(ModelDoesNotFitError, match="does not fit"):
        VllmGenerator(VllmConfig(model=folder, load_format="dummy", gpu_memory_utilization=0.05))
    assert time.perf_counter() - started < 30  # said at once, not after a minute of engine start-up


def test_an_engine_that_cannot_start_says_so(smol_folder, tmp_path):
    import json
    import shutil

    from inference.vllm_config import VllmConfig
    from inference.vllm_engine import VllmGenerator

    broken = tmp_path / "broken"
    shutil.copytree(smol_folder, broken)
    config = json.loads((broken / "config.json").read_text())
    config["architectures"] = ["NoSuchModelForCausalLM"]
    (broken / "config.json").write_text(json.dumps(config))
    gen = VllmGenerator(VllmConfig(model=broken, enforce_eager=True, gpu_memory_utilization=0.2))
    with pytest.raises(GeneratorError, match="vLLM engine"):
        asyncio.run(gen.start())
