#!/usr/bin/env python3
"""Generate Tests/Fixtures/reference/scoring.json: the transformers answers for `maskscope score`
(pseudo-log-likelihood) and the distribution-agreement metrics of `maskscope eval`.

Run from the repository root with the pinned reference stack (Scripts/requirements-reference.txt):

    /root/msvenv/bin/python Scripts/make_scoring_fixtures.py [--out Tests/Fixtures/reference/scoring.json]

Deterministic (fixed seeds, one torch thread, one tokenizers thread, offline): running it twice gives
byte-identical output (compare with sha256sum).  Needs Tests/Fixtures/models/{tiny,tiny-untied} and
models/pocket-{teacher,student}; takes a few seconds.

Definitions (natural logs; p = first model / teacher, q = second / student; every softmax is over the
whole vocabulary, in float64, from the float32 logits):

* PLL (Salazar et al. 2020): tokenize with special tokens; for every position i except the first (<s>)
  and the last (</s>) run the model on a copy with ids[i] = <mask> (alone, batch 1, unpadded), take
  log_softmax(logits[i])[original id] = token_log_probs[i].  pll = sum, pseudo_perplexity =
  exp(-pll / count), count = n - 2.
* KL(p||q) = sum p (log p - log q); JS = KL(p||m)/2 + KL(q||m)/2, m = (p + q)/2.
* top1_agree: argmax p == argmax q (ties to the lower id); overlap = |topk(p) & topk(q)| / k (topk
  ordered by probability descending then id ascending).
* spearman: U = topk(p) | topk(q); rank U by p and by q (1 = largest, ties get the average rank);
  Pearson correlation of the two rank vectors; null if |U| < 2 or one rank vector is constant.
"""

import os

# Must be set before tokenizers / torch spin up their thread pools.
os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import argparse
import hashlib
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch

torch.set_num_threads(1)
try:
    torch.set_num_interop_threads(1)
except RuntimeError:
    pass

import tokenizers
import transformers
from transformers import AutoModelForMaskedLM, AutoTokenizer

transformers.utils.logging.disable_progress_bar()
transformers.utils.logging.set_verbosity_error()

REPO = Path(__file__).resolve().parent.parent

VERSIONS = {
    "transformers": transformers.__version__,
    "torch": torch.__version__,
    "tokenizers": tokenizers.__version__,
    "numpy": np.__version__,
    "python": "%d.%d.%d" % sys.version_info[:3],
}

PLL_MODELS = [
    ("tiny", "Tests/Fixtures/models/tiny"),
    ("tiny-untied", "Tests/Fixtures/models/tiny-untied"),
    ("pocket-teacher", "models/pocket-teacher"),
    ("pocket-student", "models/pocket-student"),
]

PLL_TEXTS = [
    "The cat sat on the mat.",  # plain
    "The supercalifragilistic weather is beautiful.",  # a word split into several tokens (both vocabularies)
    "Hello, world! It's 3.14 - isn't it?",  # punctuation, contractions, a number
    "Paris",  # one word: 1 token with the tiny vocabulary (count 1), 2 with the pocket one
]

BATCH_MODEL = ("tiny", "Tests/Fixtures/models/tiny")
BATCH_TEXTS = [  # 3 .. 40 tokens with the tiny vocabulary (asserted below)
    "Paris",
    "Today is a beautiful day!",
    "The cat sat on the mat, and the dog slept by the door.",
    "Paris is the capital of France.",
    "Every morning I drink a cup of coffee and read the news before the museum opens at 9 a.m. and closes at 5 p.m. today.",
    "Berlin is the capital of Germany, and Rome is the capital of Italy.",
]
BATCH_VALUES = 8  # first values of the last hidden state's row 1

VOCAB = 40
TOPK = 5
DIST_SEED = 20250101

LOAD = ("AutoModelForMaskedLM.from_pretrained(dir, dtype=torch.float32, attn_implementation='eager').eval() "
        "(bf16 checkpoints are upcast exactly); AutoTokenizer.from_pretrained(dir); one torch thread")


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------


def write_json(path, obj):
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
        f.write("\n")


def f32_values(a):
    """float32 values as Python floats holding the shortest decimal that maps back to the same float32
    (as in make_fixtures.py: parsing the decimal as float32, or as a double then rounding, both give it)."""
    out = []
    for v in np.asarray(a, dtype=np.float32).ravel():
        d = float(str(v))
        if np.float32(d) != v or np.float32(str(v)) != v:
            d = float(v)
        out.append(d)
    return out


