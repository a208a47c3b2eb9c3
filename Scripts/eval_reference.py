#!/usr/bin/env python3
"""Check a `maskscope eval --details FILE` output against transformers, time the same evaluation the way a
transformers user would run it, or test this checker on a details file made by transformers itself.

Run from the repository root with the pinned reference stack (Scripts/requirements-reference.txt):

    /root/msvenv/bin/python Scripts/eval_reference.py --details FILE [--model DIR_OR_NAME [--model ...]]
        [--batch-size 32] [--threads 2] [--time [--engine torch|onnxruntime|both] [--head all|masked]] [--no-check]
        [--tolerance 1e-4] [--tie-tolerance 0]
    /root/msvenv/bin/python Scripts/eval_reference.py --self-test --model tiny
    /root/msvenv/bin/python Scripts/eval_reference.py --self-test --model pocket-teacher --model pocket-student [--time]
        [--write-generated /tmp/details.jsonl]

--model is given once or twice, in the order of the details' `models`; a bare name is looked up in
models/NAME, then Tests/Fixtures/models/NAME (without --model, the details' own `model` strings are
resolved that way).  Two models must share one vocabulary (the same ids are fed to both).

The details file (JSON Lines, one object per scored sequence):
    {"document", "window", "text", "ids" (with <s> and </s>, as the first model tokenizes `text`),
     "mode": "one" | "all" | "pll", "positions": [masked positions],
     "models": [{"model", "log_probs", "ranks", "top5"}, ...],
     "agreement": {"kl", "js", "top1_agree", "overlap", "spearman"}   (only with two models)}

What is recomputed (natural logs; p = first model, q = second; softmax over the whole vocabulary in
float64 from the float32 logits of AutoModelForMaskedLM(dtype=float32).eval(), default attention):
  mode "one"/"pll": every position masked alone (one input per position, the other tokens as they are);
  mode "all": all positions masked in one input.  log_probs = log p(original token);
  ranks = 1 + #{j: p_j > p_t} + #{j < t: p_j == p_t} (ties to the lower id); top5 = the 5 most probable
  ids, ties to the lower id; kl = KL(p||q); js = (KL(p||m) + KL(q||m))/2, m = (p+q)/2; top1_agree =
  argmax p == argmax q; overlap = |top5(p) & top5(q)| / 5; spearman = Pearson correlation of the average
  ranks (1 = largest) of U = top5(p) | top5(q) under p and under q, null if |U| < 2 or a rank vector is
  constant.
Rules checked as well: ids == tokenizer(text) of the first model (--no-text-check skips it); mode "pll":
positions == 1..n-2; modes "one"/"all": distinct positions in 1..n-2, each word-initial (its token string
starts with "Ġ", or it is position 1, the first token after <s>), and their number is
max(1, floor(0.15 * W + 0.5)) with W = the number of word-initial tokens in 1..n-2 (round half up, NOT
Python's round(), which rounds half to even; computed exactly as (15 W + 50) // 100, which equals the
float64 formula for every W up to 5000).

Inputs are batched (--batch-size inputs, sorted by length, right-padded with <pad>, attention mask 0 on
the padding); a seeded sample of inputs (the shortest and the longest included, --verify-padding N) is
also run alone, unpadded, and the compared numbers (log-prob of the original token; kl, js) must agree
within a quarter of --tolerance (2.5e-5 by default: real shapes, roberta-base with random weights, reach
1.4e-5 between transformers' own padded and unpadded runs).  (Over whole vocabulary rows the two differ by up to ~1e-5 on log-probs around -15: float32
rounding of another GEMM / attention blocking, the same size with eager attention; printed for information.)

Output: per field the number compared, the largest absolute difference, and the number over tolerance
(log_probs/kl/js/spearman: --tolerance, default 1e-4) or differing (ranks/top5/top1_agree/overlap: exact;
--tie-tolerance T excuses a difference whose reference margin between the competing log-probabilities is
below T, default 0 = strict).  Exit 0 when everything agrees, 1 otherwise, 2 on unusable input.

--time: after the check, the same evaluation (same texts, same positions, same models) as a transformers
user would write it: tokenizer(texts) for all records, then inputs in file order, --batch-size at a time
(default 32), padded, model(**batch).logits (LM head at every position; --head masked gathers the masked
rows before the LM head instead), log_softmax / ranks / top-5 / agreement in torch; torch threads = --threads
(default 2).  Model loading and file parsing are not timed; one warm-up pass (the first 4 records) is run
first.

--engine (with --time; default both) picks what computes the logits:
  torch:       transformers itself, as above.
  onnxruntime: ONNX Runtime running the same float32 models exported with torch.onnx.export (the code
               shared with Scripts/bench_batch.py, in Scripts/onnx_export.py: TorchScript exporter, opset
               17, dynamic batch and sequence axes, traced on a right-padded two-input batch so that the
               attention-mask path is in the graph).  --head masked exports the encoder + a gather of the
               masked rows (input `mask_rows`, flat indices into batch * sequence, dynamic too) + the LM
               head, as bench_batch.py does; --head all exports model(...).logits at every position and the
               masked rows are picked out afterwards.  The .onnx files go to a temporary directory that is
               deleted at the end (never into the repository); export and session creation are not timed.
               CPUExecutionProvider, intra-op threads = --threads, inter-op 1, sequential, ORT_ENABLE_ALL.
               Everything else is the same code as for torch: the same tokenizer call, the same padded
               batches (same order, same padding, same attention mask), the metrics in torch from ORT's
               float32 logits.
  both:        torch first, then onnxruntime, each with its own warm-up.
Prints the versions (transformers, torch and, when used, onnxruntime and onnx) and one table with a row
per engine: total seconds, records/s ("sequences/s": one details line = one document window), documents/s
("sentences/s": distinct `document` values, = sentences for a one-sentence-per-line corpus), forward
inputs/s, the tokenizer's share and, with both, the speed relative to torch; then the load average
before and after (on a busy machine the rates are noisy: compare engines from the same run, and note that
with 2 threads on 2 loaded cores 1 thread can be faster).  When onnxruntime runs, its log-probability of
the original token at every masked position (per model) is checked against torch's on the same batches
(from torch's timed run, or with --engine onnxruntime from an extra untimed torch run): the largest
difference is printed and must be within 1e-4, otherwise the exit status is 1.  Printed for information:
the largest difference over the whole log-prob rows of the warm-up records, how many ranks / top-5 lists
differ, and with two models the largest kl / js difference.  (pocket-teacher + pocket-student: ~7e-6 on
the log-probs, ~1.6e-5 over whole rows, no rank or top-5 difference.)

--self-test: builds a details file with transformers itself (unbatched, plain-Python metrics, positions
drawn with random.Random(seed) under the rules above, every mode, one document split into two windows;
--write-generated PATH keeps a copy),
checks that the checker passes on it, then perturbs one number at a time by 1e-3 (a log-prob, kl, js,
spearman; and a rank, a top-5 id, top1_agree, overlap, a position) and checks that each is caught.  It
also recomputes the `distributions` cases of Tests/Fixtures/reference/scoring.json with the checker's
(vectorised torch) metrics.  Exit 0 when all of that holds.
"""

