"""A tiny BEIR-format test collection the tests write themselves (not a shared data set)."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.beir import CorpusDoc, write_beir

CORPUS = [
    ("leave", "Parental leave", "Birth parents receive sixteen weeks of fully paid parental leave. The other parent "
     "receives ten weeks. Leave must be requested through the HR portal at least a month ahead. Part-time "
     "leave can be combined with part-time work after the first six weeks. Unused leave expires when the "
     "child turns three, and managers may not refuse a request that was made in time."),
    ("passwords", "Password rules", "Passwords must be at least fourteen characters long and are never reused. "
     "A password manager is provided to every employee."),
    ("incident", "Security incidents", "Report a suspected security incident within thirty minutes by calling the "
     "security hotline on extension 4444."),
    ("travel", "Travel expenses", "Train travel is preferred for trips under five hours. Hotel costs are refunded "
     "up to 1,500 kroner a night with receipts."),
    ("gripper", "Gripper calibration", "To calibrate the gripper, zero the torque sensor and run the jaw test three "
     "times. The tolerance is two newton metres."),
    ("backup", "Server backups", "Servers are backed up every night at two o'clock to the second data centre. "
     "Restores are tested every quarter."),
    ("canteen", "Canteen", "The canteen serves soup on Mondays and fish on Fridays. It opens at eleven."),
    ("laptop", "Laptop policy", "Every employee gets a laptop that is replaced after four years. Lost laptops must "
     "be reported to IT on the same day."),
    ("board", "Board meeting", "The board approved the robotics budget of twelve million kroner for next year and "
     "a new factory in Trondheim."),
    ("firmware", "Firmware releases", "Firmware is released every six weeks. Each release is signed and rolled out "
     "to ten percent of robots first."),
    ("hiring", "Hiring process", "Candidates meet three interviewers and complete a take-home exercise. Offers are "
     "approved by the head of department."),
    ("warranty", "Warranty terms", "Robots carry a two-year warranty covering motors and sensors but not wear parts "
     "such as gripper pads."),
]
QUERIES = [
    ("q1", "How many weeks of parental leave do birth parents get?", {"leave": 1}, ["sixteen weeks"]),
    ("q2", "minimum password length", {"passwords": 1}, ["fourteen characters"]),
    ("q3", "which extension is the security hotline", {"incident": 1}, ["4444"]),
    ("q4", "hotel refund limit per night", {"travel": 1}, ["1,500 kroner"]),
    ("q5", "how to calibrate the gripper torque sensor", {"gripper": 1, "warranty": 0}, ["jaw test"]),
    ("q6", "when are servers backed up", {"backup": 1}, ["two o'clock"]),
    ("q7", "what does the canteen serve on Fridays", {"canteen": 1}, ["fish"]),
    ("q8", "how often are laptops replaced", {"laptop": 1}, ["four years"]),
    ("q9", "robotics budget approved by the board", {"board": 1}, ["twelve million kroner"]),
    ("q10", "how often is firmware released", {"firmware": 1}, ["every six weeks"]),
    ("q11", "what does the warranty cover", {"warranty": 1}, ["motors and sensors"]),
    ("q12", "how many interviewers does a candidate meet", {"hiring": 1}, ["three interviewers"]),
    ("q-unjudged", "a query without judgments is skipped", {}, []),
]


def write_tiny_beir(folder: Path, with_answers: bool = True) -> Path:
    corpus = [CorpusDoc(i, t, x) for i, t, x in CORPUS]
    queries = {q: text for q, text, _, _ in QUERIES}
    qrels = {q: judged for q, _, judged, _ in QUERIES if judged}
    answers = {q: a for q, _, _, a in QUERIES} if with_answers else None
    return write_beir(folder, corpus, queries, qrels, answers)


@pytest.fixture
def tiny_beir(tmp_path) -> Path:
    return write_tiny_beir(tmp_path / "tiny")


@pytest.fixture
def eval_services(make_services):
    """Small chunks, so some documents span several chunks."""
    return make_services(chunk_size=32, chunk_overlap=4)
