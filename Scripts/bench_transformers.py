#!/usr/bin/env python3
"""Times transformers' fill-mask pipeline the way `maskscope bench` times MaskScope.

Same sentences, warm-up, timed runs, median and p90, peak RSS, and the time from process start
(interpreter start, imports included) to the first answer. Prints one JSON object.

    python Scripts/bench_transformers.py --model DIR [--text T]... [--threads 2] [--runs 30]
Needs Scripts/requirements-reference.txt (torch CPU, transformers).
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

PROCESS_START = time.time()
try:  # when the kernel knows when this process started, count from there (interpreter start-up included)
    with open("/proc/self/stat") as stat:
        ticks = int(stat.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/uptime") as up:
        uptime = float(up.read().split()[0])
    PROCESS_START = time.time() - (uptime - ticks / os.sysconf("SC_CLK_TCK"))
except (OSError, ValueError, IndexError):
    pass

DEFAULT_TEXTS = [
    "Paris is the <mask> of France.",
    "The quick brown fox, who had been running through the forest since early dawn, finally stopped near the old stone <mask> to drink some cold, clear water before the hunters arrived at noon.",
]


def percentile(sorted_values, q):
    rank = max(1, int(-(-q * len(sorted_values) // 1)))  # nearest rank, as maskscope bench
    return sorted_values[min(rank, len(sorted_values)) - 1]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--text", action="append", default=[])
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()

    import torch
    from transformers import AutoModelForMaskedLM, AutoTokenizer, pipeline

    torch.set_num_threads(args.threads)
    t0 = time.time()
    model = AutoModelForMaskedLM.from_pretrained(args.model, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    fill = pipeline("fill-mask", model=model, tokenizer=tokenizer)
    load_ms = (time.time() - t0) * 1000
    first_answer_ms = None
    cases = []
    texts = args.text or DEFAULT_TEXTS
    with torch.inference_mode():
        for text in texts:
            tokens = len(tokenizer(text)["input_ids"])
            times = []
            for i in range(args.warmup + args.runs):
                start = time.perf_counter()
                fill(text)
                elapsed = time.perf_counter() - start
                if first_answer_ms is None:
                    first_answer_ms = (time.time() - PROCESS_START) * 1000
                if i >= args.warmup:
                    times.append(elapsed * 1000)
            times.sort()
            cases.append({"text": text, "tokens": tokens, "median_ms": round(statistics.median(times), 2),
                          "p90_ms": round(percentile(times, 0.9), 2), "min_ms": round(times[0], 2)})
    print(json.dumps({
        "model": args.model, "threads": args.threads, "runs": args.runs,
        "load_ms": round(load_ms, 1), "process_start_to_first_answer_ms": round(first_answer_ms, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "versions": {"torch": torch.__version__, "transformers": __import__("transformers").__version__},
        "cases": cases,
    }))


if __name__ == "__main__":
    sys.exit(main())
