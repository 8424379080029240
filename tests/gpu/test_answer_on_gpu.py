"""One cited answer end to end on the GPU: ingestion, search as the user, vLLM, citations, verification.

The same `AnswerService.ask` that `inhouse ask` calls, with the generator
built from settings (``generator_backend="vllm"``) from real small weights.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gpu

HANDBOOK = """# Leave and Remote Work Handbook

## Vacation

Permanent employees receive 25 days of paid vacation per calendar year.
Up to five unused vacation days may be carried over to the next year.
"""


def test_a_cited_answer_from_the_gpu(make_services, smol_folder, tmp_path):
    from app.answering.service import AnswerService
    from app.accounts.directory import add_user
    from app.library.ingestion import IngestService

    services = make_services(
        generator_backend="vllm", generator_model=str(smol_folder), generator_max_model_len=2048,
        vllm_gpu_memory_utilization=0.4, vllm_enforce_eager=True, generator_max_tokens=64,
    )
    doc = tmp_path / "handbook.md"
    doc.write_text(HANDBOOK)
    with services.session() as s:
        add_user(s, "sofie", groups=["everyone"])
    [ingested] = IngestService(services).ingest_paths([doc], groups=["everyone"])
    assert ingested.status == "ready"

    streamed: list[str] = []
    result = AnswerService(services).ask(
        "How many days of paid vacation do permanent employees get?", "sofie", on_token=streamed.append
    )
    assert services.generator.backend == "vllm"
    assert len(streamed) > 1 and not result.not_found
    assert result.backend == "vllm" and result.prompt_tokens > 0 and result.completion_tokens > 0
    assert result.citations, result.answer
    assert {c.doc_id for c in result.citations} == {ingested.id}
    assert result.answer_id is not None