def log_softmax64(logits):
    """log_softmax over the whole vocabulary in float64 from float32 logits."""
    x = np.asarray(logits, dtype=np.float32).astype(np.float64)
    z = x - x.max()
    return z - math.log(float(np.exp(z).sum()))


def load(path):
    model = AutoModelForMaskedLM.from_pretrained(str(REPO / path), dtype=torch.float32, attn_implementation="eager")
    model.eval()
    tok = AutoTokenizer.from_pretrained(str(REPO / path))
    return model, tok


# --------------------------------------------------------------------------------------------------
# 1. PLL
# --------------------------------------------------------------------------------------------------


def pll_case(model, tok, name, path, text):
    ids = tok(text, add_special_tokens=True)["input_ids"]
    assert ids[0] == tok.bos_token_id and ids[-1] == tok.eos_token_id and len(ids) >= 3, ids
    lps = []
    for i in range(1, len(ids) - 1):
        masked = list(ids)
        masked[i] = tok.mask_token_id
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([masked]), attention_mask=torch.ones(1, len(ids), dtype=torch.long)).logits
        lps.append(float(log_softmax64(logits[0, i].numpy())[ids[i]]))
    pll = float(sum(lps))  # left-to-right Python sum
    return {
        "model": name,
        "path": path,
        "text": text,
        "ids": ids,
        "tokens": tok.convert_ids_to_tokens(ids),
        "positions": list(range(1, len(ids) - 1)),
        "token_log_probs": lps,
        "count": len(lps),
        "pll": pll,
        "pseudo_perplexity": math.exp(-pll / len(lps)),
    }


# --------------------------------------------------------------------------------------------------
# 1b. eval's masked-token measures at given positions (modes one and all)
# --------------------------------------------------------------------------------------------------

EVAL_TEXTS = ["The cat sat on the mat near the door.", "A dictionary defines words, and an atlas shows maps."]


def eval_case(model, tok, name, path, text):
    """Every word-initial position (the first after <s>, and tokens starting with the byte-level space),
    masked alone (mode one) and all at once (mode all): the original token's log-probability, its 1-based
    rank over the vocabulary (ties to the lower id) and the top 5 ids."""
    ids = tok(text, add_special_tokens=True)["input_ids"]
    tokens = tok.convert_ids_to_tokens(ids)
    positions = [i for i in range(1, len(ids) - 1) if i == 1 or tokens[i].startswith("\u0120")]

    def measures(logits_row, original):
        lp = log_softmax64(logits_row)
        order = sorted(range(len(lp)), key=lambda i: (-lp[i], i))
        return float(lp[original]), order.index(original) + 1, order[:5]

    out = {"model": name, "path": path, "text": text, "ids": ids, "positions": positions}
    for mode in ("one", "all"):
        lps, ranks, top5 = [], [], []
        if mode == "all":
            masked = list(ids)
            for p in positions:
                masked[p] = tok.mask_token_id
            with torch.no_grad():
                logits = model(input_ids=torch.tensor([masked])).logits[0]
        for p in positions:
            if mode == "one":
                masked = list(ids)
                masked[p] = tok.mask_token_id
                with torch.no_grad():
                    logits = model(input_ids=torch.tensor([masked])).logits[0]
            lp, rank, top = measures(logits[p].numpy(), ids[p])
            lps.append(lp)
            ranks.append(rank)
            top5.append(top)
        out[mode] = {"log_probs": lps, "ranks": ranks, "top5": top5}
    return out


# --------------------------------------------------------------------------------------------------
# 2. distributions (written out plainly, loop by loop: this is the reference)
# --------------------------------------------------------------------------------------------------


def topk_ids(logp, k):
    order = sorted(range(len(logp)), key=lambda i: (-logp[i], i))
    return order[:k]


def average_ranks(values):
    """rank 1 = largest; tied values share the average of the ranks they span."""
    n = len(values)
    order = sorted(range(n), key=lambda i: -values[i])
    ranks = [0.0] * n
    j = 0
    while j < n:
        e = j
        while e + 1 < n and values[order[e + 1]] == values[order[j]]:
            e += 1
        avg = (j + 1 + e + 1) / 2.0
        for t in range(j, e + 1):
            ranks[order[t]] = avg
        j = e + 1
    return ranks


def pearson(x, y):
    n = len(x)
    mx = sum(x) / n
    my = sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)