import os

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import argparse
import copy
import json
import math
import random
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
from onnx_export import export_masked_lm, ort_session  # noqa: E402  (Scripts/onnx_export.py; onnx/onnxruntime imported lazily)

REPO = Path(__file__).resolve().parent.parent
TOPK = 5
SELF_TEST_SEED = 20250607

# --------------------------------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------------------------------


def die(message):
    print(message, file=sys.stderr)
    sys.exit(2)


def resolve_model(arg):
    p = Path(arg)
    if p.is_dir():
        return p.resolve()
    for base in (REPO / "models", REPO / "Tests" / "Fixtures" / "models"):
        if (base / arg).is_dir():
            return base / arg
    if (REPO / arg).is_dir():
        return REPO / arg
    die(f"error: no model directory for {arg!r} (tried it as a path, models/{arg}, Tests/Fixtures/models/{arg})")


class Model:
    def __init__(self, arg):
        self.arg = arg
        self.path = resolve_model(arg)
        self.model = AutoModelForMaskedLM.from_pretrained(str(self.path), dtype=torch.float32).eval()
        self.tok = AutoTokenizer.from_pretrained(str(self.path))
        cfg = self.model.config
        self.max_tokens = cfg.max_position_embeddings - (cfg.pad_token_id if cfg.pad_token_id is not None else 0) - 1
        self.base = getattr(self.model, self.model.base_model_prefix)

    def logits_at(self, input_ids, attention_mask, bidx, pos, head):
        """float32 logits [rows, vocab] at (bidx[r], pos[r])."""
        if head == "all":
            return self.model(input_ids=input_ids, attention_mask=attention_mask).logits[bidx, pos]
        hidden = self.base(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.model.lm_head(hidden[bidx, pos])


class OrtModel:
    """the same float32 model exported to ONNX (Scripts/onnx_export.py) and run by ONNX Runtime, with
    Model.logits_at's interface (torch tensors in, float32 torch logits [rows, vocab] out)."""

    def __init__(self, model, head, path, threads, trace):
        self.head = head
        t0 = time.perf_counter()
        export_masked_lm(model.model, head, *trace, path)
        self.session = ort_session(path, threads)
        self.seconds = time.perf_counter() - t0
        self.megabytes = Path(path).stat().st_size / 1e6

    def logits_at(self, input_ids, attention_mask, bidx, pos, head):
        if head != self.head:
            raise ValueError(f"this ONNX model was exported with --head {self.head}, not {head}")
        feed = {"input_ids": input_ids.numpy(), "attention_mask": attention_mask.numpy()}
        if head == "masked":
            feed["mask_rows"] = (bidx * input_ids.shape[1] + pos).numpy()  # flat indices into batch * sequence
            return torch.from_numpy(self.session.run(None, feed)[0])
        return torch.from_numpy(self.session.run(None, feed)[0])[bidx, pos]


def onnx_trace_inputs(jobs, bos_id, eos_id, mask_id, pad_id):
    """a right-padded two-input batch to trace the export on: the longest job input (or a 5-token stand-in) and
    <s> <mask> </s>, so that the attention mask has zeros (the padded path is what gets traced)."""
    longest = max(jobs, key=lambda j: len(j[3]))
    x, positions = longest[3], longest[2]
    if len(x) <= 3:
        x, positions = [bos_id, mask_id, mask_id, mask_id, eos_id], [1, 2, 3]
    short = [bos_id, mask_id, eos_id]
    width = len(x)
    input_ids = torch.full((2, width), pad_id, dtype=torch.long)
    attention = torch.zeros((2, width), dtype=torch.long)
    input_ids[0], attention[0] = torch.tensor(x), 1
    input_ids[1, :3], attention[1, :3] = torch.tensor(short), 1
    rows = torch.tensor(list(positions) + [width + 1], dtype=torch.long)
    return input_ids, attention, rows


def load_models(args_models):
    models = [Model(a) for a in args_models]
    if len(models) == 2:
        if models[0].tok.get_vocab() != models[1].tok.get_vocab():
            die("error: the two models have different vocabularies; their distributions cannot be compared id by id")
        if models[0].model.config.vocab_size != models[1].model.config.vocab_size:
            die("error: the two models have different vocab_size")
    return models


# --------------------------------------------------------------------------------------------------
# rules
# --------------------------------------------------------------------------------------------------


def word_initial(tokens):
    """positions 1..n-2 whose token starts a word: position 1 (first after <s>) or a token starting with Ġ."""
    n = len(tokens)
    return [i for i in range(1, n - 1) if i == 1 or (tokens[i] or "").startswith("Ġ")]


def expected_count(w):
    # max(1, floor(0.15 * w + 0.5)), round half UP (Python's round() would round 2.5 to 2)
    return max(1, (15 * w + 50) // 100)


# --------------------------------------------------------------------------------------------------
# reference metrics, vectorised (torch, float64)
# --------------------------------------------------------------------------------------------------


def average_ranks(values):
    """rank 1 = largest; ties share the average of the ranks they span."""
    n = len(values)
    order = sorted(range(n), key=lambda i: -values[i])
    ranks = [0.0] * n
    j = 0
    while j < n:
        e = j
        while e + 1 < n and values[order[e + 1]] == values[order[j]]:
            e += 1
        for t in range(j, e + 1):
            ranks[order[t]] = (j + e + 2) / 2.0
        j = e + 1
    return ranks


def pearson(x, y):
    n = len(x)
    mx, my = sum(x) / n, sum(y) / n
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    if sxx == 0 or syy == 0:
        return None
    return sum((a - mx) * (b - my) for a, b in zip(x, y)) / math.sqrt(sxx * syy)


def per_model_metrics(lp, orig):
    """lp: [R, V] float64 log-probabilities; orig: [R] ids. -> log_probs, ranks, top5, margins."""
    t = lp.gather(1, orig[:, None])
    ids = torch.arange(lp.shape[1])[None, :]
    ranks = 1 + (lp > t).sum(1) + ((lp == t) & (ids < orig[:, None])).sum(1)
    vals, order = torch.sort(lp, dim=1, descending=True, stable=True)  # ties keep the lower id first
    top = order[:, :TOPK]
    # margins (for --tie-tolerance): nearest other log-prob to the original token, smallest gap in the top 6
    d = (lp - t).abs()
    d.scatter_(1, orig[:, None], float("inf"))
    rank_margin = d.min(1).values
    top_margin = (vals[:, : TOPK] - vals[:, 1 : TOPK + 1]).min(1).values
    return t[:, 0], ranks, top, rank_margin, top_margin


def agreement_metrics(lp, lq, top_p, top_q):
    p, q = lp.exp(), lq.exp()
    kl = (p * (lp - lq)).sum(1)
    lm = torch.logaddexp(lp, lq) - math.log(2.0)
    js = 0.5 * (p * (lp - lm)).sum(1) + 0.5 * (q * (lq - lm)).sum(1)
    top1 = top_p[:, 0] == top_q[:, 0]
    overlap = (top_p[:, :, None] == top_q[:, None, :]).any(2).sum(1).double() / TOPK
    spear = []
    for r in range(lp.shape[0]):
        union = sorted(set(top_p[r].tolist()) | set(top_q[r].tolist()))
        if len(union) < 2:
            spear.append(None)
            continue
        u = torch.tensor(union)
        spear.append(pearson(average_ranks(lp[r, u].tolist()), average_ranks(lq[r, u].tolist())))
    return kl, js, top1, overlap, spear


# --------------------------------------------------------------------------------------------------
# evaluation (shared by the check and --time)
# --------------------------------------------------------------------------------------------------


def build_jobs(records, ids_list, mask_id):
    """one job = one model input: (record index, slots, positions, input ids)."""
    jobs = []
    for ri, (rec, ids) in enumerate(zip(records, ids_list)):
        positions = rec["positions"]
        if rec["mode"] == "all":
            x = list(ids)
            for p in positions:
                x[p] = mask_id
            jobs.append((ri, list(range(len(positions))), list(positions), x))
        else:
            for j, p in enumerate(positions):
                x = list(ids)
                x[p] = mask_id
                jobs.append((ri, [j], [p], x))
    return jobs


def empty_result(rec, n_models):
    n = len(rec["positions"])
    res = {"models": [{"log_probs": [None] * n, "ranks": [None] * n, "top5": [None] * n,
                       "rank_margin": [None] * n, "top_margin": [None] * n} for _ in range(n_models)]}
    if n_models == 2:
        res["agreement"] = {k: [None] * n for k in ("kl", "js", "top1_agree", "overlap", "spearman")}
    return res


def evaluate(records, ids_list, models, batch_size, order, head, keep=(), pad_id=None, runners=None):
    """Runs every job; returns (results per record, {job index: [log-prob rows per model]} for `keep`, jobs).
    runners: what computes the logits, one per model (default the torch models themselves; OrtModel for
    ONNX Runtime), each with logits_at(input_ids, attention_mask, bidx, pos, head)."""
    runners = models if runners is None else runners
    mask_id = models[0].tok.mask_token_id
    pad_id = models[0].tok.pad_token_id if pad_id is None else pad_id
    jobs = build_jobs(records, ids_list, mask_id)
    results = [empty_result(r, len(models)) for r in records]
    idx = list(range(len(jobs)))
    if order == "length":
        idx.sort(key=lambda i: (len(jobs[i][3]), i))
    keep = set(keep)
    kept = {}
    with torch.inference_mode():
        for start in range(0, len(idx), batch_size):
            chunk = idx[start : start + batch_size]
            width = max(len(jobs[i][3]) for i in chunk)
            input_ids = torch.full((len(chunk), width), pad_id, dtype=torch.long)
            attention = torch.zeros((len(chunk), width), dtype=torch.long)
            bidx, pos, orig, where = [], [], [], []
            for b, i in enumerate(chunk):
                ri, slots, positions, x = jobs[i]
                input_ids[b, : len(x)] = torch.tensor(x)
                attention[b, : len(x)] = 1
                for s, p in zip(slots, positions):
                    bidx.append(b)
                    pos.append(p)
                    orig.append(ids_list[ri][p])
                    where.append((i, ri, s))
            bidx_t, pos_t, orig_t = torch.tensor(bidx), torch.tensor(pos), torch.tensor(orig)
            lps, per = [], []
            for m in runners:
                logits = m.logits_at(input_ids, attention, bidx_t, pos_t, head)
                lp = torch.log_softmax(logits.double(), dim=-1)
                lps.append(lp)
                per.append(per_model_metrics(lp, orig_t))
            if len(models) == 2:
                agree = agreement_metrics(lps[0], lps[1], per[0][2], per[1][2])
            for r, (i, ri, s) in enumerate(where):
                res = results[ri]
                for mi, (lpo, ranks, top, rm, tm) in enumerate(per):
                    mres = res["models"][mi]
                    mres["log_probs"][s] = float(lpo[r])
                    mres["ranks"][s] = int(ranks[r])
                    mres["top5"][s] = top[r].tolist()
                    mres["rank_margin"][s] = float(rm[r])
                    mres["top_margin"][s] = float(tm[r])
                if len(models) == 2:
                    kl, js, top1, overlap, spear = agree
                    a = res["agreement"]
                    a["kl"][s] = float(kl[r])
                    a["js"][s] = float(js[r])
                    a["top1_agree"][s] = bool(top1[r])
                    a["overlap"][s] = float(overlap[r])
                    a["spearman"][s] = spear[r]
                if i in keep:
                    kept.setdefault(i, [[] for _ in models])
                    for mi in range(len(models)):
                        kept[i][mi].append(lps[mi][r].clone())
    return results, kept, jobs


def verify_padding(jobs, kept, models, ids_list):
    """Run the kept jobs alone (batch 1, no padding) and compare with their batched rows: the compared numbers
    (log-prob of the original token per model; kl and js with two models) must agree within a quarter of --tolerance.
    Also returns the largest difference over whole vocabulary rows (informational: float32 noise of a
    different GEMM/attention blocking reaches ~1e-5 on log-probs around -15, far from any compared number)."""
    worst = 0.0
    worst_row = 0.0
    rows = 0
    with torch.inference_mode():
        for i, per_model in kept.items():
            ri, _, positions, x = jobs[i]
            ids = torch.tensor([x])
            orig = torch.tensor([ids_list[ri][p] for p in positions])
            alone = []
            for mi, m in enumerate(models):
                logits = m.model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits[0, positions]
                lp = torch.log_softmax(logits.double(), dim=-1)
                batched = torch.stack(per_model[mi])
                alone.append((lp, batched))
                worst_row = max(worst_row, float((lp - batched).abs().max()))
                worst = max(worst, float((lp.gather(1, orig[:, None]) - batched.gather(1, orig[:, None])).abs().max()))
            if len(models) == 2:
                z = torch.zeros(len(positions), dtype=torch.long)
                ref = agreement_metrics(alone[0][0], alone[1][0], per_model_metrics(alone[0][0], z)[2], per_model_metrics(alone[1][0], z)[2])
                bat = agreement_metrics(alone[0][1], alone[1][1], per_model_metrics(alone[0][1], z)[2], per_model_metrics(alone[1][1], z)[2])
                for j in (0, 1):  # kl, js
                    worst = max(worst, float((ref[j] - bat[j]).abs().max()))
            rows += len(positions)
    return worst, worst_row, rows


def padding_sample(jobs, n, seed):
    if n <= 0 or not jobs:
        return []
    by_len = sorted(range(len(jobs)), key=lambda i: (len(jobs[i][3]), i))
    pick = {by_len[0], by_len[-1]}
    rest = [i for i in range(len(jobs)) if i not in pick]
    pick |= set(random.Random(seed).sample(rest, min(len(rest), max(0, n - len(pick)))))
    return sorted(pick)


# --------------------------------------------------------------------------------------------------
# the check
# --------------------------------------------------------------------------------------------------


class Field:
    def __init__(self, name, kind, tol=0.0):
        self.name, self.kind, self.tol = name, kind, tol
        self.compared = 0
        self.max_diff = 0.0
        self.bad = 0
        self.excused = 0
        self.examples = []


def read_details(path):
    records = []
    with open(path, encoding="utf-8") as f:
        for ln, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                die(f"error: {path}:{ln}: not JSON ({e})")
            rec["_line"] = ln
            records.append(rec)
    if not records:
        die(f"error: {path}: no records")
    return records


def structure_problems(records, models, text_check):
    """(problems [(line, message)], lines that cannot be recomputed, (texts compared, texts differing))."""
    problems = []
    unusable = set()
    tok = models[0].tok
    vocab_size = models[0].model.config.vocab_size
    n_models = len(models)
    max_tokens = min(m.max_tokens for m in models)
    text_compared = text_bad = 0

    def fatal(ln, msg):
        problems.append((ln, msg))
        unusable.add(ln)

    for rec in records:
        ln = rec["_line"]
        miss = [k for k in ("document", "window", "text", "ids", "mode", "positions", "models") if k not in rec]
        if miss:
            fatal(ln, f"missing keys {miss}")
            continue
        ids, positions, mode = rec["ids"], rec["positions"], rec["mode"]
        if not isinstance(ids, list) or not all(isinstance(i, int) and 0 <= i < vocab_size for i in ids):
            fatal(ln, "ids must be a list of ids of the vocabulary")
            continue
        n = len(ids)
        if n < 3 or ids[0] != tok.bos_token_id or ids[-1] != tok.eos_token_id:
            fatal(ln, "ids must start with <s>, end with </s> and hold at least one token")
            continue
        if n > max_tokens:
            fatal(ln, f"{n} ids, more than the model accepts ({max_tokens})")
            continue
        if text_check:
            text_compared += 1
            if tok(rec["text"])["input_ids"] != ids:
                text_bad += 1
                problems.append((ln, "ids != tokenizer(text) of the first model"))
        if mode not in ("one", "all", "pll"):
            fatal(ln, f"unknown mode {mode!r}")
            continue
        if not isinstance(positions, list) or not positions or \
                any(not isinstance(p, int) or not (1 <= p <= n - 2) for p in positions) or len(set(positions)) != len(positions):
            fatal(ln, "positions must be a non-empty list of distinct positions in 1..n-2")
            continue
        if mode == "pll":
            if positions != list(range(1, n - 1)):
                problems.append((ln, "mode pll: positions must be 1..n-2"))
        else:
            tokens = tok.convert_ids_to_tokens(ids)
            w = word_initial(tokens)
            ws = set(w)
            bad = [p for p in positions if p not in ws]
            if bad:
                problems.append((ln, f"positions {bad} are not word-initial ({[tokens[p] for p in bad]})"))
            want = expected_count(len(w))
            if len(positions) != want:
                problems.append((ln, f"{len(positions)} positions, expected max(1, floor(0.15 * {len(w)} + 0.5)) = {want}"))
        if not isinstance(rec["models"], list) or len(rec["models"]) != n_models:
            fatal(ln, f"the record must hold {n_models} model(s)")
            continue
        k = len(positions)
        for mi, m in enumerate(rec["models"]):
            for key in ("log_probs", "ranks", "top5"):
                if not isinstance(m, dict) or not isinstance(m.get(key), list) or len(m[key]) != k:
                    fatal(ln, f"models[{mi}].{key} must be a list of {k}")
        if n_models == 2:
            a = rec.get("agreement")
            if not isinstance(a, dict):
                fatal(ln, "agreement missing (two models)")
            else:
                for key in ("kl", "js", "top1_agree", "overlap", "spearman"):
                    if not isinstance(a.get(key), list) or len(a[key]) != k:
                        fatal(ln, f"agreement.{key} must be a list of {k}")
        elif rec.get("agreement") is not None:
            problems.append((ln, "agreement present with one model"))
    return problems, unusable, (text_compared, text_bad)


def num_diff(a, b):
    if a is None and b is None:
        return 0.0
    if a is None or b is None or not isinstance(a, (int, float)) or isinstance(a, bool):
        return math.inf
    if isinstance(a, float) and math.isnan(a):
        return math.inf
    return abs(a - b)


def compare(records, results, n_models, tol, tie_tol, show):
    fields = {}

    def field(name, kind, t=0.0):
        if name not in fields:
            fields[name] = Field(name, kind, t)
        return fields[name]

    def note(f, rec, s, got, want, extra=""):
        if len(f.examples) < show:
            f.examples.append(f"line {rec['_line']} (document {rec.get('document')}, window {rec.get('window')}, "
                              f"mode {rec.get('mode')}, position {rec['positions'][s]}): got {got!r}, transformers {want!r}{extra}")

    for rec, ref in zip(records, results):
        k = len(rec["positions"])
        for mi in range(n_models):
            got, want = rec["models"][mi], ref["models"][mi]
            sfx = f"[model {mi + 1}]"
            f = field("log_probs" + sfx, "num", tol)
            for s in range(k):
                d = num_diff(got["log_probs"][s], want["log_probs"][s])
                f.compared += 1
                if d != math.inf:
                    f.max_diff = max(f.max_diff, d)
                if d > tol:
                    f.bad += 1
                    note(f, rec, s, got["log_probs"][s], want["log_probs"][s])
            for name, key, margin_key in (("ranks" + sfx, "ranks", "rank_margin"), ("top5" + sfx, "top5", "top_margin")):
                f = field(name, "exact")
                for s in range(k):
                    f.compared += 1
                    g, w = got[key][s], want[key][s]
                    if key == "ranks" and isinstance(g, (int, float)) and not isinstance(g, bool):
                        f.max_diff = max(f.max_diff, abs(g - w))
                    if g != w:
                        margin = want[margin_key][s]
                        extra = f" (reference margin {margin:.3g})"
                        if margin < tie_tol:
                            f.excused += 1
                            extra += " excused"
                        else:
                            f.bad += 1
                        note(f, rec, s, g, w, extra)
        if n_models == 2:
            got, want = rec["agreement"], ref["agreement"]
            for key in ("kl", "js", "spearman"):
                f = field(key, "num", tol)
                for s in range(k):
                    d = num_diff(got[key][s], want[key][s])
                    f.compared += 1
                    if d != math.inf:
                        f.max_diff = max(f.max_diff, d)
                    if d > tol:
                        f.bad += 1
                        note(f, rec, s, got[key][s], want[key][s])
            for key in ("top1_agree", "overlap"):
                f = field(key, "exact")
                for s in range(k):
                    f.compared += 1
                    g, w = got[key][s], want[key][s]
                    if key == "overlap":
                        d = num_diff(g, w)
                        if d != math.inf:
                            f.max_diff = max(f.max_diff, d)
                        differs = d > 1e-12
                    else:
                        differs = g is not w
                    if differs:
                        margin = min(ref["models"][0]["top_margin"][s], ref["models"][1]["top_margin"][s])
                        extra = f" (reference margin {margin:.3g})"
                        if margin < tie_tol:
                            f.excused += 1
                            extra += " excused"
                        else:
                            f.bad += 1
                        note(f, rec, s, g, w, extra)
    return list(fields.values())


def run_check(records, models, args, quiet=False, memo=None):
    """returns (ok, summary dict)."""
    out = (lambda *a: None) if quiet else (lambda *a: print(*a))
    problems, unusable, (text_compared, text_bad) = structure_problems(records, models, not args.no_text_check)
    usable = [rec for rec in records if rec["_line"] not in unusable]
    # reference numbers for every usable record (the ids of the file are fed to the models)
    key = lambda r: (tuple(r["ids"]), r["mode"], tuple(r["positions"]))
    todo = [r for r in usable if memo is None or key(r) not in memo]
    pad = (None, None, 0, 0)
    if todo:
        res, kept, jobs = evaluate(todo, [r["ids"] for r in todo], models, args.batch_size, "length", "all",
                                   keep=padding_sample(build_jobs(todo, [r["ids"] for r in todo], models[0].tok.mask_token_id),
                                                       args.verify_padding, SELF_TEST_SEED))
        worst, worst_row, rows = verify_padding(jobs, kept, models, [r["ids"] for r in todo])
        pad = (worst, worst_row, rows, len(kept))
        if memo is not None:
            for r, x in zip(todo, res):
                memo[key(r)] = x
    else:
        res = []
    by_key = dict(zip([key(r) for r in todo], res))
    results = [memo[key(r)] if memo is not None else by_key[key(r)] for r in usable]
    fields = compare(usable, results, len(models), args.tolerance, args.tie_tolerance, args.show)

    ok = True
    out(f"details: {len(records)} records ({sum(1 for r in records if r.get('mode') == 'one')} one, "
        f"{sum(1 for r in records if r.get('mode') == 'all')} all, {sum(1 for r in records if r.get('mode') == 'pll')} pll), "
        f"{sum(len(r.get('positions', [])) for r in records)} positions, {len(models)} model(s): "
        + ", ".join(str(m.path.relative_to(REPO)) if m.path.is_relative_to(REPO) else str(m.path) for m in models))
    for mi, m in enumerate(models):
        names = {r["models"][mi].get("model") for r in records if len(r.get("models", [])) > mi}
        for nm in names:
            if nm is not None and Path(str(nm)).name != m.path.name:
                out(f"note: details model {mi + 1} is {nm!r}, checked against {m.path}")
    out(f"{'field':<22}{'compared':>10}{'max |diff|':>14}{'over tol / differing':>22}")
    for f in fields:
        md = "-" if f.name.startswith("top5") or f.name == "top1_agree" else f"{f.max_diff:.3g}"
        tail = f"{f.bad}" + (f" (+{f.excused} excused near-ties)" if f.excused else "")
        out(f"{f.name:<22}{f.compared:>10}{md:>14} {tail:>21}")
        if f.bad:
            ok = False
        for e in f.examples:
            out(f"    {e}")
    out(f"{'ids == tokenize(text)':<22}{text_compared:>10}{'':>14}{text_bad:>22}")
    worst, worst_row, rows, n = pad
    if worst is not None and n:
        out(f"padding: {n} inputs ({rows} positions) also run alone, unpadded: max |diff| of the compared numbers "
            f"{worst:.3g} (limit {args.tolerance / 4:g}, a quarter of --tolerance); over whole log-prob rows {worst_row:.3g} (information)")
        if worst > args.tolerance / 4:
            ok = False
    if problems:
        ok = False
        out(f"rule / structure problems: {len(problems)}")
        for ln, msg in problems[: max(args.show, 1) * 2]:
            out(f"    line {ln}: {msg}")
    out("RESULT: " + ("match" if ok else "MISMATCH"))
    return ok, {"fields": fields, "problems": problems, "padding": pad}


# --------------------------------------------------------------------------------------------------
# --time: the same evaluation as a transformers user would write it
# --------------------------------------------------------------------------------------------------


ORT_TOLERANCE = 1e-4


def run_time(records, models, args):
    """Times the evaluation per engine (--engine torch / onnxruntime / both); returns False when ONNX Runtime's
    log-probs at the masked positions differ from torch's by more than ORT_TOLERANCE."""
    torch.set_num_threads(args.threads)
    engines = ["torch", "onnxruntime"] if args.engine == "both" else [args.engine]
    tok = models[0].tok
    texts = [r["text"] for r in records]
    docs = len({r["document"] for r in records})
    n_pos = sum(len(r["positions"]) for r in records)
    warm = records[: max(1, min(len(records), 4))]  # warm-up: the first records (one batch, two for pll)
    warm_jobs = build_jobs(warm, [r["ids"] for r in warm], tok.mask_token_id)
    versions = f"transformers {transformers.__version__}, torch {torch.__version__}"
    runners = {"torch": models}
    tmp = None
    try:
        if "onnxruntime" in engines:
            import onnx
            import onnxruntime as ort

            versions += f", onnxruntime {ort.__version__} (onnx {onnx.__version__})"
            tmp = tempfile.TemporaryDirectory(prefix="maskscope-eval-onnx-")
            trace = onnx_trace_inputs(build_jobs(records, [r["ids"] for r in records], tok.mask_token_id),
                                      tok.bos_token_id, tok.eos_token_id, tok.mask_token_id, tok.pad_token_id)
            runners["onnxruntime"] = [OrtModel(m, args.head, Path(tmp.name) / f"model{mi + 1}-{args.head}.onnx",
                                               args.threads, trace) for mi, m in enumerate(models)]
        print(f"time: {versions}; {args.threads} threads (torch threads" + (", ORT intra-op threads" if tmp else "")
              + f"); batch {args.batch_size} inputs (file order, right-padded), LM head at "
              + ("every position (model(**batch).logits)" if args.head == "all" else "the masked rows only (--head masked)")
              + f", {len(models)} model(s)")
        if tmp:
            print("time: onnx export (torch.onnx.export, opset 17, dynamic batch/sequence axes; temporary, deleted afterwards): "
                  + ", ".join(f"{m.path.name} {o.megabytes:.1f} MB in {o.seconds:.1f} s" for m, o in zip(models, runners["onnxruntime"])))
        load_before = os.getloadavg()[0]
        timed = {}
        for engine in engines:
            # warm-up (untimed): its whole log-prob rows are kept for the ORT/torch comparison
            _, warm_rows, _ = evaluate(warm, [r["ids"] for r in warm], models, args.batch_size, "file", args.head,
                                       keep=range(len(warm_jobs)), runners=runners[engine])
            start = time.perf_counter()
            enc = tok(texts)["input_ids"]
            t_tok = time.perf_counter() - start
            # the positions refer to the file's ids: where the text tokenizes otherwise, the file's ids are used
            use = [a if a == r["ids"] else r["ids"] for a, r in zip(enc, records)]
            res, _, jobs = evaluate(records, use, models, args.batch_size, "file", args.head, runners=runners[engine])
            total = time.perf_counter() - start
            timed[engine] = {"total": total, "tokenizer": t_tok, "results": res, "jobs": len(jobs), "warm_rows": warm_rows,
                             "same_ids": sum(1 for a, r in zip(enc, records) if a == r["ids"])}
        load_after = os.getloadavg()[0]
        first = timed[engines[0]]
        print(f"time: {len(records)} records (sequences), {docs} documents (sentences), {first['jobs']} forward inputs, "
              f"{n_pos} positions; tokenizer(texts) equal to the file's ids for {first['same_ids']}/{len(records)}; "
              "timed per engine: tokenizer(texts) + every batch's forward pass + log_softmax/ranks/top-5"
              + ("/agreement" if len(models) == 2 else "") + " in torch (model loading, export and one warm-up pass untimed)")
        print(f"{'engine':<14}{'total s':>10}{'sequences/s':>14}{'sentences/s':>14}{'inputs/s':>11}{'tokenizer s':>13}"
              + (f"{'vs torch':>10}" if len(engines) == 2 else ""))
        for engine in engines:
            t = timed[engine]
            print(f"{engine:<14}{t['total']:>10.3f}{len(records) / t['total']:>14.2f}{docs / t['total']:>14.2f}"
                  f"{t['jobs'] / t['total']:>11.2f}{t['tokenizer']:>13.3f}"
                  + (f"{timed['torch']['total'] / t['total']:>9.2f}x" if len(engines) == 2 else ""))
        print(f"time: load average {load_before:.2f} before the timed runs, {load_after:.2f} after "
              "(on a busy machine these rates are noisy; compare engines from the same run)")

        if "onnxruntime" not in timed:
            return True
        ort_t = timed["onnxruntime"]
        if "torch" in timed:
            ref, ref_warm, how = timed["torch"]["results"], timed["torch"]["warm_rows"], "torch's timed run"
        else:  # --engine onnxruntime: the torch numbers for the check, untimed
            enc = tok(texts)["input_ids"]
            use = [a if a == r["ids"] else r["ids"] for a, r in zip(enc, records)]
            ref, _, _ = evaluate(records, use, models, args.batch_size, "file", args.head)
            _, ref_warm, _ = evaluate(warm, [r["ids"] for r in warm], models, args.batch_size, "file", args.head,
                                      keep=range(len(warm_jobs)))
            how = "an untimed torch run"
        return compare_engines(ref, ort_t["results"], ref_warm, ort_t["warm_rows"], len(models), how)
    finally:
        if tmp:
            tmp.cleanup()


def compare_engines(ref, got, ref_warm, got_warm, n_models, how):
    """ORT against torch on the same padded batches: the log-prob of the original token at every masked
    position (per model) must agree within ORT_TOLERANCE; the rest is printed for information."""
    worst = 0.0
    over = compared = 0
    rank_diff = top_diff = 0
    agree_worst = {"kl": 0.0, "js": 0.0}
    for a, b in zip(ref, got):
        for mi in range(n_models):
            ma, mb = a["models"][mi], b["models"][mi]
            for s in range(len(ma["log_probs"])):
                d = abs(ma["log_probs"][s] - mb["log_probs"][s])
                compared += 1
                worst = max(worst, d)
                over += d > ORT_TOLERANCE
                rank_diff += ma["ranks"][s] != mb["ranks"][s]
                top_diff += ma["top5"][s] != mb["top5"][s]
        if n_models == 2:
            for k in agree_worst:
                agree_worst[k] = max([agree_worst[k]] + [abs(x - y) for x, y in zip(a["agreement"][k], b["agreement"][k])])
    row_worst = 0.0
    rows = 0
    for j, per_model in ref_warm.items():
        for mi in range(n_models):
            x, y = torch.stack(per_model[mi]), torch.stack(got_warm[j][mi])
            row_worst = max(row_worst, float((x - y).abs().max()))
            rows += x.shape[0]
    ok = over == 0
    print(f"check: onnxruntime vs torch ({how}, same padded batches): log-prob of the original token at {compared} "
          f"masked positions ({n_models} model(s)): max |diff| {worst:.3g} (limit {ORT_TOLERANCE:g}), {over} over -> "
          + ("ok" if ok else "MISMATCH"))
    print(f"check: (information) whole log-prob rows of the warm-up records, {rows} rows: max |diff| {row_worst:.3g}; "
          f"ranks differ at {rank_diff}, top-5 ids at {top_diff} of {compared}"
          + (f"; kl max |diff| {agree_worst['kl']:.3g}, js {agree_worst['js']:.3g}" if n_models == 2 else ""))
    return ok


# --------------------------------------------------------------------------------------------------
# --self-test
# --------------------------------------------------------------------------------------------------

SELF_TEST_DOCS = [
    ["Paris is the capital of France."],
    ["The weather today is beautiful, isn't it?"],
    ["Every morning I drink a cup of coffee and read the news.",  # two windows of one document
     "The museum opens at 9 a.m. and closes at 5 p.m. every day."],
    ["Hello"],
    ["The children played in the garden while their parents talked about music, science and art."],
    ["A journey of a thousand miles begins with a single step."],
    ["They're going to the market to buy bread, cheese and wine."],
    ["The supercalifragilistic weather is beautiful."],
]


def plain_log_softmax(logits):
    x = np.asarray(logits, dtype=np.float32).astype(np.float64)
    z = x - x.max()
    return z - math.log(float(np.exp(z).sum()))


def plain_metrics(lp, t):
    """rank and top-5 written out plainly (no torch); lp: a list of Python floats."""
    lt = lp[t]
    rank = 1 + sum(1 for j, v in enumerate(lp) if v > lt or (v == lt and j < t))
    top = sorted(range(len(lp)), key=lambda j: (-lp[j], j))[:TOPK]
    return rank, top


def plain_agreement(lp, lq, tp, tq):
    """KL / JS / top-1 / overlap / Spearman written out plainly; lp, lq: lists of Python floats (float64)."""
    p = [math.exp(v) for v in lp]
    q = [math.exp(v) for v in lq]
    lm = [max(a, b) + math.log1p(math.exp(-abs(a - b))) - math.log(2.0) for a, b in zip(lp, lq)]  # log((p+q)/2)
    kl = math.fsum(pi * (a - b) for pi, a, b in zip(p, lp, lq) if pi > 0)
    kpm = math.fsum(pi * (a - m) for pi, a, m in zip(p, lp, lm) if pi > 0)
    kqm = math.fsum(qi * (b - m) for qi, b, m in zip(q, lq, lm) if qi > 0)
    union = sorted(set(tp) | set(tq))
    rho = None
    if len(union) >= 2:
        rho = pearson(average_ranks([lp[i] for i in union]), average_ranks([lq[i] for i in union]))
    return {"kl": kl, "js": 0.5 * kpm + 0.5 * kqm, "top1_agree": tp[0] == tq[0],
            "overlap": len(set(tp) & set(tq)) / TOPK, "spearman": rho}


def generate_details(models, names, seed):
    """a details file from transformers itself: unbatched, one input at a time, plain-Python metrics."""
    rng = random.Random(seed)
    tok = models[0].tok
    mask = tok.mask_token_id
    lines = []
    for doc, windows in enumerate(SELF_TEST_DOCS):
        for win, text in enumerate(windows):
            ids = tok(text)["input_ids"]
            tokens = tok.convert_ids_to_tokens(ids)
            w = word_initial(tokens)
            chosen = sorted(rng.sample(w, expected_count(len(w))))
            for mode in ("one", "all", "pll"):
                positions = list(range(1, len(ids) - 1)) if mode == "pll" else chosen
                inputs = []
                if mode == "all":
                    x = list(ids)
                    for p in positions:
                        x[p] = mask
                    inputs.append((x, positions))
                else:
                    for p in positions:
                        x = list(ids)
                        x[p] = mask
                        inputs.append((x, [p]))
                rows = [[] for _ in models]  # per model, per position: float64 log-probs
                for x, ps in inputs:
                    for mi, m in enumerate(models):
                        with torch.inference_mode():
                            logits = m.model(input_ids=torch.tensor([x])).logits[0]
                        for p in ps:
                            rows[mi].append(plain_log_softmax(logits[p].numpy()).tolist())
                rec = {"document": doc, "window": win, "text": text, "ids": ids, "mode": mode, "positions": positions, "models": []}
                tops = []
                for mi in range(len(models)):
                    lps, ranks, top5 = [], [], []
                    for p, lp in zip(positions, rows[mi]):
                        r, t = plain_metrics(lp, ids[p])
                        lps.append(float(lp[ids[p]]))
                        ranks.append(r)
                        top5.append(t)
                    tops.append(top5)
                    rec["models"].append({"model": names[mi], "log_probs": lps, "ranks": ranks, "top5": top5})
                if len(models) == 2:
                    agg = {k: [] for k in ("kl", "js", "top1_agree", "overlap", "spearman")}
                    for s in range(len(positions)):
                        a = plain_agreement(rows[0][s], rows[1][s], tops[0][s], tops[1][s])
                        for k in agg:
                            agg[k].append(a[k])
                    rec["agreement"] = agg
                lines.append(rec)
    return lines


def write_details(path, records):
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            r = {k: v for k, v in r.items() if k != "_line"}
            f.write(json.dumps(r, ensure_ascii=False, allow_nan=False) + "\n")


def check_scoring_fixture():
    """the checker's torch metrics against scoring.json's plainly computed distribution cases."""
    path = REPO / "Tests" / "Fixtures" / "reference" / "scoring.json"
    if not path.exists():
        print(f"self-test: {path.relative_to(REPO)} missing, distribution cross-check skipped")
        return True
    doc = json.load(open(path, encoding="utf-8"))
    worst = 0.0
    ok = True
    for c in doc["distributions"]:
        lp = torch.log_softmax(torch.tensor([c["p_logits"]], dtype=torch.float32).double(), -1)
        lq = torch.log_softmax(torch.tensor([c["q_logits"]], dtype=torch.float32).double(), -1)
        zero = torch.zeros(1, dtype=torch.long)
        tp = per_model_metrics(lp, zero)[2]
        tq = per_model_metrics(lq, zero)[2]
        kl, js, top1, overlap, spear = agreement_metrics(lp, lq, tp, tq)
        got = {"kl": float(kl[0]), "js": float(js[0]), "top1_agree": bool(top1[0]), "overlap": float(overlap[0]), "spearman": spear[0]}
        for k in ("kl", "js", "spearman"):
            d = num_diff(got[k], c[k])
            worst = max(worst, d)
            if d > 1e-12:
                ok = False
                print(f"self-test: scoring.json {c['name']}: {k} {got[k]!r} vs {c[k]!r}")
        if got["top1_agree"] != c["top1_agree"] or got["overlap"] != c["overlap"] or tp[0].tolist() != c["top_p"] or tq[0].tolist() != c["top_q"]:
            ok = False
            print(f"self-test: scoring.json {c['name']}: top1/overlap/top-k differ")
    print(f"self-test: scoring.json distributions: {len(doc['distributions'])} cases, max |diff| kl/js/spearman {worst:.3g} "
          + ("ok" if ok else "FAILED"))
    return ok


def self_test(args):
    torch.set_num_threads(args.threads)
    names = args.model or ["tiny"]
    models = load_models(names)
    ok = check_scoring_fixture()
    t0 = time.perf_counter()
    records = generate_details(models, names, SELF_TEST_SEED)
    print(f"self-test: generated {len(records)} records with transformers (unbatched) in {time.perf_counter() - t0:.1f} s")
    with tempfile.TemporaryDirectory(prefix="maskscope-eval-selftest-") as tmp:
        path = Path(tmp) / "details.jsonl"
        write_details(path, records)
        if args.write_generated:
            write_details(args.write_generated, records)
            print(f"self-test: generated details also written to {args.write_generated}")
        clean = read_details(path)
        memo = {}
        print(f"self-test: checking the generated file ({path.name}):")
        passed, _ = run_check(clean, models, args, memo=memo)
        if not passed:
            print("self-test: FAILED: the checker rejects transformers' own answers")
            ok = False

        two = len(models) == 2
        # one record with two or more positions, one model, etc.
        multi = next(i for i, r in enumerate(clean) if r["mode"] == "one" and len(r["positions"]) >= 2)
        allr = next(i for i, r in enumerate(clean) if r["mode"] == "all")
        pllr = next(i for i, r in enumerate(clean) if r["mode"] == "pll" and len(r["positions"]) >= 3)

        def bump(path_fn):
            def f(recs):
                obj, key = path_fn(recs)
                obj[key] = obj[key] + 1e-3
            return f

        perturb = [
            ("log_probs[model 1] + 1e-3 (mode one)", "log_probs[model 1]", bump(lambda r: (r[multi]["models"][0]["log_probs"], 1))),
            ("log_probs[model 1] + 1e-3 (mode all)", "log_probs[model 1]", bump(lambda r: (r[allr]["models"][0]["log_probs"], 0))),
            ("log_probs[model 1] + 1e-3 (mode pll)", "log_probs[model 1]", bump(lambda r: (r[pllr]["models"][0]["log_probs"], 2))),
            ("ranks[model 1] + 1", "ranks[model 1]", lambda r: r[multi]["models"][0]["ranks"].__setitem__(0, r[multi]["models"][0]["ranks"][0] + 1)),
            ("top5[model 1] two ids swapped", "top5[model 1]", lambda r: r[multi]["models"][0]["top5"].__setitem__(
                0, [r[multi]["models"][0]["top5"][0][1], r[multi]["models"][0]["top5"][0][0]] + r[multi]["models"][0]["top5"][0][2:])),
            ("a position replaced by a non-word-initial one", "rules", "non-initial"),
            ("one word-initial position too many", "rules", "count"),
        ]
        if two:
            first_spear = next((i, s) for i, r in enumerate(clean) for s, v in enumerate(r["agreement"]["spearman"]) if v is not None)
            perturb += [
                ("log_probs[model 2] + 1e-3", "log_probs[model 2]", bump(lambda r: (r[multi]["models"][1]["log_probs"], 0))),
                ("kl + 1e-3", "kl", bump(lambda r: (r[multi]["agreement"]["kl"], 0))),
                ("js + 1e-3", "js", bump(lambda r: (r[allr]["agreement"]["js"], 0))),
                ("spearman + 1e-3", "spearman", bump(lambda r: (r[first_spear[0]]["agreement"]["spearman"], first_spear[1]))),
                ("spearman -> null", "spearman", lambda r: r[first_spear[0]]["agreement"]["spearman"].__setitem__(first_spear[1], None)),
                ("top1_agree flipped", "top1_agree", lambda r: r[pllr]["agreement"]["top1_agree"].__setitem__(0, not r[pllr]["agreement"]["top1_agree"][0])),
                ("overlap + 0.2", "overlap", lambda r: r[pllr]["agreement"]["overlap"].__setitem__(0, r[pllr]["agreement"]["overlap"][0] + 0.2)),
            ]
        for label, expect, fn in perturb:
            recs = copy.deepcopy(clean)
            if fn == "non-initial":  # swap a chosen position for a non-word-initial one
                r = next(x for x in recs if x["mode"] == "one" and
                         any(not t.startswith("Ġ") for t in models[0].tok.convert_ids_to_tokens(x["ids"])[2:-1]))
                toks = models[0].tok.convert_ids_to_tokens(r["ids"])
                r["positions"][0] = next(i for i in range(2, len(toks) - 1) if not toks[i].startswith("Ġ"))
                r["positions"].sort()
            elif fn == "count":  # one more word-initial position (numbers copied from the first position)
                def spare(x):
                    return [i for i in word_initial(models[0].tok.convert_ids_to_tokens(x["ids"])) if i not in x["positions"]]
                r = next(x for x in recs if x["mode"] == "one" and spare(x))
                r["positions"].append(spare(r)[0])
                for m in r["models"]:
                    for key in ("log_probs", "ranks", "top5"):
                        m[key].append(m[key][0])
                if r.get("agreement"):
                    for key in r["agreement"]:
                        r["agreement"][key].append(r["agreement"][key][0])
            else:
                fn(recs)
            write_details(path, recs)
            passed, summary = run_check(read_details(path), models, args, quiet=True, memo=memo)
            failed = not passed
            hit = [f.name for f in summary["fields"] if f.bad] + (["rules"] if summary["problems"] else [])
            caught = failed and expect in hit
            print(f"self-test: perturbed {label:<46} -> {'caught by ' + ', '.join(hit) if caught else 'NOT CAUGHT ' + str(hit)}")
            ok &= caught
        if args.time:
            ok &= run_time(clean, models, args)
    print("self-test: " + ("PASSED" if ok else "FAILED"))
    return 0 if ok else 1


# --------------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--details", help="maskscope eval --details output (JSON Lines)")
    ap.add_argument("--model", action="append", help="model directory or name, once or twice, in the details' order")
    ap.add_argument("--batch-size", type=int, default=32, help="model inputs per forward pass (default 32)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads and ONNX Runtime intra-op threads (default 2)")
    ap.add_argument("--tolerance", type=float, default=1e-4, help="log_probs/kl/js/spearman (default 1e-4)")
    ap.add_argument("--tie-tolerance", type=float, default=0.0,
                    help="excuse a rank/top5/top1/overlap difference whose reference log-prob margin is below this (default 0)")
    ap.add_argument("--verify-padding", type=int, default=24, metavar="N",
                    help="inputs also run alone to check that padding changes nothing (default 24; 0 = skip)")
    ap.add_argument("--no-text-check", action="store_true", help="do not require ids == tokenizer(text)")
    ap.add_argument("--show", type=int, default=5, help="examples printed per differing field")
    ap.add_argument("--time", action="store_true", help="also time the evaluation the transformers way")
    ap.add_argument("--head", choices=("all", "masked"), default="all",
                    help="--time: LM head at every position (model(**batch).logits, default) or at the masked rows only")
    ap.add_argument("--engine", choices=("torch", "onnxruntime", "both"), default="both",
                    help="--time: transformers (torch), ONNX Runtime running the same model exported to ONNX, or both (default)")
    ap.add_argument("--no-check", action="store_true", help="with --time: only time")
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("--write-generated", metavar="PATH", help="--self-test: also keep the generated details file at PATH")
    args = ap.parse_args()
    if args.model and len(args.model) > 2:
        ap.error("--model at most twice")
    torch.set_num_threads(args.threads)

    if args.self_test:
        return self_test(args)
    if not args.details:
        ap.error("--details FILE (or --self-test)")
    records = read_details(args.details)
    names = args.model
    if not names:
        names = [m.get("model") for m in records[0].get("models", [])]
        if not names or any(not n for n in names):
            die("error: no --model and no model names in the details")
    n_models = len(records[0].get("models", []))
    if n_models != len(names):
        die(f"error: the details hold {n_models} model(s), {len(names)} --model given")
    models = load_models(names)
    ok = True
    if not args.no_check:
        ok, _ = run_check(records, models, args)
    if args.time:
        ok = run_time(records, models, args) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
