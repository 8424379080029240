"""The query instruction setting reaches the dense query vectors, and stored runs say which was used.

``query_instruction`` was read by nothing until issue 16's title/query check (2026-12-03):
the encoder always chose by folder name, so INHOUSE_QUERY_INSTRUCTION had no effect.
"""

from __future__ import annotations

import numpy as np

from app.evaluation.runs import model_ids
from app.settings import Settings
from ingest.encoders import BGE_QUERY_INSTRUCTION

QUESTION = "which animal is a quokka"


def test_unset_means_the_models_own_instruction(make_services, shared_encoder):
    services = make_services(encoder=None)  # loads its own encoder from the settings
    assert services.settings.query_instruction is None
    assert services.encoder.query_instruction == BGE_QUERY_INSTRUCTION
    expected = shared_encoder.encode_queries([QUESTION])
    assert np.allclose(services.encoder.encode_queries([QUESTION]), expected, atol=1e-5)
    assert model_ids(services)["query_instruction"] == BGE_QUERY_INSTRUCTION


def test_an_empty_instruction_encodes_the_question_alone(make_services, shared_encoder):
    services = make_services(encoder=None, query_instruction="")
    assert services.encoder.query_instruction == ""
    plain = services.encoder.encode_queries([QUESTION])
    assert np.allclose(plain, shared_encoder.encode_documents([QUESTION]), atol=1e-5)
    assert not np.allclose(plain, shared_encoder.encode_queries([QUESTION]), atol=1e-3)
    assert model_ids(services)["query_instruction"] == ""


def test_the_environment_can_set_it(monkeypatch, tmp_path):
    monkeypatch.setenv("INHOUSE_QUERY_INSTRUCTION", "")
    assert Settings(data_dir=tmp_path).query_instruction == ""
    monkeypatch.setenv("INHOUSE_QUERY_INSTRUCTION", "query: ")
    assert Settings(data_dir=tmp_path).query_instruction == "query: "
    monkeypatch.delenv("INHOUSE_QUERY_INSTRUCTION")
    assert Settings(data_dir=tmp_path).query_instruction is None
