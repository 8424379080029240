"""`inhouse tokens create|list|revoke`: API tokens for other applications, made by the operator.

``create`` prints the token once (with ``--json``, in the ``token`` field);
nothing can show it again, only its prefix. The operator at the shell may list
and revoke every user's tokens.
"""

from __future__ import annotations

from typing import Optional

import typer

from app.cli._common import JsonOpt, cli_errors, services_ctx, split_csv
from app.cli._output import emit_json, err, out, table

tokens_app = typer.Typer(no_args_is_help=True, help="API tokens: create, list, revoke.")


def _rows(views: list[dict]) -> list[tuple]:
    return [(t["id"], t["user"], t["name"], t["prefix"] + "…", ",".join(t["scopes"]), t["state"],
             t["expires_at"][:10], (t["last_used_at"] or "never")[:19]) for t in views]


COLUMNS = ["id", "user", "name", "prefix", "scopes", "state", "expires", "last used"]


@tokens_app.command("create")
def tokens_create(
    user: str = typer.Argument(..., help="the token acts as this user, with their groups at each call"),
    name: str = typer.Option(..., "--name", help="what will use it, e.g. 'intranet bot'"),
    scopes: str = typer.Option("ask", "--scopes",
                               help="comma-separated: ask, search, documents:read, documents:write, eval, admin"),
    days: int = typer.Option(90, "--days", help="expires after this many days (1 to 365)"),
    as_json: bool = JsonOpt,
) -> None:
    """Make a token; it is printed once and never again."""
    from app.accounts import tokens
    from app.accounts.directory import get_user

    with services_ctx() as services, cli_errors(), services.session() as session:
        made = tokens.create(session, get_user(session, user), name, split_csv(scopes), days).as_dict()
    if as_json:
        emit_json(made)
        return
    table("token", COLUMNS, _rows([made]))
    err.print("[bold]Copy the token now; it is shown only this once:[/]")
    out.print(made["token"], highlight=False, soft_wrap=True)


@tokens_app.command("list")
def tokens_list(user: Optional[str] = typer.Option(None, "--user", help="only this user's tokens"),
                as_json: bool = JsonOpt) -> None:
    """Every token (or one user's): never the token itself, only its prefix."""
    from app.accounts import tokens
    from app.accounts.directory import get_user

    with services_ctx() as services, cli_errors(), services.session() as session:
        views = [t.as_dict() for t in tokens.list_for(session, get_user(session, user) if user else None)]
    emit_json({"tokens": views}) if as_json else table("tokens", COLUMNS, _rows(views))


@tokens_app.command("revoke")
def tokens_revoke(token_id: int, as_json: bool = JsonOpt) -> None:
    """Stop a token at once (its next request is refused)."""
    from app.accounts import tokens

    with services_ctx() as services, cli_errors(), services.session() as session:
        view = tokens.revoke(session, token_id).as_dict()
    emit_json(view) if as_json else err.print(f"revoked token {view['id']} ({view['name']}) of {view['user']}")
