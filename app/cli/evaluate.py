"""`inhouse eval …`: run, compare, tune, plot, list, export-feedback, answers, gate."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

import typer

from app.cli._common import JsonOpt, cli_errors, progress_bar, services_ctx, split_csv
from app.cli._output import emit_json, err, fail, table
from app.errors import EXPECTED

eval_app = typer.Typer(no_args_is_help=True, help="Evaluate retrieval and answers.")

HEADLINE = ("ndcg@10", "mrr@10", "recall@10", "recall@100", "latency_p50_ms", "latency_p95_ms")


def parse_ks(value: str) -> list[int]:
    try:
        ks = sorted({int(k) for k in split_csv(value)})
    except ValueError:
        fail(f"--k takes comma-separated whole numbers, got {value!r}")
    if not ks or ks[0] < 1:
        fail("--k needs at least one cut-off of 1 or more")
    return ks


@contextmanager
def eval_target(services, dataset_dir: Path, limit: Optional[int], collection: Optional[str], as_user: Optional[str],
                bars) -> Iterator[tuple]:
    """(dataset, collection name, open index, ACL tokens): an eval collection built from the
    corpus, or, with --collection (or a set `export-feedback` wrote), an existing collection
    searched as --as USER, judged only on the documents that user can read."""
    from app.accounts.directory import acl_tokens, get_user
    from eval.beir import load_beir
    from app.evaluation.collections import check_embed_model, ensure_collection
    from app.evaluation.org_data import read_origin, readable_only
    from retrieval.schema import PUBLIC_TOKEN

    origin = read_origin(dataset_dir) if collection is None and dataset_dir.is_dir() else None
    if origin is not None:
        collection = origin.collection  # the organisation's documents are evaluated where they are
        if not as_user:
            fail(f"{dataset_dir} was exported from the collection {collection!r}: its documents are the "
                 "organisation's, so say whose access the evaluation reads with --as USER")
    with cli_errors():
        dataset = load_beir(dataset_dir, limit, need_corpus=collection is None)
    tasks: dict[str, int] = {}
    logged: dict[str, int] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bars.add_task(stage, total=total)
        bars.update(tasks[stage], completed=done, total=total)
        if not err.is_terminal:  # no live bars in a log: a line every tenth instead
            tenth = done * 10 // max(total, 1)
            if tenth > logged.get(stage, -1):
                logged[stage] = tenth
                err.print(f"{stage}: {done}/{total}")

    try:
        if collection is None:
            built = ensure_collection(services, dataset, progress)
            name, tokens = built.name, [PUBLIC_TOKEN]
            err.print(f"collection {name}: {built.chunks} chunks of {built.documents} documents"
                      + (" (reused)" if built.reused else " (built)"))
        else:
            if not as_user:
                fail("--collection searches an organisation's collection: say whose access to use with --as USER")
            with services.session() as session:
                tokens = acl_tokens(session, get_user(session, as_user))
            check_embed_model(services, collection)
            name = collection
    except (*EXPECTED, ValueError) as exc:  # ValueError: a corpus-less folder, an unknown collection
        fail(str(exc))
    index = services.open_index(name)
    try:
        if collection is not None:
            try:  # judgments on what this reader cannot see must not score, nor be stored with the run
                dataset = readable_only(index, tokens, dataset, as_user)
            except EXPECTED as exc:
                fail(str(exc))
        yield dataset, name, index, tokens, progress
    finally:
        index.close()


def _stored_results(runs: list[str]) -> list:
    """The stored results `compare` and `plot` name (RUN or RUN:MODE), or a message and exit 1."""
    from app.evaluation.runs import RunNotFound, load_results

    with services_ctx() as services:
        try:
            return load_results(services, runs)
        except RunNotFound as exc:
            fail(str(exc))


@eval_app.command("run")
def eval_run(
    dataset_dir: Path = typer.Argument(..., help="a BEIR folder: corpus.jsonl, queries.jsonl, qrels/test.tsv"),
    modes: str = typer.Option("dense,sparse,hybrid,hybrid+rerank",
                              help="comma-separated: dense, sparse, hybrid, hybrid+rerank, default (the stored profile)"),
    ks: str = typer.Option("1,3,5,10,100", "--k", help="cut-offs for recall@k and precision@k"),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="only the first N judged queries"),
    collection: Optional[str] = typer.Option(None, help="evaluate an existing collection instead of the corpus"),
    as_user: Optional[str] = typer.Option(
        None, "--as", help="with --collection or an exported feedback set: whose access the searches use"),
    note: Optional[str] = typer.Option(None, help="a note stored with the run"),
    as_json: bool = JsonOpt,
) -> None:
    """Run every query through the real search path in each mode; score with ranx; store the run."""
    from eval.runner import run_modes
    from app.evaluation.runs import save_run
    from retrieval.profile import MODES

    mode_list = split_csv(modes)
    unknown = [m for m in mode_list if m not in (*MODES, "default")]
    if unknown or not mode_list:
        fail(f"unknown mode(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(MODES)}, default")
    k_list = parse_ks(ks)
    with services_ctx() as services, progress_bar() as bars:
        with eval_target(services, dataset_dir, limit, collection, as_user, bars) as (ds, name, index, tokens, progress):
            results = run_modes(lambda profile: services.searcher_for(index, profile), ds, mode_list, k_list,
                                acl_tokens=tokens,
                                stored=services.search_profile(name), progress=progress)
            run_id = save_run(services, ds, name, results, k_list, list(ds.queries), note=note,
                              extra_settings={"as_user": as_user} if as_user else None)
    payload = {
        "run_id": run_id, "dataset": ds.name, "collection": name, "queries": len(ds.queries),
        "results": {r.mode: r.summary() for r in results},
    }
    if as_json:
        emit_json(payload)
        return
    cols = [c for c in HEADLINE if any(c in r.summary() for r in results)]
    extra = sorted({m for r in results for m in r.metrics if m.startswith("answer_recall")},
                   key=lambda m: int(m.split("@")[1]))
    table(f"run {run_id}: {ds.name}, {len(ds.queries)} queries", ["mode", *cols, *extra],
          [(r.mode, *(r.summary().get(c, "") for c in cols), *(r.metrics.get(c, "") for c in extra)) for r in results])


@eval_app.command("compare")
def eval_compare(
    runs: list[str] = typer.Argument(..., help="RUN (all its modes) or RUN:MODE, two or more in all"),
    metrics: str = typer.Option("ndcg@10,mrr@10,recall@10,recall@100", help="comma-separated metrics"),
    stat_test: str = typer.Option("student", "--test", help="ranx paired test: student, fisher or tukey"),
    as_json: bool = JsonOpt,
) -> None:
    """Side by side, with differences to the first and ranx's paired significance test."""
    from eval.metrics import significance

    results = _stored_results(runs)
    if len(results) < 2:
        fail("compare needs at least two results (give two runs, or one run with several modes)")
    if len({r.dataset_hash for r in results}) > 1:
        err.print("[yellow]warning:[/] these runs were made on different data sets (or versions of one); "
                  "only the queries they share are compared")
    metric_list = split_csv(metrics)
    qrels = results[0].qrels
    test = significance(qrels, {r.label: r.rankings for r in results}, metric_list, stat_test)
    base = results[0]
    rows = []
    for r in results:
        row = {"run": r.label, "latency_p50_ms": r.latency_p50_ms, "latency_p95_ms": r.latency_p95_ms}
        for m in metric_list:
            value = test["scores"][r.label][m]
            row[m] = value
            if r is not base:
                row[f"{m} Δ"] = round(value - test["scores"][base.label][m], 4)
                row[f"{m} p"] = round(test["p_values"][r.label][base.label][m], 4)
        rows.append(row)
    if as_json:
        emit_json({"baseline": base.label, "stat_test": test["stat_test"], "queries": test["queries"],
                   "results": rows, "p_values": test["p_values"]})
        return
    cols = ["run"] + [c for m in metric_list for c in (m, f"{m} Δ", f"{m} p")] + ["latency_p50_ms", "latency_p95_ms"]
    table(f"compared on {test['queries']} shared queries (Δ and p against {base.label}, {test['stat_test']} test)",
          cols, [[row.get(c, "") for c in cols] for row in rows])


