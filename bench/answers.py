"""Extractive answers on the sample corpus: where the time goes, per stage, and against a baseline.

    .venv/bin/python bench/answers.py [--data-dir DIR] [--rounds 3] [--baseline REV] [--questions N]
        [--models data/models]

What is timed, with the real models (bge-small, BM25, the ms-marco MiniLM-L12
cross-encoder through onnxruntime) on the bundled sample corpus
(``samples/manifest.json``, ingested into ``--data-dir`` unless it already
holds it, else into a temporary folder):

* every question of ``samples/questions.jsonl`` asked through
  ``AnswerService.ask`` in extractive mode, as a user allowed to read its
  document, ``--rounds`` times: p50 / p95 of each stage of ``timings_ms``
  (search, extract, verify, total) and how many answers hold the known answer;
* with ``--baseline REV``: the answer step alone (extraction + citations +
  verification, on the passages of one search per question) of the code at
  git revision REV — ``inference/extractive.py``, ``inference/verify.py`` and
  ``retrieval/rerank.py`` loaded from that revision, with its own scorer —
  against today's (``AnswerService.quote``), interleaved question by
  question in this one process, so load from other jobs hits both alike. The
  ratio (baseline time / today's) is the figure to quote on a shared machine;
  the absolute times only when ``uptime`` showed the machine idle. The
  extract step (``extract_answer`` alone) is reported beside the whole
  answer step, with its own ratio.

Results go to ``bench/results/answers-<date>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import types
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from app.answering.service import AnswerResult, AnswerService, passage_from_hit, readable_hits  # noqa: E402
from app.accounts.directory import acl_tokens, get_user  # noqa: E402
from app.accounts.actor import Actor  # noqa: E402
from app.library.manifest import load_manifest  # noqa: E402
from app.services import Services, build_services  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.tracing import Tracer  # noqa: E402
from inference.citations import parse_citations  # noqa: E402

SAMPLES = REPO / "samples"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def open_samples(data_dir: Path | None, models: Path) -> Services:
    """The sample corpus's services, ingesting the manifest when the data dir has no documents yet."""
    folder = data_dir or Path(tempfile.mkdtemp(prefix="inhouse-bench-answers-")) / "data"
    services = build_services(Settings(data_dir=folder, models_dir=models))
    from sqlalchemy import func, select

    from app.db.library import Document

    with services.session() as session:
        have = session.scalar(select(func.count()).select_from(Document))
    if not have:
        print(f"ingesting the sample corpus into {folder} …", file=sys.stderr)
        load_manifest(services, Actor.operator(), SAMPLES / "manifest.json")
    return services


def askers(services: Services, questions: list[dict]) -> list[str]:
    """For each question, the first manifest user allowed to read its document (as the sample test asks)."""
    manifest = json.loads((SAMPLES / "manifest.json").read_text())
    users = {u["name"]: set(u["groups"]) for u in manifest["users"]}
    return [next(n for n, g in users.items() if g & set(q["groups_allowed"])) for q in questions]


def module_at(rev: str, path: str, name: str) -> types.ModuleType:
    """A module's source as it was at git revision ``rev``, loaded under another name."""
    source = subprocess.run(["git", "-C", str(REPO), "show", f"{rev}:{path}"], check=True,
                            capture_output=True, text=True).stdout
    module = types.ModuleType(name)
    module.__file__ = f"{rev}:{path}"
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


def stages(services: Services, questions: list[dict], who: list[str], rounds: int) -> dict:
    service = AnswerService(services, mode="extractive")
    timings: dict[str, list[float]] = {}
    correct = 0
    for r in range(rounds):
        for q, user in zip(questions, who):
            result = service.ask(q["question"], user)
            for stage, ms in result.timings_ms.items():
                timings.setdefault(stage, []).append(ms)
            correct += r == 0 and norm(q["answer"]) in norm(result.answer)
    return {"correct": correct, "questions": len(questions),
            "stages_ms": {s: {"p50": round(percentile(v, 0.5), 1), "p95": round(percentile(v, 0.95), 1),
                              "n": len(v)} for s, v in timings.items()}}


