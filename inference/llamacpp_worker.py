"""The child process that holds the llama.cpp model (the parent side is ``llamacpp_isolated``).

llama.cpp is native code compiled on the machine that installs it; when it
crashes (a segfault in ``decode``, an abort in an assertion) it takes its whole
process with it. So the model lives here, in a process of its own, and the
parent talks to it over one ``multiprocessing`` pipe. Nothing in this module
is imported by the parent except to name the entry point.

The child is ``python -m inference.llamacpp_worker FD``, FD its end of a socket
pair. Protocol, parent → child (tuples): first ``("load", model_path, n_ctx,
n_threads, seed)``, then ``("render", rid, messages)``,
``("tokenize", rid, text, add_bos)``, ``("generate", rid, prompt_ids, params)``,
``("stop", rid)``, ``("close",)``.
Child → parent: ``("ready", info)`` or ``("init_error", kind, message)`` once,
then ``("result", rid, value)``, ``("error", rid, kind, message)`` and, for a
generation, ``("text", rid, piece)``, ``("finish", rid, reason)`` and a last
``("done", rid, completion_tokens, engine_tokens, context_tokens)``.

Render and tokenize are answered at once by the reading thread, so budgeting
one request never waits behind another request's generation (the in-process
generator behaved the same way); generations run one after another in a
second thread, as llama.cpp holds one context.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import asdict
from multiprocessing.connection import Connection
from pathlib import Path

from inference.types import GenerationParams


def serve(conn: Connection) -> None:
    """Load the model the parent names, then answer until the pipe closes."""
    from inference.llamacpp import LlamaCppGenerator

    try:
        _, model_path, n_ctx, n_threads, seed = conn.recv()
    except (EOFError, OSError):
        return
    try:
        engine = LlamaCppGenerator(Path(model_path), n_ctx=n_ctx, n_threads=n_threads, seed=seed)
    except Exception as exc:  # a Python-level failure: the parent raises it as the same kind
        conn.send(("init_error", type(exc).__name__, str(exc)))
        return
    conn.send(("ready", {"model_id": engine.model_id, "max_model_len": engine.max_model_len}))
    send_lock = threading.Lock()

    def send(message: tuple) -> None:
        with send_lock:
            conn.send(message)

    stops: dict[int, threading.Event] = {}
    work: queue.Queue = queue.Queue()

    def generations() -> None:
        while (job := work.get()) is not None:
            rid, prompt, params = job
            stop = stops.get(rid) or threading.Event()
            pieces: list[str] = []
            engine_tokens = 0
            try:
                for kind, value in engine.stream_tokens(prompt, GenerationParams(**params), stop):
                    if kind == "text":
                        pieces.append(value)
                        engine_tokens += 1
                    send((kind, rid, value))
                send(("done", rid, engine.count_tokens("".join(pieces)), engine_tokens,
                      engine.context_tokens))
            except Exception as exc:
                send(("error", rid, type(exc).__name__, str(exc)))
            finally:
                stops.pop(rid, None)

    worker = threading.Thread(target=generations, name="llamacpp-generate", daemon=True)
    worker.start()
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):  # the parent went away: so do we
            break
        op, rest = message[0], message[1:]
        if op == "close":
            break
        rid = rest[0]
        try:
            if op == "render":
                send(("result", rid, engine.render(rest[1])))
            elif op == "tokenize":
                send(("result", rid, engine.tokenize(rest[1], add_bos=rest[2])))
            elif op == "generate":
                stops[rid] = threading.Event()
                work.put((rid, rest[1], rest[2]))
            elif op == "stop" and (event := stops.get(rid)) is not None:
                event.set()
        except Exception as exc:
            send(("error", rid, type(exc).__name__, str(exc)))
    for event in list(stops.values()):
        event.set()
    work.put(None)
    worker.join(timeout=30)
    engine.close()


def params_payload(params: GenerationParams) -> dict:
    """What crosses the pipe for a request's sampling (a plain dict)."""
    return asdict(params)


if __name__ == "__main__":
    import sys

    serve(Connection(int(sys.argv[1])))
