#!/usr/bin/env python3
"""Times fill-mask in ONNX Runtime the way `maskscope bench` times MaskScope and Scripts/bench_transformers.py
times transformers: the same sentences (~9 and ~39 tokens), warm-up, timed runs, median and p90, peak RSS.
Prints one JSON object of the same shape as bench_transformers.py's.

    python Scripts/bench_onnx.py --model DIR [--text T]... [--threads 2] [--runs 30] [--keep-onnx FILE]

The checkpoint (float32) is exported once with torch.onnx (Scripts/onnx_export.py: TorchScript exporter,
opset 17, dynamic axes, traced on a padded two-sentence batch so the attention-mask path is in the graph) with
the LM head on the mask rows only (as MaskScope computes it), then optimised with
onnxruntime.transformers.optimizer (model_type "bert", the model's heads and hidden size: attention, skip
LayerNorm and bias-GELU fusions; the fused operators are printed on stderr) and opened with
CPUExecutionProvider, intra-op threads = --threads, ORT_ENABLE_ALL. A timed call is: tokenize (the fast
tokenizer), session.run, softmax over the whole vocabulary at each mask and the top 5 in numpy, and decoding
the candidates -- what transformers' pipeline and `maskscope bench` do per call. The export, the optimisation
and the session are not timed (load_ms reports them). The .onnx files go to a temporary directory deleted at
the end unless --keep-onnx names a file for the optimised one. The export runs in a child process, so the peak
RSS reported is ONNX Runtime's (tokenizer + session + runs), not torch's.
Needs torch, transformers, onnx and onnxruntime (Scripts/requirements-reference.txt).
"""
import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_transformers import DEFAULT_TEXTS, percentile  # noqa: E402
from ort_session import ort_session  # noqa: E402  (no torch in the timed process)


def export(model_dir, texts, threads, out):
    """export + optimise into `out`; run in a child process so the timed one never holds the torch model."""
    import torch
    from onnx_export import export_masked_lm  # Scripts/onnx_export.py (imports torch: only in this child)
    from onnxruntime.transformers import optimizer
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    torch.set_num_threads(threads)
    # eager attention: the graph pattern the optimizer fuses into its Attention operator (SDPA is not fused)
    model = AutoModelForMaskedLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager").eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    # trace on a right-padded batch of two lengths (attention mask 0 on the padding)
    short, long = texts[0], max(texts, key=len)
    if len(tokenizer(short)["input_ids"]) == len(tokenizer(long)["input_ids"]):
        long = short + " " + short
    trace = tokenizer([short, long], return_tensors="pt", padding=True)
    flat = (trace["input_ids"] == tokenizer.mask_token_id).reshape(-1).nonzero().reshape(-1)
    raw = Path(out).with_suffix(".raw.onnx")
    export_masked_lm(model, "masked", trace["input_ids"], trace["attention_mask"], flat, raw)
    optimised = optimizer.optimize_model(str(raw), model_type="bert", num_heads=model.config.num_attention_heads,
                                         hidden_size=model.config.hidden_size)
    fused = {k: v for k, v in optimised.get_fused_operator_statistics().items() if v}
    optimised.save_model_to_file(str(out))
    raw.unlink()
    # the optimised graph still computes the model: its logits at the masks against torch's on the trace batch
    from onnx_export import MaskedLMHead
    with torch.no_grad():
        expected = MaskedLMHead(model).eval()(trace["input_ids"], trace["attention_mask"], flat).numpy()
    got = ort_session(out, threads).run(None, {"input_ids": trace["input_ids"].numpy(),
                                               "attention_mask": trace["attention_mask"].numpy(),
                                               "mask_rows": flat.numpy()})[0]
    return {"fused_operators": fused, "max_abs_logit_diff_vs_torch": float(abs(got - expected).max())}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--text", action="append", default=[])
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--keep-onnx", help="also save the optimised model to this file")
    parser.add_argument("--export-to", help=argparse.SUPPRESS)  # the child process: export, optimise, exit
    args = parser.parse_args()
    texts = args.text or DEFAULT_TEXTS
    if args.export_to:
        print(json.dumps(export(args.model, texts, args.threads, args.export_to)))
        return 0

    import numpy as np
    import onnx
    import onnxruntime as ort
    from transformers import AutoTokenizer

    with tempfile.TemporaryDirectory(prefix="maskscope-bench-onnx-") as tmp:
        path = Path(tmp) / "model-optimised.onnx"
        t0 = time.time()
        child = subprocess.run([sys.executable, __file__, "--model", args.model, "--threads", str(args.threads),
                                "--export-to", str(path)] + [a for t in texts for a in ("--text", t)],
                               check=True, stdout=subprocess.PIPE, text=True)
        exported = json.loads(child.stdout.strip().splitlines()[-1])
        fused = exported["fused_operators"]
        print(f"onnxruntime.transformers.optimizer (bert): fused {fused}; logits at the masks vs torch: max |diff| "
              f"{exported['max_abs_logit_diff_vs_torch']:.3g}", file=sys.stderr)
        export_ms = (time.time() - t0) * 1000
        if args.keep_onnx:
            shutil.copyfile(path, args.keep_onnx)
        t0 = time.time()
        tokenizer = AutoTokenizer.from_pretrained(args.model)
        session = ort_session(path, args.threads)
        load_ms = (time.time() - t0) * 1000
        def fill(text):
            enc = tokenizer(text, return_tensors="np")
            ids = enc["input_ids"].astype(np.int64)
            rows = np.flatnonzero(ids.reshape(-1) == tokenizer.mask_token_id).astype(np.int64)
            logits = session.run(None, {"input_ids": ids, "attention_mask": enc["attention_mask"].astype(np.int64),
                                        "mask_rows": rows})[0]
            logits = logits - logits.max(axis=1, keepdims=True)
            probs = np.exp(logits)
            probs /= probs.sum(axis=1, keepdims=True)
            answers = []
            for row in probs:
                top = np.argpartition(-row, args.top_k)[:args.top_k]
                top = top[np.argsort(-row[top], kind="stable")]
                answers.append([(int(t), float(row[t]), tokenizer.decode([int(t)])) for t in top])
            return answers

        cases = []
        for text in texts:
            tokens = len(tokenizer(text)["input_ids"])
            times = []
            for i in range(args.warmup + args.runs):
                start = time.perf_counter()
                fill(text)
                if i >= args.warmup:
                    times.append((time.perf_counter() - start) * 1000)
            times.sort()
            cases.append({"text": text, "tokens": tokens, "median_ms": round(statistics.median(times), 2),
                          "p90_ms": round(percentile(times, 0.9), 2), "min_ms": round(times[0], 2)})
        print(json.dumps({
            "model": args.model, "threads": args.threads, "runs": args.runs, "engine": "onnxruntime",
            "export_ms": round(export_ms, 1), "load_ms": round(load_ms, 1), "fused_operators": fused,
            "max_abs_logit_diff_vs_torch": exported["max_abs_logit_diff_vs_torch"],
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "versions": {"onnxruntime": ort.__version__, "onnx": onnx.__version__},
            "cases": cases,
        }))


if __name__ == "__main__":
    sys.exit(main())
