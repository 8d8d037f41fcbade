"""Side-by-side speed of Maeum's emotion classifiers (``make bench``).

Each model is measured in a fresh subprocess (honest load time and memory):

* load time of ``load_classifier`` (imports counted separately),
* single-sentence latency p50 / p95 (one ``predict([text])`` per message),
* batch-32 throughput (sentences per second),
* resident memory after the run (peak RSS),

for the baseline (``model/baseline``, skipped when absent), the shipped transformer
(``model/transformer``, as shipped, in the other precision, and built through ``transformers``
instead of :mod:`nlp.bert_lite`), the default ensemble of the two (``model/ensemble``), and a
KoBERT-base-shaped model (hidden 768, 12 layers, 12 heads, vocab 8002, random weights, built in
a temporary folder) in fp32 and int8. The texts are the chat-style training messages (``data/chat/train.tsv``) or, when
that file is missing, a built-in list.

    python bench/bench_classifier.py [--threads 2] [--json out.json] [--skip-kobert]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

GOALS = {"p50_ms": 5.0, "batch32_per_s": 1000.0, "load_s": 2.0}
FALLBACK_TEXTS = [
    "오늘 합격 소식 들었어 너무 행복해", "내일 발표인데 너무 떨리고 불안해", "강아지가 무지개다리를 건넜어 너무 보고싶다",
    "진짜 어이없네 왜 나한테 화풀이야", "주말에 친구들이랑 바다 가기로 했어 신난다", "면접 결과가 안 나와서 잠이 안 와",
    "요즘 너무 외롭고 아무도 내 얘기를 안 들어줘", "약속 시간 한 시간이나 늦어놓고 사과도 안 하네", "엄마가 끓여준 된장찌개 먹으니까 살 것 같다",
    "시험 망친 것 같아서 걱정돼 죽겠어", "헤어지고 나서 아무것도 하기 싫어", "팀장님이 또 내 탓만 해서 열받아",
]


def bench_texts() -> list[str]:
    chat = REPO / "data" / "chat" / "train.tsv"
    texts: list[str] = []
    if chat.is_file():
        for line in chat.read_text(encoding="utf-8").splitlines():
            if "\t" in line and not line.startswith("#"):
                text = line.rsplit("\t", 1)[0].strip()
                if text and text.lower() != "text":
                    texts.append(text)
    if len(texts) < 64:
        texts = FALLBACK_TEXTS * 20
    random.Random(0).shuffle(texts)
    return texts


def rss_mb() -> float:
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    except ImportError:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


# ----------------------------------------------------------------------------- worker

def worker(model_dir: str, quantize: str | None, threads: int, singles: int, batches: int, lite: bool = True) -> dict:
    t0 = time.perf_counter()
    from nlp.transformer_threads import configure_torch_threads

    configure_torch_threads(threads)
    from nlp.classifier import load_classifier, read_manifest

    kind = read_manifest(model_dir).get("kind")
    if kind in ("transformer", "ensemble"):
        from nlp.transformer import preload

        preload()  # torch + the inference code: reported as import time, apart from loading
        if not lite:
            from transformers import BertForSequenceClassification  # noqa: F401
    import_s = time.perf_counter() - t0
    rss_before = rss_mb()
    t1 = time.perf_counter()
    if kind == "transformer" and (quantize is not None or not lite):
        from nlp.transformer import TransformerClassifier

        q = False if quantize is None else (None if quantize == "none" else quantize)
        clf = TransformerClassifier.load(model_dir, quantize=q, lite=lite)
    else:
        clf = load_classifier(model_dir)
    load_s = time.perf_counter() - t1
    texts = bench_texts()
    for t in texts[:10]:  # warm-up
        clf.predict([t])
    clf.predict(texts[:32])
    lat = []
    for t in texts[:singles]:
        s = time.perf_counter()
        clf.predict([t])
        lat.append((time.perf_counter() - s) * 1000)
    lat.sort()
    pool = (texts * (1 + (32 * batches) // len(texts)))[: 32 * batches]
    s = time.perf_counter()
    for b in range(batches):
        clf.predict(pool[b * 32 : (b + 1) * 32])
    batch_s = time.perf_counter() - s
    tokens = None
    tok = getattr(clf, "tokenizer", None)
    if tok is not None:
        enc = tok(texts[:200], max_length=getattr(clf, "max_length", 64), return_tensors="pt")
        tokens = float(enc["attention_mask"].sum()) / 200
    return {
        "import_s": round(import_s, 3),
        "load_s": round(load_s, 3),
        "p50_ms": round(statistics.median(lat), 2),
        "p95_ms": round(lat[int(0.95 * (len(lat) - 1))], 2),
        "batch32_per_s": round(32 * batches / batch_s, 1),
        "rss_mb": round(rss_mb(), 1),
        "rss_model_mb": round(rss_mb() - rss_before, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "tokens_per_text": round(tokens, 1) if tokens else None,
        "version": clf.version,
    }


# ----------------------------------------------------------------------------- KoBERT-shaped model

def build_kobert_shaped(folder: Path) -> Path:
    """spiece.model with the KoBERT layout (vocab <= 8002, trained on the bench texts or
    NSMC when available) + BertConfig(768, 12 layers, 12 heads, vocab 8002) random weights."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from nlp.labels import LABELS
    from nlp.tokenization import SentencePieceBertTokenizer, train_sentencepiece

    texts = bench_texts()
    nsmc = REPO.parent / "shared" / "data" / "nsmc" / "reviews.tsv.gz"
    if nsmc.is_file():
        import gzip

        with gzip.open(nsmc, "rt", encoding="utf-8") as handle:
            next(handle, None)
            texts = texts + [line.rstrip("\n").partition("\t")[2] for _, line in zip(range(60_000), handle)]
    train_sentencepiece(texts, folder / "spiece", vocab_size=8002, input_sentence_size=0, seed=1)
    tokenizer = SentencePieceBertTokenizer.from_dir(folder)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=8002, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                        intermediate_size=3072, max_position_embeddings=512, pad_token_id=1, num_labels=len(LABELS))
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    manifest = {"kind": "transformer", "version": "kobert-base-shaped-random", "labels": list(LABELS), "max_chars": 300,
                "max_length": 64, "temperature": 1.0, "tokenizer": "sentencepiece", "quantize": None}
    (folder / "maeum_model.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


def folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file()) / 2**20


