#!/usr/bin/env python3
"""Compare MaskScope's `predict` output with transformers' fill-mask pipeline on the same request.

    /root/msvenv/bin/python Scripts/compare_predict.py --model DIR --maskscope .build/release/maskscope \\
        [--request request.json] [--tolerance 1e-5] [--dtype float32|auto] [--show]

The request is the endpoint format
    {"inputs": {"input_string": ["Paris is the <mask> of France.", ...]}, "parameters": {"top_k": 2}}
(default: the two endpoint samples plus a few more, including a multi-mask string).  "parameters" are
passed to the pipeline as keyword arguments (top_k, targets).  The binary is run as
`MASKSCOPE predict --model DIR` with the request JSON on stdin; its stdout must be the response JSON:
a list with one entry per input string, each exactly what pipeline(string, **parameters) returns
(a list of {score, token, token_str, sequence}, or a list of such lists for several masks).

token, token_str and sequence must be equal, score within --tolerance (absolute).  Prints the largest
score difference; exits 0 when everything matches, 1 on a mismatch, 2 when the binary fails.
"""

import os

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import argparse
import json
import subprocess
import sys

DEFAULT_REQUEST = {
    "inputs": {
        "input_string": [
            "Paris is the <mask> of France.",
            "Today is a <mask> day!",
            "The <mask> is the capital of <mask>.",
            "<mask> is a beautiful day in Paris!",
            "Café au lait is a <mask> drink in Zürich 🍕.",
            "Today <pad> is a <mask> day!",
        ]
    },
    "parameters": {"top_k": 2},
}


def reference(model_dir, request, dtype, threads):
    import torch
    import transformers
    from transformers import AutoModelForMaskedLM, AutoTokenizer, pipeline

    torch.set_num_threads(threads)
    transformers.utils.logging.disable_progress_bar()
    kwargs = {} if dtype == "auto" else {"dtype": getattr(torch, dtype)}
    model = AutoModelForMaskedLM.from_pretrained(model_dir, **kwargs)
    model.eval()
    tok = AutoTokenizer.from_pretrained(model_dir)
    pipe = pipeline("fill-mask", model=model, tokenizer=tok)
    strings = request["inputs"]["input_string"]
    if isinstance(strings, str):
        strings = [strings]
    params = dict(request.get("parameters") or {})
    return [pipe(s, **params) for s in strings]


class Comparison:
    def __init__(self, tol):
        self.tol = tol
        self.max_diff = 0.0
        self.errors = []

    def fail(self, path, msg):
        self.errors.append(f"{path}: {msg}")

    def compare(self, exp, got, path="response"):
        if isinstance(exp, list):
            if not isinstance(got, list):
                return self.fail(path, f"expected a list, got {type(got).__name__}")
            if len(exp) != len(got):
                self.fail(path, f"expected {len(exp)} entries, got {len(got)}")
            for i, (e, g) in enumerate(zip(exp, got)):
                self.compare(e, g, f"{path}[{i}]")
            return None
        if not isinstance(got, dict):
            return self.fail(path, f"expected an object, got {type(got).__name__}")
        if set(got) != set(exp):
            self.fail(path, f"keys {sorted(got)} != {sorted(exp)}")
        for key in ("token", "token_str", "sequence"):
            if key in exp and got.get(key) != exp[key]:
                self.fail(path, f"{key}: expected {exp[key]!r}, got {got.get(key)!r}")
        score = got.get("score")
        if not isinstance(score, (int, float)) or isinstance(score, bool):
            return self.fail(path, f"score is not a number: {score!r}")
        diff = abs(float(score) - exp["score"])
        self.max_diff = max(self.max_diff, diff)
        if not diff <= self.tol:
            self.fail(path, f"score: expected {exp['score']!r}, got {score!r} (|diff| {diff:.3g})")
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="checkpoint directory")
    ap.add_argument("--maskscope", required=True, help="path to the MaskScope binary")
    ap.add_argument("--request", help="request JSON file (default: built-in sample request)")
    ap.add_argument("--tolerance", type=float, default=1e-5, help="absolute score tolerance (default 1e-5)")
    ap.add_argument("--dtype", default="float32", choices=["float32", "auto", "float16", "bfloat16"],
                    help="dtype for the transformers side (default float32: f16/bf16 weights upcast exactly)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--timeout", type=float, default=600, help="seconds allowed for the binary")
    ap.add_argument("--show", action="store_true", help="print both responses")
    args = ap.parse_args()

    request = DEFAULT_REQUEST
    if args.request:
        with open(args.request, encoding="utf-8") as f:
            request = json.load(f)
    payload = json.dumps(request, ensure_ascii=False).encode("utf-8")

    cmd = [args.maskscope, "predict", "--model", args.model]
    try:
        proc = subprocess.run(cmd, input=payload, capture_output=True, timeout=args.timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        print(f"running {' '.join(cmd)} failed: {e}", file=sys.stderr)
        return 2
    if proc.returncode != 0:
        print(f"{' '.join(cmd)} exited {proc.returncode}\n{proc.stderr.decode('utf-8', 'replace')}", file=sys.stderr)
        return 2
    try:
        got = json.loads(proc.stdout.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        print(f"maskscope stdout is not JSON ({e}):\n{proc.stdout[:2000]!r}", file=sys.stderr)
        return 2

    expected = reference(args.model, request, args.dtype, args.threads)
    if args.show:
        print("transformers:", json.dumps(expected, ensure_ascii=False))
        print("maskscope:   ", json.dumps(got, ensure_ascii=False))

    cmp = Comparison(args.tolerance)
    cmp.compare(expected, got)
    n = len(expected)
    print(f"{n} input string(s), max |score difference| = {cmp.max_diff:.3g} (tolerance {args.tolerance:g})")
    if cmp.errors:
        print(f"MISMATCH ({len(cmp.errors)}):", file=sys.stderr)
        for e in cmp.errors[:50]:
            print("  " + e, file=sys.stderr)
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
