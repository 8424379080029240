"""`inhouse ask` and `inhouse eval answers`: questions answered from the documents, on the terminal.

``ask`` streams the answer as the model writes it: to stdout normally, to
stderr with ``--json`` so that stdout carries exactly one JSON document.
``--history-file`` keeps a conversation across calls: earlier turns are read
from it (a JSON list of ``{"role", "content"}``) and the new turn appended.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from app.cli import JsonOpt, app, eval_app, models_app, progress_bar, services_ctx
from app.cli_output import emit_json, err, fail, out, table


def _read_history(path: Path | None) -> list[dict]:
    if path is None or not path.exists() or not path.read_text().strip():
        return []
    try:
        turns = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        fail(f"{path} is not JSON: {exc}")
    if not isinstance(turns, list) or not all(
        isinstance(t, dict) and t.get("role") in ("user", "assistant") and isinstance(t.get("content"), str)
        for t in turns
    ):
        fail(f"{path} must hold a JSON list of {{\"role\": \"user\"|\"assistant\", \"content\": ...}}")
    return turns


def _print_answer(result) -> None:
    if result.not_found:
        out.print(f"[bold]{result.answer}[/]")
        return
    out.print(f"\n[dim]support {result.support:.2f} · {result.model} ({result.backend})[/]")
    if result.citations:
        table("sources", ["n", "title", "page", "quote", "how"],
              [(c.n, c.title or c.source, c.page, c.quote, "inferred" if c.inferred else "cited")
               for c in result.citations])
    for sentence in result.unsupported_sentences:
        out.print(f"[yellow]unsupported:[/] {sentence}")


@app.command()
def ask(
    question: str = typer.Argument(..., help="the question"),
    as_user: str = typer.Option(..., "--as", help="answer as this user: only their documents are read"),
    history_file: Optional[Path] = typer.Option(
        None, "--history-file", help="JSON conversation so far; the new turn is appended (follow-ups)"
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Answer a question from the documents a user may read, with citations."""
    from app.answering import AnswerService
    from app.directory import DirectoryError

    if not question.strip():
        fail("the question is empty")
    history = _read_history(history_file)
    sink = sys.stderr if as_json else sys.stdout

    def on_token(piece: str) -> None:
        sink.write(piece)
        sink.flush()

    with services_ctx() as services:
        try:
            services.check_collection(create=False)
            result = AnswerService(services).ask(question, as_user, history, on_token)
        except (DirectoryError, RuntimeError) as exc:  # GeneratorError and index errors say what to do
            fail(str(exc))
    if not result.not_found:
        sink.write("\n")
        sink.flush()
    if history_file is not None:
        turns = history + [{"role": "user", "content": question}, {"role": "assistant", "content": result.answer}]
        history_file.write_text(json.dumps(turns, indent=1, ensure_ascii=False))
    if as_json:
        emit_json(result.as_dict())
    else:
        _print_answer(result)


@eval_app.command("answers")
def eval_answers(
    dataset_dir: Path = typer.Argument(..., help="BEIR folder with answers.jsonl (gold answer strings)"),
    limit: Optional[int] = typer.Option(50, "--limit", min=1, help="first N judged questions"),
    as_user: Optional[str] = typer.Option(
        None, "--as", help="ask as this user (answers are then stored); default: public documents only"
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Answer recall, citation precision and unsupported-sentence share on a QA set."""
    from app.answer_eval import run_answer_eval
    from app.directory import DirectoryError
    from eval.beir import DatasetError

    if not dataset_dir.is_dir():
        fail(f"no such folder: {dataset_dir}")
    with services_ctx() as services, progress_bar() as bars:
        task = bars.add_task("load", total=None)

        def on_progress(stage: str, done: int, total: int) -> None:
            bars.update(task, completed=done, total=total, description=stage)

        try:
            report = run_answer_eval(services, dataset_dir, limit, as_user, on_progress)
        except (DatasetError, DirectoryError, RuntimeError) as exc:
            fail(str(exc))
    if as_json:
        emit_json({**report.summary(), "per_question": [o.__dict__ for o in report.outcomes]})
        return
    summary = report.summary()
    table(f"answer quality: {report.dataset} ({report.questions} questions)", ["metric", "value"],
          [(k, v) for k, v in summary.items() if k not in ("dataset",)])


@models_app.command("convert-gguf")
def models_convert_gguf(
    gguf_file: Path = typer.Argument(..., help="a .gguf model file"),
    out_dir: Path = typer.Argument(..., help="folder to write (config.json, tokenizer, safetensors)"),
) -> None:
    """Turn a GGUF file into a model folder the vLLM backend can load (needs the gpu extra)."""
    from inference.gguf_convert import gguf_to_hf_folder
    from inference.types import GeneratorError

    try:
        err.print(f"wrote {gguf_to_hf_folder(gguf_file, out_dir)}")
    except GeneratorError as exc:
        fail(str(exc))