# ----------------------------------------------------------------------------- driver

def run_worker(model_dir: Path, quantize: str | None, args: argparse.Namespace, singles: int, batches: int, lite: bool = True) -> dict:
    cmd = [sys.executable, __file__, "--worker", str(model_dir), "--quantize", quantize or "manifest",
           "--threads", str(args.threads), "--singles", str(singles), "--batches", str(batches)] + ([] if lite else ["--no-lite"])
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def fmt(v, spec: str = "") -> str:
    return "-" if v is None else format(v, spec)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    p.add_argument("--skip-kobert", action="store_true", help="leave out the KoBERT-base-shaped model (slow to build)")
    p.add_argument("--baseline", type=Path, default=REPO / "model" / "baseline")
    p.add_argument("--transformer", type=Path, default=REPO / "model" / "transformer")
    p.add_argument("--ensemble", type=Path, default=REPO / "model" / "ensemble")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--quantize", default="manifest", help=argparse.SUPPRESS)
    p.add_argument("--singles", type=int, default=300, help=argparse.SUPPRESS)
    p.add_argument("--batches", type=int, default=30, help=argparse.SUPPRESS)
    p.add_argument("--no-lite", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        q = None if args.quantize == "manifest" else args.quantize
        print(json.dumps(worker(args.worker, q, args.threads, args.singles, args.batches, lite=not args.no_lite)))
        return 0

    rows: list[tuple[str, dict, float | None]] = []
    if (args.baseline / "maeum_model.json").is_file():
        rows.append(("baseline", run_worker(args.baseline, None, args, 300, 30), folder_mb(args.baseline)))
    else:
        print(f"(baseline: {args.baseline} 없음 - 건너뜀)")
    if (args.transformer / "maeum_model.json").is_file():
        shipped_quant = json.loads((args.transformer / "maeum_model.json").read_text(encoding="utf-8")).get("quantize")
        alt = "none" if shipped_quant == "int8" else "int8"
        rows.append(("transformer (shipped)", run_worker(args.transformer, None, args, 300, 30), folder_mb(args.transformer)))
        rows.append((f"transformer {'fp32' if alt == 'none' else 'int8'}", run_worker(args.transformer, alt, args, 300, 30), folder_mb(args.transformer)))
        rows.append(("transformer via transformers", run_worker(args.transformer, None, args, 300, 30, lite=False), folder_mb(args.transformer)))
    else:
        print(f"(transformer: {args.transformer} 없음 - 건너뜀)")
    if (args.ensemble / "maeum_model.json").is_file():
        rows.append(("ensemble (default)", run_worker(args.ensemble, None, args, 300, 30), None))
    tmp = None
    if not args.skip_kobert:
        tmp = Path(tempfile.mkdtemp(prefix="maeum_kobert_shaped_"))
        try:
            build_kobert_shaped(tmp)
            size = folder_mb(tmp)
            rows.append(("kobert-base-shaped fp32", run_worker(tmp, "none", args, 60, 6), size))
            rows.append(("kobert-base-shaped int8", run_worker(tmp, "int8", args, 60, 6), size))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    load = os.getloadavg()[0]
    print(f"\nthreads={args.threads}  load average (1 min) {load:.2f} on {os.cpu_count()} CPUs\n")
    header = f"{'model':26} {'files MB':>8} {'import s':>8} {'load s':>7} {'p50 ms':>7} {'p95 ms':>7} {'b32 /s':>8} {'RSS MB':>7} {'tok/txt':>7}"
    print(header)
    print("-" * len(header))
    for name, r, size in rows:
        if "error" in r:
            print(f"{name:26} error: {r['error']}")
            continue
        print(f"{name:26} {fmt(size, '8.1f')} {r['import_s']:8.2f} {r['load_s']:7.2f} {r['p50_ms']:7.2f} {r['p95_ms']:7.2f} "
              f"{r['batch32_per_s']:8.0f} {r['peak_rss_mb']:7.0f} {fmt(r.get('tokens_per_text'), '7.1f')}")
    ok = {name: r for name, r, _ in rows if "error" not in r}
    ref = ok.get("transformer (shipped)")
    if ref:
        print("\nratios against the shipped transformer (>1 = that model is slower / bigger):")
        for name, r in ok.items():
            if name == "transformer (shipped)":
                continue
            print(f"  {name:26} p50 x{r['p50_ms'] / ref['p50_ms']:.2f}   batch throughput x{ref['batch32_per_s'] / r['batch32_per_s']:.2f}"
                  f"   load x{r['load_s'] / max(ref['load_s'], 1e-6):.2f}   RSS x{r['peak_rss_mb'] / ref['peak_rss_mb']:.2f}")
    for name in ("transformer (shipped)", "ensemble (default)"):
        if name not in ok:
            continue
        r = ok[name]
        verdict = {
            "p50_ms": r["p50_ms"] <= GOALS["p50_ms"],
            "batch32_per_s": r["batch32_per_s"] >= GOALS["batch32_per_s"],
            "load_s": r["load_s"] <= GOALS["load_s"],
        }
        print(f"\ngoals for {name}: " + ", ".join(
            f"{k} {'OK' if v else 'MISSED'} ({r[k]} vs {GOALS[k]})" for k, v in verdict.items()))
    if args.json:
        args.json.write_text(json.dumps({"threads": args.threads, "loadavg": load, "rows": [
            {"model": n, "files_mb": s, **r} for n, r, s in rows]}, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