def metrics(p_logits, q_logits, k):
    lp = log_softmax64(p_logits)
    lq = log_softmax64(q_logits)
    p = np.exp(lp)
    q = np.exp(lq)
    lm = np.logaddexp(lp, lq) - math.log(2.0)  # log((p + q) / 2) without underflow
    kl = float(sum(p[i] * (lp[i] - lq[i]) for i in range(len(p)) if p[i] > 0))
    kl_pm = float(sum(p[i] * (lp[i] - lm[i]) for i in range(len(p)) if p[i] > 0))
    kl_qm = float(sum(q[i] * (lq[i] - lm[i]) for i in range(len(q)) if q[i] > 0))
    js = 0.5 * kl_pm + 0.5 * kl_qm
    tp = topk_ids(list(lp), k)
    tq = topk_ids(list(lq), k)
    union = sorted(set(tp) | set(tq))
    rho = None
    if len(union) >= 2:
        rho = pearson(average_ranks([lp[i] for i in union]), average_ranks([lq[i] for i in union]))
    return {
        "kl": kl,
        "js": js,
        "top1_agree": tp[0] == tq[0],
        "overlap": len(set(tp) & set(tq)) / k,
        "spearman": rho,
        "top_p": tp,
        "top_q": tq,
    }


def distribution_cases():
    rng = np.random.default_rng(DIST_SEED)

    def normal(scale):
        return (rng.standard_normal(VOCAB).astype(np.float32) * np.float32(scale)).astype(np.float32)

    cases = []

    def add(name, p, q, note):
        cases.append((name, np.asarray(p, dtype=np.float32), np.asarray(q, dtype=np.float32), note))

    add("random-scale1", normal(1), normal(1), "independent N(0,1) logits")
    add("random-scale4", normal(4), normal(4), "independent N(0,16) logits")
    same = normal(2)
    add("identical", same, same.copy(), "p == q: kl = js = 0, spearman 1")
    base = normal(2)
    top = sorted(range(VOCAB), key=lambda i: (-base[i], i))[:TOPK]
    re = base.copy()
    for a, b in zip(top, reversed(top)):
        re[a] = base[b]
    add("same-top5-reversed", base, re, "q swaps the values of p's top 5 end for end: overlap 1, top1 false, spearman -1")
    t = normal(1)
    t[7] = t[3] = np.float32(3.5)  # tie for the top: argmax is id 3
    t[20] = t[11] = t[30] = np.float32(2.25)  # three-way tie across the top-5 boundary (ranks 4..6)
    t[5] = np.float32(2.5)
    u = normal(1)
    u[3] = u[25] = np.float32(3.0)
    u[7] = np.float32(2.9)
    u[11] = u[20] = np.float32(2.0)
    add("ties-in-top", t, u, "ties in both top 5s, broken to the lower id; tied ranks averaged")
    add("q-nearly-uniform", normal(2), normal(0.01), "q logits N(0, 1e-4)")
    add("q-uniform", normal(2), np.full(VOCAB, 0.5, dtype=np.float32), "q exactly uniform: topk(q) = 0..4, q ranks constant -> spearman null")
    pk = normal(1)
    qk = (pk + np.float32(0.3) * normal(1)).astype(np.float32)
    add("very-peaked", (pk * np.float32(30)).astype(np.float32), (qk * np.float32(30)).astype(np.float32),
        "correlated logits times 30: probabilities down to ~1e-60")
    a = np.full(VOCAB, -1.0, dtype=np.float32)
    b = np.full(VOCAB, -1.0, dtype=np.float32)
    a[:5] = np.array([5, 4, 3, 2, 1], dtype=np.float32)
    b[10:15] = np.array([1, 2, 3, 4, 5], dtype=np.float32)
    add("disjoint-top5", a, b, "no common top-5 id: overlap 0, |U| = 10 with ties inside each vector's tail")

    out = []
    for name, p, q, note in cases:
        p32 = f32_values(p)
        q32 = f32_values(q)
        m = metrics(p32, q32, TOPK)
        out.append({"name": name, "note": note, "k": TOPK, "p_logits": p32, "q_logits": q32, **m})
    return out


# --------------------------------------------------------------------------------------------------
# 3. batch (padding must not change the encoder output of a row)
# --------------------------------------------------------------------------------------------------


