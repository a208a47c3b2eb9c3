#!/usr/bin/env python3
"""How far `--precision bf16` and `--precision f16` move MaskScope's fill-mask answers from float32.

    python Scripts/compare_precision.py --model DIR [--model DIR ...] [--bin .build/release/maskscope]
                                        [--limit N] [--json]

Runs `maskscope predict` (one request holding every sentence, top 20) once per precision -- f32 (every weight
widened to float32: the reference, also for a 16-bit checkpoint), bf16, f16 -- on a fixed sentence set: the 32
sentences of Scripts/bench_batch_sentences.txt (each has a <mask>) and the 400 of models/heldout-sample.txt with
their middle word replaced by <mask> (punctuation kept). For bf16 and f16 against f32 it prints: the largest
|score difference| over the reference's top-5 candidates (a candidate missing from the other's top 20 counts
with its 20th score, an upper bound on its own), the mean of those per-sentence maxima, how many sentences
changed their top-1, and how many changed their top-5 set (as a set, order ignored). Only the standard library
is needed; the binary does the work.
"""
import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOP = 20


def sentences(limit=None):
    out = [line.strip() for line in (ROOT / "Scripts/bench_batch_sentences.txt").read_text().splitlines() if "<mask>" in line]
    for line in (ROOT / "models/heldout-sample.txt").read_text().splitlines():
        words = line.split()
        if len(words) < 3:
            continue
        i = len(words) // 2
        m = re.match(r"^([\"'(\[]*)(.*?)([.,;:!?\"')\]]*)$", words[i])
        if not m or not m.group(2):
            continue
        words[i] = m.group(1) + "<mask>" + m.group(3)
        out.append(" ".join(words))
    return out[:limit] if limit else out


def predict(binary, model, precision, texts, threads):
    request = json.dumps({"inputs": texts, "parameters": {"top_k": TOP}})
    done = subprocess.run([binary, "predict", "--model", model, "--precision", precision, "--threads", str(threads)],
                          input=request, text=True, capture_output=True)
    if done.returncode != 0:
        sys.exit(f"maskscope predict --precision {precision} failed: {done.stderr.strip()}")
    answers = json.loads(done.stdout)
    return [a if isinstance(a[0], dict) else a[0] for a in answers]  # one mask each


def compare(reference, other):
    worst, maxima, top1, top5 = 0.0, [], 0, 0
    for ref, oth in zip(reference, other):
        scores = {c["token"]: c["score"] for c in oth}
        floor = oth[-1]["score"]
        diff = max(abs(c["score"] - scores.get(c["token"], floor)) for c in ref[:5])
        maxima.append(diff)
        worst = max(worst, diff)
        top1 += ref[0]["token"] != oth[0]["token"]
        top5 += {c["token"] for c in ref[:5]} != {c["token"] for c in oth[:5]}
    return {"max_abs_score_diff_top5": worst, "mean_of_max_abs_score_diff_top5": sum(maxima) / len(maxima),
            "top1_changes": top1, "top5_set_changes": top5, "sentences": len(maxima)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", required=True)
    parser.add_argument("--bin", default=str(ROOT / ".build/release/maskscope"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    texts = sentences(args.limit)
    results = []
    for model in args.model:
        reference = predict(args.bin, model, "f32", texts, args.threads)
        for precision in ("bf16", "f16"):
            r = compare(reference, predict(args.bin, model, precision, texts, args.threads))
            r.update({"model": model, "precision": precision})
            results.append(r)
    if args.json:
        print(json.dumps(results))
        return
    print(f"{len(texts)} sentences (Scripts/bench_batch_sentences.txt + models/heldout-sample.txt, middle word masked); "
          f"reference: --precision f32")
    print("| model | precision | max abs score diff (top-5) | mean of per-sentence max | top-1 changes | top-5 set changes |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(f"| {Path(r['model']).name} | {r['precision']} | {r['max_abs_score_diff_top5']:.2e} "
              f"| {r['mean_of_max_abs_score_diff_top5']:.2e} | {r['top1_changes']} / {r['sentences']} "
              f"| {r['top5_set_changes']} / {r['sentences']} |")


if __name__ == "__main__":
    main()