@eval_app.command("tune")
def eval_tune(
    dataset_dir: Path = typer.Argument(..., help="a BEIR folder (or one written by `eval export-feedback`)"),
    collection: Optional[str] = typer.Option(None, help="tune an existing collection instead of the corpus's own"),
    as_user: Optional[str] = typer.Option(None, "--as", help="with --collection: whose access the searches use"),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="only the first N judged queries"),
    save: bool = typer.Option(True, "--save/--no-save", help="store the choice as the collection's search profile"),
    no_rerank: bool = typer.Option(False, "--no-rerank", help="do not try re-ranking (no cross-encoder needed)"),
    as_json: bool = JsonOpt,
) -> None:
    """Choose fusion, weights, candidate counts and re-ranking on half the queries; report on the other half."""
    from dataclasses import replace

    from app.evaluation.runs import save_run
    from eval.tune import FIXED_MODES, TuneGrid, describe, tune

    grid = replace(TuneGrid(), rerank_depths=()) if no_rerank else TuneGrid()
    with services_ctx() as services, progress_bar() as bars:
        with eval_target(services, dataset_dir, limit, collection, as_user, bars) as (ds, name, index, tokens, progress):
            try:
                result = tune(lambda profile: services.searcher_for(index, profile), lambda: services.cross_encoder,
                              name, ds, grid, acl_tokens=tokens, progress=progress)
            except ValueError as exc:
                fail(str(exc))
            result.run_id = save_run(
                services, ds, name, result.held_out, [1, 3, 5, 10, 100], result.held_qids, kind="tune",
                note=f"held-out half of a tune; chosen: {describe(result.chosen)}",
                extra_settings={"tuned_profile": result.chosen.as_dict(),
                                **({"as_user": as_user} if as_user else {})},
            )
            if save:  # on record, as applying from the browser is (app.evaluation.profiles)
                from app.accounts.actor import Actor
                from app.evaluation.profiles import set_profile

                set_profile(services, Actor.operator(), name, result.chosen, result.run_id)
    payload = {**result.as_dict(), "saved": save}
    if as_json:
        emit_json(payload)
        return
    err.print(f"chosen for {name}: [bold]{describe(result.chosen)}[/]" + (" (saved)" if save else " (not saved)"))
    if result.rerank_p_value is not None:
        err.print(f"re-ranking on the tune half: best {result.rerank_trials[0].as_dict()['profile']} "
                  f"nDCG@10 {result.rerank_trials[0].ndcg:.4f}, p = {result.rerank_p_value:.4f}")
    table(f"held-out half ({len(result.held_qids)} queries), run {result.run_id}",
          ["mode", "tune-half nDCG@10", *HEADLINE],
          [(r.mode, result.tune_half.get(r.mode, ""), *(r.summary().get(c, "") for c in HEADLINE))
           for r in result.held_out if r.mode in (*FIXED_MODES, "tuned")])