def against_baseline(services: Services, questions: list[dict], who: list[str], rev: str, rounds: int) -> dict:
    old_rerank = module_at(rev, "retrieval/rerank.py", "_baseline_rerank")
    old_extractive = module_at(rev, "inference/extractive.py", "_baseline_extractive")
    old_verify = module_at(rev, "inference/verify.py", "_baseline_verify")
    s = services.settings
    old_scorer = old_rerank.load_cross_encoder(s.model_path(s.rerank_model), "onnx", s.rerank_batch_size)
    service = AnswerService(services, mode="extractive")
    cases = []
    for q, user in zip(questions, who):
        with services.session() as session:
            tokens = acl_tokens(session, get_user(session, user))
        hits = readable_hits(services.searcher.index, services.searcher.search(q["question"], tokens,
                                                                             k=s.answer_passages), tokens)
        cases.append((q, hits))

    def baseline(q, hits) -> tuple[str, float]:
        passages = [passage_from_hit(h, i + 1) for i, h in enumerate(hits)]
        started = time.perf_counter()
        extracted = old_extractive.extract_answer(
            q["question"], passages, old_scorer,
            old_extractive.ExtractiveSettings(min_score=s.answer_extractive_min_score))
        extract_s = time.perf_counter() - started
        if not extracted.not_found:
            parsed = parse_citations(extracted.text, len(passages))
            old_verify.verify_answer(parsed, passages, old_scorer, s.answer_min_support)
        return extracted.text, extract_s

    def today(q, hits) -> tuple[str, float]:
        result, trace = AnswerResult(q["question"], q["question"], ""), Tracer()
        for _ in service.quote(q["question"], hits, result, trace):
            pass
        return result.answer, trace.timings_ms["extract"] / 1000

    old_s, new_s, ratios, old_ok, new_ok = [], [], [], 0, 0
    old_x, new_x, x_ratios = [], [], []  # the extract step alone (no citations, no verification)
    for r in range(rounds):
        for i, (q, hits) in enumerate(cases):
            runs = [("old", baseline), ("new", today)] if (i + r) % 2 == 0 else [("new", today), ("old", baseline)]
            took, extract = {}, {}
            for label, fn in runs:
                started = time.perf_counter()
                text, extract[label] = fn(q, hits)
                took[label] = time.perf_counter() - started
                if r == 0:
                    hit = norm(q["answer"]) in norm(text)
                    old_ok, new_ok = old_ok + (label == "old" and hit), new_ok + (label == "new" and hit)
            old_s.append(took["old"])
            new_s.append(took["new"])
            ratios.append(took["old"] / took["new"])
            old_x.append(extract["old"])
            new_x.append(extract["new"])
            x_ratios.append(extract["old"] / extract["new"])
    return {
        "baseline": rev, "rounds": rounds,
        "answer_step_s": {
            "baseline": {"p50": round(percentile(old_s, 0.5), 3), "p95": round(percentile(old_s, 0.95), 3)},
            "today": {"p50": round(percentile(new_s, 0.5), 3), "p95": round(percentile(new_s, 0.95), 3)},
        },
        "ratio_of_totals": round(sum(old_s) / sum(new_s), 2),
        "ratio_median": round(statistics.median(ratios), 2),
        "extract_step_s": {
            "baseline": {"p50": round(percentile(old_x, 0.5), 3), "p95": round(percentile(old_x, 0.95), 3)},
            "today": {"p50": round(percentile(new_x, 0.5), 3), "p95": round(percentile(new_x, 0.95), 3)},
        },
        "extract_ratio_of_totals": round(sum(old_x) / sum(new_x), 2),
        "extract_ratio_median": round(statistics.median(x_ratios), 2),
        "correct": {"baseline": old_ok, "today": new_ok, "questions": len(cases)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--models", type=Path, default=REPO / "data" / "models")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", default=None, help="git revision to compare the answer step with")
    parser.add_argument("--questions", type=int, default=None, help="only the first N sample questions")
    args = parser.parse_args()

    questions = [json.loads(line) for line in (SAMPLES / "questions.jsonl").read_text().splitlines() if line.strip()]
    questions = questions[: args.questions]
    services = open_samples(args.data_dir, args.models.resolve())
    who = askers(services, questions)
    service = AnswerService(services, mode="extractive")
    service.ask(questions[0]["question"], who[0])  # load the models before timing
    load_before = os.getloadavg()
    out = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "cpus": os.cpu_count(),
           "load_before": [round(x, 2) for x in load_before]}
    out["stages"] = stages(services, questions, who, args.rounds)
    if args.baseline:
        out["against_baseline"] = against_baseline(services, questions, who, args.baseline, args.rounds)
    out["load_after"] = [round(x, 2) for x in os.getloadavg()]
    services.close()

    print(f"{out['stages']['correct']}/{out['stages']['questions']} sample questions answered with the known answer")
    print(f"{'stage':<10} {'p50 ms':>9} {'p95 ms':>9}")
    for stage, v in out["stages"]["stages_ms"].items():
        print(f"{stage:<10} {v['p50']:>9} {v['p95']:>9}")
    if args.baseline:
        b = out["against_baseline"]
        print(f"answer step (extract + verify) vs {b['baseline']}: p50 {b['answer_step_s']['baseline']['p50']} s → "
              f"{b['answer_step_s']['today']['p50']} s, p95 {b['answer_step_s']['baseline']['p95']} s → "
              f"{b['answer_step_s']['today']['p95']} s; {b['ratio_of_totals']}× faster (totals), "
              f"{b['ratio_median']}× (median per question); correct {b['correct']['baseline']} → "
              f"{b['correct']['today']} of {b['correct']['questions']}")
        x = b["extract_step_s"]
        print(f"extract step alone: p50 {x['baseline']['p50']} s → {x['today']['p50']} s, p95 {x['baseline']['p95']} s → "
              f"{x['today']['p95']} s; {b['extract_ratio_of_totals']}× faster (totals), "
              f"{b['extract_ratio_median']}× (median per question)")
    print(f"load average before {out['load_before']}, after {out['load_after']} on {out['cpus']} CPUs")
    results = REPO / "bench" / "results"
    results.mkdir(exist_ok=True)
    path = results / f"answers-{datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(out, indent=2))
    print(f"wrote {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
