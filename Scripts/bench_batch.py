#!/usr/bin/env python3
"""Sentences per second for one batch of 32 mixed-length fill-mask sentences: transformers (torch) against
ONNX Runtime running the same model, so that `maskscope`'s batched engine can be put next to both.

Run from the repository root with the pinned reference stack (Scripts/requirements-reference.txt, which
includes onnx and onnxruntime):

    /root/msvenv/bin/python Scripts/bench_batch.py [--model models/pocket-teacher] [--sentences FILE]
        [--repeat 20] [--warmup 3] [--threads 2] [--head masked|all|both] [--json]

--sentences: one sentence per line, each with exactly one <mask> (default: Scripts/bench_batch_sentences.txt,
32 sentences of 4 to 60 words, the batch `maskscope bench` has built in).  All
sentences form ONE batch (right-padded to the longest, attention mask 0 on the padding).

What is timed, per run, identically for both engines: tokenizer(sentences, padding=True) (the fast
tokenizer, batched), one forward pass over the padded batch, then the top-5 ids and probabilities at each
<mask> (softmax over the whole vocabulary).  Model loading, the ONNX export and session creation are not
timed.  --warmup runs are discarded, then --repeat runs are timed; the median and the best run are
printed in sentences/s (sentences in the batch / seconds of one run).

The LM head (--head, default both):
  masked: the encoder runs on the whole batch, then the hidden rows at the <mask> positions are gathered
          and only those go through the LM head (dense, gelu, layer norm, decoder): logits [32, vocab].
          This is the fair comparison with an engine that computes the LM head only at masks; the
          gather is inside the exported ONNX graph too (an extra input `mask_rows` = flat indices into
          batch * sequence).
  all:    the plain RobertaForMaskedLM forward, logits at every position [32, T, vocab], then the mask rows
          are picked out (what `model(**batch).logits` gives a transformers user).
torch: AutoModelForMaskedLM.from_pretrained(dir, dtype=float32).eval() (default attention, sdpa),
torch.inference_mode(), torch.set_num_threads(--threads).  ONNX Runtime: the same float32 module exported
with torch.onnx.export (TorchScript exporter, dynamo=False, opset 17, dynamic batch / sequence / mask-row
axes; traced on a padded two-sentence batch so that the attention-mask path is in the graph) into a
temporary directory that is deleted at the end (never in the repository; the export and session code is
Scripts/onnx_export.py, shared with eval_reference.py --time), CPUExecutionProvider,
intra_op_num_threads = --threads, inter_op 1, ORT_ENABLE_ALL graph optimisations, sequential execution.
Before timing, both engines' logits at the masks are compared (max |diff| printed; must be < 1e-3) and
their top-5 ids must agree.  The machine's load average is printed: on a busy machine the numbers mean
little.
"""

import os

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import transformers
from transformers import AutoModelForMaskedLM, AutoTokenizer

transformers.utils.logging.disable_progress_bar()
transformers.utils.logging.set_verbosity_error()

sys.path.insert(0, str(Path(__file__).resolve().parent))
from onnx_export import MaskedLMHead, export_masked_lm, ort_session  # noqa: E402  (Scripts/onnx_export.py)

REPO = Path(__file__).resolve().parent.parent
TOPK = 5

# 32 sentences, 4 to 60 words, one <mask> each: the same file `maskscope bench` has built in (a Swift test keeps
# the two the same).
SENTENCES_FILE = REPO / "Scripts" / "bench_batch_sentences.txt"


def read_sentences(path):
    lines = [l.rstrip("\n") for l in Path(path).read_text(encoding="utf-8").splitlines()]
    return [l for l in lines if l.strip()]


def resolve_model(arg):
    p = Path(arg)
    if p.is_dir():
        return p
    for base in (REPO / "models", REPO / "Tests" / "Fixtures" / "models"):
        if (base / arg).is_dir():
            return base / arg
    raise SystemExit(f"error: no model directory {arg!r}")


def top5_numpy(logits):
    """softmax over the vocabulary and the 5 best (ids, probabilities) per row."""
    part = np.argpartition(-logits, TOPK, axis=1)[:, :TOPK]
    vals = np.take_along_axis(logits, part, 1)
    order = np.argsort(-vals, axis=1, kind="stable")
    ids = np.take_along_axis(part, order, 1)
    m = logits.max(1, keepdims=True)
    denom = np.exp(logits - m).sum(1, keepdims=True)
    return ids, np.exp(np.take_along_axis(logits, ids, 1) - m) / denom


