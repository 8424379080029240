"""`inhouse ask`: a question answered from the documents a user may read, on the terminal.

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

from app.cli._common import JsonOpt, cli_errors, services_ctx
from app.cli._output import emit_json, fail, out, table


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


def ask(
    question: str = typer.Argument(..., help="the question"),
    as_user: str = typer.Option(..., "--as", help="answer as this user: only their documents are read"),
    history_file: Optional[Path] = typer.Option(
        None, "--history-file", help="JSON conversation so far; the new turn is appended (follow-ups)"
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Answer a question from the documents a user may read, with citations."""
    from app.answering.service import AnswerService
    from app.cli._owner import claim_index
    from app.runtime.operator_client import call
    from app.shapes import AnswerShape

    if not question.strip():
        fail("the question is empty")
    history = _read_history(history_file)
    sink = sys.stderr if as_json else sys.stdout

    def on_token(piece: str) -> None:
        sink.write(piece)
        sink.flush()

    with services_ctx() as services, cli_errors():  # GeneratorError and index errors say what to do
        if (server := claim_index(services)) is not None:  # the server owns the index: it answers, whole
            result = AnswerShape.model_validate(
                call(server, "/ask", {"question": question, "as_user": as_user, "history": history}))
            if not result.not_found:
                on_token(result.answer)
        else:
            services.check_collection(create=False)
            result = AnswerService(services).ask(question, as_user, history, on_token)
    if not result.not_found:
        sink.write("\n")
        sink.flush()
    if history_file is not None:
        turns = history + [{"role": "user", "content": question}, {"role": "assistant", "content": result.answer}]
        history_file.write_text(json.dumps(turns, indent=1, ensure_ascii=False))
    if as_json:
        from app.shapes import dump

        emit_json(dump(result if isinstance(result, AnswerShape) else AnswerShape.of(result)))
    else:
        _print_answer(result)