@eval_app.command("list")
def eval_list(limit: int = typer.Option(50, "--limit"), as_json: bool = JsonOpt) -> None:
    """Stored runs, newest first."""
    from app.evaluation.runs import list_runs

    with services_ctx() as services:
        runs = list_runs(services, limit)
    if as_json:
        emit_json({"runs": runs})
        return
    table("runs", ["run", "when", "kind", "dataset", "queries", "commit", "nDCG@10 by mode"],
          [(r["run_id"], r["created_at"][:19], r["kind"], r["dataset"], r["queries"], (r["git_commit"] or "")[:12],
            ", ".join(f"{m} {v}" for m, v in r["modes"].items())) for r in runs])


@eval_app.command("plot")
def eval_plot(
    runs: list[str] = typer.Argument(..., help="RUN or RUN:MODE, one or more"),
    out: Path = typer.Option(..., "--out", help="PNG file to write"),
    metrics: str = typer.Option("ndcg@10,mrr@10,recall@10,recall@100", help="comma-separated metrics"),
    as_json: bool = JsonOpt,
) -> None:
    """Plot stored runs side by side (quality bars and latency) into a PNG."""
    from eval.plots import plot_results

    results = _stored_results(runs)
    try:
        path = plot_results(results, out, split_csv(metrics))
    except ValueError as exc:
        fail(str(exc))
    if as_json:
        emit_json({"out": str(path), "results": [r.label for r in results]})
    else:
        err.print(f"wrote {path}")


@eval_app.command("export-feedback")
def eval_export_feedback(
    out_dir: Path = typer.Argument(..., help="folder to write the BEIR set into"),
    collection: Optional[str] = typer.Option(None, help="whose feedback (default: the main collection)"),
    as_json: bool = JsonOpt,
) -> None:
    """Write readers' feedback (thumbs up / wrong sources) as a BEIR folder for `eval run|tune`."""
    from app.answering.feedback import export_feedback

    with services_ctx() as services, cli_errors():
        summary = export_feedback(services, out_dir, collection)
    if as_json:
        emit_json(summary)
    else:
        err.print(f"wrote {summary['judgments']} judgments on {summary['queries']} questions "
                  f"and {summary['documents']} documents to {out_dir}")