def top5_torch(logits):
    probs = logits.softmax(-1)
    v, i = probs.topk(TOPK, dim=-1)
    return i, v


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="models/pocket-teacher")
    ap.add_argument("--sentences", default=str(SENTENCES_FILE), help="one sentence per line, one <mask> each (default: %(default)s)")
    ap.add_argument("--repeat", type=int, default=20, help="timed runs (default 20)")
    ap.add_argument("--warmup", type=int, default=3, help="discarded runs first (default 3)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads / ORT intra-op threads (default 2)")
    ap.add_argument("--head", choices=("masked", "all", "both"), default="both")
    ap.add_argument("--json", action="store_true", help="also print one JSON object at the end")
    args = ap.parse_args()

    import onnx
    import onnxruntime as ort

    torch.set_num_threads(args.threads)
    sentences = read_sentences(args.sentences)
    model_dir = resolve_model(args.model)
    model = AutoModelForMaskedLM.from_pretrained(str(model_dir), dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(str(model_dir))
    mask_id = tok.mask_token_id

    enc = tok(sentences, padding=True, return_tensors="pt")
    ids, att = enc["input_ids"], enc["attention_mask"]
    n_masks = (ids == mask_id).sum(1)
    if not bool((n_masks == 1).all()):
        raise SystemExit(f"error: every sentence needs exactly one <mask> (counts {n_masks.tolist()})")
    lengths = att.sum(1).tolist()
    max_len = model.config.max_position_embeddings - model.config.pad_token_id - 1
    if max(lengths) > max_len:
        raise SystemExit(f"error: a sentence has {max(lengths)} tokens, the model takes {max_len}")
    words = [len(s.split()) for s in sentences]
    heads = ["masked", "all"] if args.head == "both" else [args.head]

    print(f"model {model_dir}: {model.config.num_hidden_layers} layers, hidden {model.config.hidden_size}, "
          f"vocab {model.config.vocab_size}")
    print(f"batch: {len(sentences)} sentences, {min(words)}-{max(words)} words, {min(lengths)}-{max(lengths)} tokens "
          f"(mean {sum(lengths) / len(lengths):.1f}), padded to {ids.shape[1]}: {ids.numel()} slots, "
          f"{sum(lengths)} real tokens")
    print(f"versions: torch {torch.__version__}, onnxruntime {ort.__version__}, onnx {onnx.__version__}, "
          f"transformers {transformers.__version__}; {args.threads} threads; load average before {os.getloadavg()[0]:.2f}")

    results = {}
    with tempfile.TemporaryDirectory(prefix="maskscope-bench-onnx-") as tmp:
        # export on a padded two-sentence batch (shortest and longest) so the attention-mask path is traced
        order = sorted(range(len(sentences)), key=lambda i: lengths[i])
        trace = tok([sentences[order[0]], sentences[order[-1]]], padding=True, return_tensors="pt")
        trace_rows = (trace["input_ids"].reshape(-1) == mask_id).nonzero().reshape(-1)
        sessions = {}
        for head in heads:
            path = Path(tmp) / f"{head}.onnx"
            t0 = time.perf_counter()
            export_masked_lm(model, head, trace["input_ids"], trace["attention_mask"], trace_rows, path)
            sessions[head] = ort_session(path, args.threads)
            print(f"onnx export ({head}): {path.stat().st_size / 1e6:.1f} MB in {time.perf_counter() - t0:.1f} s (temporary)")

        masked_module = MaskedLMHead(model).eval()

        def run_torch(head):
            e = tok(sentences, padding=True, return_tensors="pt")
            x, a = e["input_ids"], e["attention_mask"]
            with torch.inference_mode():
                if head == "masked":
                    rows = (x.reshape(-1) == mask_id).nonzero().reshape(-1)
                    logits = masked_module(x, a, rows)  # the module that was exported
                else:
                    full = model(input_ids=x, attention_mask=a).logits
                    b, p = (x == mask_id).nonzero(as_tuple=True)
                    logits = full[b, p]
                i, v = top5_torch(logits)
            return logits, i

        def run_ort(head):
            e = tok(sentences, padding=True, return_tensors="np")
            x, a = e["input_ids"].astype(np.int64), e["attention_mask"].astype(np.int64)
            if head == "masked":
                rows = np.flatnonzero(x.reshape(-1) == mask_id).astype(np.int64)
                logits = sessions[head].run(None, {"input_ids": x, "attention_mask": a, "mask_rows": rows})[0]
            else:
                full = sessions[head].run(None, {"input_ids": x, "attention_mask": a})[0]
                b, p = np.nonzero(x == mask_id)
                logits = full[b, p]
            i, v = top5_numpy(logits)
            return logits, i

        for head in heads:
            lt, it = run_torch(head)
            lo, io = run_ort(head)
            diff = float(np.abs(lt.numpy() - lo).max())
            same_top = int((it.numpy() == io).all(1).sum())
            print(f"check ({head}): torch vs onnxruntime logits at the masks max |diff| {diff:.3g}, "
                  f"top-5 ids equal for {same_top}/{len(sentences)} sentences")
            if diff > 1e-3:
                raise SystemExit("error: the engines disagree")
            for engine, fn in (("transformers", run_torch), ("onnxruntime", run_ort)):
                times = []
                for r in range(args.warmup + args.repeat):
                    t0 = time.perf_counter()
                    fn(head)
                    dt = time.perf_counter() - t0
                    if r >= args.warmup:
                        times.append(dt)
                med = statistics.median(times)
                best = min(times)
                results[f"{engine}/{head}"] = {
                    "median_sentences_per_s": round(len(sentences) / med, 1),
                    "best_sentences_per_s": round(len(sentences) / best, 1),
                    "median_ms": round(med * 1000, 2),
                    "best_ms": round(best * 1000, 2),
                }
    print(f"{'engine':<14}{'LM head':<10}{'median sent/s':>15}{'best sent/s':>13}{'median ms':>11}{'best ms':>9}   ({args.repeat} runs after {args.warmup} warm-up; one batch of {len(sentences)})")
    for key, r in results.items():
        engine, head = key.split("/")
        print(f"{engine:<14}{head:<10}{r['median_sentences_per_s']:>15}{r['best_sentences_per_s']:>13}{r['median_ms']:>11}{r['best_ms']:>9}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if args.json:
        print(json.dumps({"model": str(model_dir), "sentences": len(sentences), "threads": args.threads,
                          "repeat": args.repeat, "warmup": args.warmup,
                          "versions": {"torch": torch.__version__, "onnxruntime": ort.__version__, "onnx": onnx.__version__,
                                       "transformers": transformers.__version__},
                          "tokens": {"min": min(lengths), "max": max(lengths), "padded_to": int(ids.shape[1])},
                          "results": results, "loadavg": os.getloadavg()[0]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
