"""`inhouse search`: the documents a user may read, best first."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import typer

from app.cli._common import JsonOpt, cli_errors, services_ctx, split_csv
from app.cli._output import emit_json, fail, table

if TYPE_CHECKING:
    from retrieval.schema import IndexFilter


def parse_filters(items: list[str]) -> "IndexFilter":
    """--filter type=pdf --filter owner=alice --filter after=2026-01-01 --filter title=leave …"""
    from datetime import datetime

    from retrieval.schema import IndexFilter

    where = IndexFilter()
    keys = {"type": "doc_types", "source": "sources", "owner": "owners"}
    for item in items:
        key, sep, value = item.partition("=")
        key, value = key.strip().lower(), value.strip()
        if not sep or not value:
            fail(f"--filter takes KEY=VALUE, got {item!r}")
        if key in keys:
            setattr(where, keys[key], [*(getattr(where, keys[key]) or []), *split_csv(value)])
        elif key in ("after", "before"):
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                fail(f"--filter {key}= needs an ISO date like 2026-01-31, got {value!r}")
            if key == "after":
                where.created_from = moment
            else:
                where.created_to = moment
        elif key == "title":
            where.title = value
        else:
            fail(f"unknown filter {key!r}; use type, source, owner, after, before or title")
    return where


def search(
    text: str,
    as_user: str = typer.Option(..., "--as", help="search as this user (their groups decide what is visible)"),
    mode: Optional[str] = typer.Option(
        None, help="dense | sparse | hybrid | hybrid+rerank (default: the collection's tuned profile)"
    ),
    k: int = typer.Option(10, "--k", min=1, max=1000),
    filters: list[str] = typer.Option([], "--filter", help="KEY=VALUE: type, source, owner, after, before, title"),
    as_json: bool = JsonOpt,
) -> None:
    """Search the documents a user may read."""
    from app.cli._owner import claim_index
    from app.accounts.directory import acl_tokens, get_user
    from app.runtime.operator_client import call
    from app.answering.searching import search_readable
    from app.shapes import SearchShape, dump
    from retrieval.profile import MODES

    if mode is not None and mode not in MODES:
        fail(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    where = parse_filters(filters)
    with services_ctx() as services, cli_errors():
        if (server := claim_index(services)) is not None:  # the server owns the index: it searches
            shape = SearchShape.model_validate(call(server, "/search", {
                "text": text, "as_user": as_user, "k": k, "mode": mode,
                "where": {k_: v.isoformat() if hasattr(v, "isoformat") else v
                          for k_, v in vars(where).items() if v is not None},
            }))
            hits = shape.hits
        else:
            with services.session() as session:
                tokens = acl_tokens(session, get_user(session, as_user))
            hits = search_readable(services, tokens, text, k, mode, where)
            shape = SearchShape.of(hits)
    if as_json:
        emit_json(dump(shape))
    else:
        table(f"results for {text!r}", ["#", "score", "title", "page", "why", "text"],
              [(i + 1, f"{h.score:.3f}", h.title, h.page, h.why, h.text[:160].replace("\n", " "))
               for i, h in enumerate(hits)])