@eval_app.command("answers")
def eval_answers(
    dataset_dir: Path = typer.Argument(..., help="BEIR folder with answers.jsonl (gold answer strings)"),
    limit: Optional[int] = typer.Option(50, "--limit", min=1, help="first N judged questions"),
    offset: int = typer.Option(0, "--offset", min=0, help="skip this many judged questions first (a second slice)"),
    as_user: Optional[str] = typer.Option(
        None, "--as", help="ask as this user (answers are then stored); default: public documents only"
    ),
    mode: str = typer.Option(
        "auto", "--mode", help="auto (the answer_mode setting), generative, extractive, or both side by side"
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Answer recall, citation precision and unsupported-sentence share on a QA set."""
    from app.evaluation.answers import run_answer_eval

    if not dataset_dir.is_dir():
        fail(f"no such folder: {dataset_dir}")
    if mode not in ("auto", "generative", "extractive", "both"):
        fail(f"unknown mode {mode!r}: auto, generative, extractive or both")
    modes = ["extractive", "generative"] if mode == "both" else [None if mode == "auto" else mode]
    reports = []
    with services_ctx() as services, progress_bar() as bars:
        task = bars.add_task("load", total=None)

        def on_progress(stage: str, done: int, total: int) -> None:
            bars.update(task, completed=done, total=total, description=stage)

        with cli_errors():
            for one in modes:
                reports.append(run_answer_eval(services, dataset_dir, limit, as_user, on_progress, one, offset=offset))
    if as_json:
        docs = [{**r.summary(), "per_question": [o.__dict__ for o in r.outcomes]} for r in reports]
        emit_json(docs[0] if len(docs) == 1 else {"modes": {r.backend if r.backend == "extractive" else "generative": d
                                                             for r, d in zip(reports, docs)}})
        return
    summaries = [r.summary() for r in reports]
    table(f"answer quality: {reports[0].dataset} ({reports[0].questions} questions)",
          ["metric", *[s.get("backend") or "?" for s in summaries]],
          [(k, *[s[k] for s in summaries]) for k in summaries[0] if k not in ("dataset",)])


GATE_FAILED = 3  # not 1 (an error: no such run, no baseline) nor 2 (a usage error): the run regressed


@eval_app.command("gate")
def eval_gate(
    run_id: Optional[int] = typer.Argument(None, help="the run to check against its data set's baseline"),
    set_baseline_run: Optional[int] = typer.Option(
        None, "--set-baseline", help="make this run its data set's baseline (instead of checking one)"),
    tolerance: float = typer.Option(0.02, "--tolerance", min=0.0,
                                    help="how far recall@10 or nDCG@10 may drop below the baseline"),
    as_json: bool = JsonOpt,
) -> None:
    """Fail (exit 3) when a run's recall@10 or nDCG@10 dropped below its data set's baseline by more
    than the tolerance, in any mode both runs measured; put it in front of a model, chunking or profile change."""
    from app.accounts.actor import Actor
    from app.evaluation.gate import gate_run, set_baseline

    if (run_id is None) == (set_baseline_run is None):
        fail("give a RUN to check, or --set-baseline RUN (one of the two)")
    with services_ctx() as services, cli_errors():
        if set_baseline_run is not None:
            saved = set_baseline(services, Actor.operator(), set_baseline_run)
            if as_json:
                emit_json(saved)
            else:
                err.print(f"run {saved['baseline_run_id']} is now the baseline of {saved['dataset']}")
            return
        result = gate_run(services, run_id, tolerance)
    if as_json:
        emit_json(result.as_dict())
    else:
        table(f"run {result.run_id} against baseline {result.baseline_run_id} ({result.dataset}), "
              f"tolerance {result.tolerance}", ["mode", "metric", "baseline", "run", "Δ", ""],
              [(r.mode, r.metric, r.baseline, r.value, r.delta, "ok" if r.ok else "FAIL") for r in result.rows])
        if not result.same_data:
            err.print("[yellow]warning:[/] the data set's files changed since the baseline run")
        err.print("gate: [bold green]passed[/]" if result.passed else "gate: [bold red]failed[/]")
    if not result.passed:
        raise typer.Exit(GATE_FAILED)