def batch_case():
    name, path = BATCH_MODEL
    model, tok = load(path)
    ids_list = [tok(t)["input_ids"] for t in BATCH_TEXTS]
    lens = [len(i) for i in ids_list]
    assert min(lens) == 3 and max(lens) == 40 and len(set(lens)) == len(lens), lens
    alone = []
    for ids in ids_list:
        with torch.no_grad():
            h = model.roberta(input_ids=torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long)).last_hidden_state
        alone.append(h[0, 1, :BATCH_VALUES].numpy())
    enc = tok(BATCH_TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        hb = model.roberta(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
    padded_diff = max(float(np.abs(hb[i, 1, :BATCH_VALUES].numpy() - alone[i]).max()) for i in range(len(ids_list)))
    assert padded_diff <= 1e-5, padded_diff
    return {
        "model": name,
        "path": path,
        "texts": BATCH_TEXTS,
        "ids": ids_list,
        "lengths": lens,
        "last_hidden_first_values": [f32_values(a) for a in alone],
        "note": "model.roberta(input_ids=[ids], attention_mask=ones).last_hidden_state[0, 1, :%d] for each text run "
        "alone (unpadded); the same texts in one right-padded batch with the attention mask agree within 1e-5" % BATCH_VALUES,
    }, padded_diff


# --------------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(REPO / "Tests" / "Fixtures" / "reference" / "scoring.json"))
    args = ap.parse_args()

    pll = []
    for name, path in PLL_MODELS:
        model, tok = load(path)
        for text in PLL_TEXTS:
            pll.append(pll_case(model, tok, name, path, text))
        # the texts cover what they claim to cover, for this tokenizer
        split = [c for c in pll if c["model"] == name and "supercal" in c["text"]][0]
        assert any(not t.startswith("Ġ") for t in split["tokens"][3:6]), split["tokens"]
        print(f"{name}: " + ", ".join(f"{c['count']} tokens pll {c['pll']:.3f} ppl {c['pseudo_perplexity']:.1f}"
                                      for c in pll if c["model"] == name), file=sys.stderr)

    evals = []
    for name, path in PLL_MODELS:
        model, tok = load(path)
        for text in EVAL_TEXTS:
            evals.append(eval_case(model, tok, name, path, text))
    print(f"eval: {len(evals)} cases, {sum(len(c['positions']) for c in evals)} positions", file=sys.stderr)

    dists = distribution_cases()
    for d in dists:
        print(f"{d['name']:<20} kl {d['kl']:.6g} js {d['js']:.6g} top1 {d['top1_agree']} overlap {d['overlap']} "
              f"spearman {d['spearman']}", file=sys.stderr)

    batch, padded_diff = batch_case()
    print(f"batch: lengths {batch['lengths']}, padded vs alone max |diff| {padded_diff:.3g}", file=sys.stderr)

    doc = {
        "generator": "Scripts/make_scoring_fixtures.py",
        "versions": VERSIONS,
        "load": LOAD,
        "definitions": {
            "pll": "for i in 1..n-2: ids' = ids with ids'[i] = mask id, run alone (batch 1); token_log_probs[i-1] = "
            "log_softmax(float64(logits[i]))[ids[i]]; pll = sum; pseudo_perplexity = exp(-pll / count)",
            "kl": "sum_i p_i (log p_i - log q_i), p = softmax(float64(p_logits)), q likewise, natural log",
            "js": "0.5 KL(p||m) + 0.5 KL(q||m), m = (p + q) / 2",
            "top1_agree": "argmax p == argmax q, ties to the lower id",
            "overlap": "|topk(p) & topk(q)| / k; topk by probability descending, then id ascending",
            "spearman": "U = topk(p) | topk(q); ranks of U's ids by p and by q (1 = largest, ties averaged); Pearson "
            "correlation of the two rank vectors; null if |U| < 2 or a rank vector is constant",
            "top_p/top_q": "topk(p) / topk(q) in order (informational)",
            "eval": "positions = the first token after <s> and every token starting with the byte-level space; mode one: "
            "each masked alone; mode all: all masked at once; log_probs = log_softmax(float64(logits[p]))[ids[p]], ranks "
            "1-based over the vocabulary (ties to the lower id), top5 ids",
            "floats": "logits and hidden values: float32 written as the shortest decimal that parses back to the same "
            "float32; everything else is a float64 result",
        },
        "pll": pll,
        "eval": evals,
        "distributions": dists,
        "batch": [batch],
    }
    out = Path(args.out)
    write_json(out, doc)
    data = out.read_bytes()
    print(f"{out}: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}", file=sys.stderr)
    print(f"  pll {len(pll)} cases ({len(PLL_MODELS)} models x {len(PLL_TEXTS)} texts), distributions {len(dists)}, "
          f"batch {len(batch['texts'])} texts", file=sys.stderr)
    assert len(data) < 200_000, len(data)


if __name__ == "__main__":
    main()
