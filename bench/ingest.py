"""Ingestion throughput: our pipeline end to end vs the raw encoder vs a plain llama-index pipeline.

    .venv/bin/python bench/ingest.py --docs 1000          # ≈ 10,000 chunks
    .venv/bin/python bench/ingest.py --docs 100 --no-baseline

Prints chunks/s, pages/s (a "page" = 3,000 characters of text), peak RSS, the
ratio of our end-to-end throughput to the raw encoder's on the same chunk texts
(the physical limit on a CPU), and our throughput as a ratio of llama-index's
IngestionPipeline (SentenceSplitter 256/32 + HuggingFaceEmbedding + its Qdrant
vector store) on the same files, all in one process. Writes JSON to bench/results/.

The baseline embeds with the same model: bge-small-en exists here only as the
int8 ONNX export we run, so the benchmark de-quantises it into an fp32
sentence-transformers folder first (``inhouse models dequantize``; cosine 0.997
to the ONNX vectors), which is the folder llama-index's HuggingFace embedding
loads, exactly as a developer with the Hugging Face model would.

Both baselines are rates per chunk, so to keep a 1,000-document run near a
quarter of an hour on two cores the raw encoder is timed on a random sample of
our chunks (``--raw-sample``, 2,000 by default) and llama-index may be given
the first N of the same files (``--baseline-docs``); 0 means all.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

WORDS = ("robot fleet controller warehouse battery firmware incident report expense claim approval manager "
         "contractor leave policy laptop encryption vpn certificate safety inspection rollback database failover "
         "on-call rotation receipt travel booking budget quarterly review onboarding badge visitor office").split()


def synth_docs(folder: Path, n: int, paragraphs: int = 14, seed: int = 0) -> None:
    """Realistic-looking policy documents: headings, numbered rules, ~10 chunks of 256 tokens each."""
    rng = random.Random(seed)
    for d in range(n):
        lines = [f"# Procedure {d}: {rng.choice(WORDS).title()} {rng.choice(WORDS)}", ""]
        for p in range(paragraphs):
            if p % 4 == 0:
                lines += [f"## Section {p // 4 + 1}", ""]
            sentences = [
                f"The {rng.choice(WORDS)} {rng.choice(WORDS)} must be {rng.choice(['approved', 'logged', 'reviewed', 'escalated'])} "
                f"within {rng.randint(1, 90)} days by the {rng.choice(WORDS)} team (rule {d}.{p}.{s}, ref {rng.randint(10000, 99999)})."
                for s in range(rng.randint(5, 9))
            ]
            lines += [" ".join(sentences), ""]
        (folder / f"doc-{d:05d}.md").write_text("\n".join(lines))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_ours(folder: Path, data: Path, models: Path, raw_sample: int = 0) -> dict:
    from app.accounts.directory import add_group
    from app.library.ingestion import IngestService
    from app.services import build_services
    from app.settings import Settings

    services = build_services(Settings(data_dir=data, models_dir=models))
    with services.session() as s:
        add_group(s, "bench")
    # what a running server has done before the first upload (web/app.py): models loaded,
    # parsers warmed up, index open
    from ingest.pipeline import warm_up

    warm_up(services.settings.preparation(), services.encoder)
    services.check_collection(create=True)
    start = time.perf_counter()
    results = IngestService(services).ingest_paths([folder], groups=["bench"])
    elapsed = time.perf_counter() - start
    chunks = sum(r.chunks for r in results)
    ids = list(services.index.ids())
    if raw_sample and len(ids) > raw_sample:  # a rate per chunk: a random sample of the same chunks gives it
        ids = random.Random(1).sample(ids, raw_sample)
    texts = [h.payload for h in services.index.get(ids)]
    embed_texts = [f"{p['title']} > {' > '.join(p['heading_path'])}\n\n{p['text']}" if p["heading_path"]
                   else f"{p['title']}\n\n{p['text']}" for p in texts]
    start = time.perf_counter()
    services.encoder.encode_documents(embed_texts)
    raw = time.perf_counter() - start
    chars = sum(len(f.read_text()) for f in folder.iterdir())  # pages of input text, not of the sample
    services.close()
    return {"docs": len(results), "failed": sum(r.status != "ready" for r in results), "chunks": chunks,
            "seconds": elapsed, "chunks_per_s": chunks / elapsed, "pages_per_s": chars / 3000 / elapsed,
            "raw_encoder_seconds": raw, "raw_encoder_chunks": len(embed_texts),
            "raw_encoder_chunks_per_s": len(embed_texts) / raw}


def run_llama_index(folder: Path, work: Path, st_model: Path, tokenizer_dir: Path, limit: int = 0) -> dict:
    from llama_index.core import SimpleDirectoryReader
    from llama_index.core.ingestion import IngestionPipeline
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.qdrant import QdrantVectorStore
    from qdrant_client import QdrantClient
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
    # the same batch size as ours (its default is 10): the strongest baseline, not the laziest
    embed = HuggingFaceEmbedding(model_name=str(st_model), device="cpu", embed_batch_size=32)
    store = QdrantVectorStore(client=QdrantClient(path=str(work / "li-qdrant")), collection_name="bench")
    pipeline = IngestionPipeline(
        transformations=[SentenceSplitter(chunk_size=256, chunk_overlap=32,
                                          tokenizer=lambda t: tok.encode(t, add_special_tokens=False).ids), embed],
        vector_store=store,
    )
    start = time.perf_counter()
    files = sorted(folder.iterdir())[:limit] if limit else sorted(folder.iterdir())
    docs = SimpleDirectoryReader(input_files=files).load_data()
    nodes = pipeline.run(documents=docs)
    elapsed = time.perf_counter() - start
    return {"chunks": len(nodes), "seconds": elapsed, "chunks_per_s": len(nodes) / elapsed,
            "embedder": st_model.name, "docs": len(docs)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--models", type=Path, default=Path("data/models"))
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--raw-sample", type=int, default=2000,
                        help="chunks the raw encoder is timed on (a random sample of ours; 0 = all)")
    parser.add_argument("--baseline-docs", type=int, default=0,
                        help="documents llama-index ingests (the first N of the same files; 0 = all)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="inhouse-bench-"))
    folder = work / "docs"
    folder.mkdir()
    synth_docs(folder, args.docs)
    ours = run_ours(folder, work / "data", args.models.resolve(), args.raw_sample)
    report = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "docs": args.docs, "ours": ours,
              "ratio_to_raw_encoder": ours["chunks_per_s"] / ours["raw_encoder_chunks_per_s"],
              "peak_rss_mb": peak_rss_mb()}
    print(f"ours end to end      {ours['chunks_per_s']:.1f} chunks/s; raw encoder {ours['raw_encoder_chunks_per_s']:.1f} "
          f"chunks/s; ratio {report['ratio_to_raw_encoder']:.2f} (llama-index baseline next)", flush=True)
    if not args.no_baseline:
        from ingest.onnx_dequantize import dequantize_to_sentence_transformers

        bge = args.models.resolve() / "bge-small-en"
        fp32 = dequantize_to_sentence_transformers(bge, work / "bge-small-en-fp32")
        li = run_llama_index(folder, work, fp32, bge, args.baseline_docs)
        report["llama_index"] = li
        report["ratio_to_llama_index"] = ours["chunks_per_s"] / li["chunks_per_s"]
    print(f"documents            {ours['docs']} ({ours['failed']} failed), chunks {ours['chunks']}")
    print(f"ours end to end      {ours['chunks_per_s']:.1f} chunks/s, {ours['pages_per_s']:.1f} pages/s, {ours['seconds']:.1f} s")
    print(f"raw encoder          {ours['raw_encoder_chunks_per_s']:.1f} chunks/s on {ours['raw_encoder_chunks']} of the same chunk texts")
    print(f"ratio to raw encoder {report['ratio_to_raw_encoder']:.2f}")
    if "llama_index" in report:
        li = report["llama_index"]
        print(f"llama-index          {li['chunks_per_s']:.1f} chunks/s ({li['docs']} documents, {li['chunks']} chunks, "
              f"embedder {li['embedder']})")
        print(f"ratio to llama-index {report['ratio_to_llama_index']:.2f}")
    print(f"peak RSS             {report['peak_rss_mb']:.0f} MB")
    out = Path(__file__).parent / "results" / f"ingest-{args.docs}.json"
    out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
