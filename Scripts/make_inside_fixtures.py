#!/usr/bin/env python3
"""Generate Tests/Fixtures/reference/inside.json: the transformers + numpy reference for "inside the
model" (issue #11): logit lens, head knock-out, head importance, attention norms (Kobayashi et al.
2020), attention rollout (Abnar & Zuidema 2020) and head statistics (Clark et al. 2019).

Run from the repository root with the pinned reference stack (Scripts/requirements-reference.txt):

    /root/msvenv/bin/python Scripts/make_inside_fixtures.py [--out Tests/Fixtures/reference/inside.json]

        the fixture: Tests/Fixtures/models/{tiny,tiny-untied}, three texts each (a few seconds)

    /root/msvenv/bin/python Scripts/make_inside_fixtures.py --model DIR --text TEXT [--text TEXT ...] \\
        --out FILE [--name NAME] [--attentions] [--top-k 5]

        the same dump for any RoBERTa directory (e.g. a random real-shape checkpoint made by
        Scripts/make_checkpoint.py; write FILE outside the repository)

Deterministic (no randomness, one torch thread, one tokenizers thread, offline): running it twice gives
byte-identical output (compare with sha256sum).  Models are loaded in float32 with eager attention.

Definitions (layers and heads counted from 0; n = tokens incl. <s> and </s>; d = head size; L layers,
H heads; h_0 = the embeddings' output, h_l = the output of layer l (transformers' output_hidden_states);
alpha^l_h = the attention probabilities of layer l, head h (output_attentions); natural logs; every
softmax is over the whole vocabulary in float64 from float32 logits; top-k ordered by probability
descending then id ascending; ranks 1-based with ties to the lower id):

* lens: at every mask position p (ids equal to the mask id) and every l in 0..L,
  logits = model.lm_head(h_l)[p] (dense, exact GELU, LayerNorm, decoder weight + decoder bias; in an
  untied model lm_head.bias is unused, as in transformers 5.x), probs = softmax; top-k entries
  {token, token_str = tokenizer.decode([id]), score}; the final layer's top-1 id t, and t's rank and
  probability at every l.  lens_logits: the float32 logits at l = 0 and l = L for the first mask
  (only when the vocabulary has at most 2000 ids).
* knockout: a set of (layer, head); the head's slice [h*d, (h+1)*d) of the attention context (the
  input of roberta.encoder.layer[layer].attention.output.dense) is set to zero by a forward pre-hook
  before that projection.  Recorded: the fill-mask top-k per mask, the logits at the masks (small
  vocabulary, see below) and the lens, all under the knock-out.  Head sets: {(0,1)}, {(1,0),(1,3)},
  every head of layer 0.
* head_importance: for every (layer, head) knocked out alone, delta = log p_knocked(t) - log p_base(t)
  at the first mask, t = the base (no knock-out) top-1 id there.
* attention_norms[l][h][i][j] = || alpha^l_h[i][j] * f_h(x_j) ||_2 with x = h_l (the input of layer l),
  value = x W_V^T + b_V, v_h = value[:, h*d:(h+1)*d], f_h(x_j) = v_h[j] @ W_O[:, h*d:(h+1)*d]^T (W_O =
  attention.output.dense.weight, no output bias).  Computed in float64.
* rollout: A_l = mean over heads of alpha^l; Â_l = 0.5 A_l + 0.5 I, each row divided by its sum;
  R_0 = Â_0, R_l = Â_l @ R_{l-1}; rollout[l] = R_l.  Computed in float64.
* head_stats[l][h] over the n query rows a = alpha^l_h: entropy = mean_i -sum_j a log a (0 log 0 = 0),
  entropy_max = log n, to_bos = mean_i a[i][0], to_eos = mean_i a[i][n-1], to_self = mean_i a[i][i],
  to_prev = mean over i >= 1 of a[i][i-1], to_next = mean over i <= n-2 of a[i][i+1], to_punct = mean_i
  sum_{j in P} a[i][j] (P = punct_positions: j in 1..n-2 whose decode([id]).strip() is non-empty and made
  only of Unicode punctuation, category P*; null when P is empty).  label: among to_bos "<s> sink",
  to_eos "</s> sink", to_prev "→prev", to_next "→next", to_self "self", to_punct "punct" the one with the
  largest value (ties to the earlier in this order); that label if its value >= 0.5, else "broad" if
  entropy >= 0.8 entropy_max, else "".

Size policy (the fixture stays under 300 KB; a float32 value costs ~11 bytes): attention_norms and
rollout are written as float32 (the float64 result rounded to float32, shortest decimal).  Full logits
vectors only when the vocabulary has at most 2000 ids, and in the fixture only in the first case of
each model: lens_logits, and knockout[].logits for the head set {(1,0),(1,3)} (the other sets: null);
with --model in every case and for every set.  attentions: in the fixture only in the first case of each
model (with --model only with --attentions).  attention_norms: null in the fixture's 22-token case (the
other two cases have them; with --model always).  Everything else is in every case.
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
import time
import unicodedata
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

FIXTURE_MODELS = [
    ("tiny", "Tests/Fixtures/models/tiny"),
    ("tiny-untied", "Tests/Fixtures/models/tiny-untied"),
]

# (text, what is stored beyond the always-present keys): the full logits vectors, the attention
# probabilities and the attention norms cost ~12 bytes a value, so they are kept where they fit under 300 KB
FIXTURE_TEXTS = [
    # short, one mask, no punctuation at all (to_punct null)
    ("Paris is the <mask> of France", {"logits": True, "knockout_logits": [1], "attentions": True, "norms": True}),
    # punctuation: , ! ?  (3 punct positions with the tiny vocabulary)
    ("Hello, <mask>! Isn't it?", {"logits": False, "knockout_logits": [], "attentions": False, "norms": True}),
    # 22 tokens with <s> and </s>, 2 masks, the second right before </s>
    ("The children played in the <mask> while their parents talked about the <mask>",
     {"logits": False, "knockout_logits": [], "attentions": False, "norms": False}),
]

TOP_K = 5
SMALL_VOCAB = 2000  # full logits vectors only up to this vocabulary size
MAX_BYTES = 300_000

LOAD = ("AutoModelForMaskedLM.from_pretrained(dir, dtype=torch.float32, attn_implementation='eager').eval(); "
        "AutoTokenizer.from_pretrained(dir); one torch thread; batch 1, unpadded, attention_mask all ones")

LABEL_ORDER = [("to_bos", "<s> sink"), ("to_eos", "</s> sink"), ("to_prev", "\u2192prev"),
               ("to_next", "\u2192next"), ("to_self", "self"), ("to_punct", "punct")]


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


def f32_nested(a):
    """An array of any rank as nested lists of f32_values (float64 input is rounded to float32)."""
    a = np.asarray(a)
    flat = f32_values(a.astype(np.float32))
    if a.ndim == 0:
        return flat[0]
    arr = np.array(flat, dtype=object).reshape(a.shape)
    return arr.tolist()


def log_softmax64(logits):
    """log_softmax over the whole vocabulary in float64 from float32 logits."""
    x = np.asarray(logits, dtype=np.float32).astype(np.float64)
    z = x - x.max()
    return z - math.log(float(np.exp(z).sum()))


def order_desc(logp):
    """ids by probability descending, then id ascending."""
    ids = np.arange(len(logp))
    return np.lexsort((ids, -np.asarray(logp)))


def rank_of(logp, t):
    """1-based rank of id t, ties to the lower id."""
    logp = np.asarray(logp)
    v = logp[t]
    others = np.delete(logp, t)
    note_margin("target_rank_log_prob_gap_min", np.abs(others - v).min())  # how near a tie the rank is
    return int((logp > v).sum() + (logp[:t] == v).sum() + 1)


MARGINS = {}


def note_margin(key, value):
    MARGINS[key] = min(MARGINS.get(key, math.inf), float(value))


def entries(tok, logp, k):
    order = order_desc(logp)[:k + 1]
    p = np.exp(np.asarray(logp)[order])
    note_margin("topk_score_gap_min", (p[:-1] - p[1:]).min())  # consecutive scores down to the (k+1)-th
    return [{"token": int(i), "token_str": tok.decode([int(i)]), "score": float(math.exp(logp[i]))}
            for i in order_desc(logp)[:k]]


def is_punct(s):
    s = s.strip()
    return len(s) > 0 and all(unicodedata.category(c).startswith("P") for c in s)


def head_names(heads):
    """as the CLI names them: LAYER.HEAD counted from 1."""
    return ["%d.%d" % (l + 1, h + 1) for l, h in heads]


class Knockout:
    """Zero heads' slices of the attention context (input of attention.output.dense) with pre-hooks."""

    def __init__(self, model, heads):
        self.model = model
        self.heads = list(heads)
        self.handles = []

    def __enter__(self):
        cfg = self.model.config
        d = cfg.hidden_size // cfg.num_attention_heads
        by_layer = {}
        for l, h in self.heads:
            by_layer.setdefault(l, []).append(h)
        for l, hs in sorted(by_layer.items()):
            def hook(module, args, hs=tuple(hs)):
                x = args[0].clone()
                for h in hs:
                    x[..., h * d:(h + 1) * d] = 0
                return (x,) + tuple(args[1:])
            dense = self.model.roberta.encoder.layer[l].attention.output.dense
            self.handles.append(dense.register_forward_pre_hook(hook))
        return self

    def __exit__(self, *exc):
        for h in self.handles:
            h.remove()
        self.handles = []


def run(model, ids, heads=()):
    with torch.no_grad(), Knockout(model, heads):
        out = model(input_ids=torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                    output_hidden_states=True, output_attentions=True)
    return out


# --------------------------------------------------------------------------------------------------
# numpy side (the independent formulas)
# --------------------------------------------------------------------------------------------------


def np_gelu(x):
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def np_lm_head(model, h):
    """The LM head in float64 numpy from the model's weights (cross-check of model.lm_head)."""
    sd = {k: v.detach().double().numpy() for k, v in model.lm_head.state_dict().items()}
    x = h.astype(np.float64) @ sd["dense.weight"].T + sd["dense.bias"]
    x = np_gelu(x)
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    x = (x - mu) / np.sqrt(var + model.config.layer_norm_eps) * sd["layer_norm.weight"] + sd["layer_norm.bias"]
    dec_w = model.lm_head.decoder.weight.detach().double().numpy()
    dec_b = model.lm_head.decoder.bias.detach().double().numpy()
    return x @ dec_w.T + dec_b


def attention_norms(model, hidden_states, attentions):
    cfg = model.config
    L, H = cfg.num_hidden_layers, cfg.num_attention_heads
    d = cfg.hidden_size // H
    out = []
    fx_all = []
    for l in range(L):
        layer = model.roberta.encoder.layer[l]
        x = hidden_states[l][0].double().numpy()  # [n, hidden]: the input of layer l
        wv = layer.attention.self.value.weight.detach().double().numpy()
        bv = layer.attention.self.value.bias.detach().double().numpy()
        wo = layer.attention.output.dense.weight.detach().double().numpy()
        value = x @ wv.T + bv
        alpha = attentions[l][0].double().numpy()  # [H, n, n]
        per_head = []
        fxs = []
        for h in range(H):
            fx = value[:, h * d:(h + 1) * d] @ wo[:, h * d:(h + 1) * d].T  # [n, hidden]: f_h(x_j)
            fxs.append(fx)
            fnorm = np.sqrt((fx * fx).sum(-1))  # [n]
            per_head.append(np.abs(alpha[h]) * fnorm[None, :])  # ||alpha_ij f(x_j)|| = |alpha_ij| ||f(x_j)||
        out.append(np.stack(per_head))
        fx_all.append(np.stack(fxs))
    return np.stack(out), fx_all  # [L, H, n, n]


def rollout(attentions):
    rs = []
    R = None
    for a in attentions:
        A = a[0].double().numpy().mean(0)
        n = A.shape[0]
        Ah = 0.5 * A + 0.5 * np.eye(n)
        Ah = Ah / Ah.sum(-1, keepdims=True)
        R = Ah if R is None else Ah @ R
        rs.append(R)
    return np.stack(rs)


def head_stats(attentions, punct):
    stats = []
    for a_l in attentions:
        row = []
        for a32 in a_l[0]:
            a = a32.double().numpy()
            n = a.shape[0]
            with np.errstate(divide="ignore", invalid="ignore"):
                plogp = np.where(a > 0, a * np.log(np.where(a > 0, a, 1.0)), 0.0)
            s = {
                "entropy": float((-plogp.sum(-1)).mean()),
                "entropy_max": math.log(n),
                "to_bos": float(a[:, 0].mean()),
                "to_eos": float(a[:, n - 1].mean()),
                "to_prev": float(np.mean([a[i, i - 1] for i in range(1, n)])),
                "to_self": float(np.mean([a[i, i] for i in range(n)])),
                "to_next": float(np.mean([a[i, i + 1] for i in range(n - 1)])),
                "to_punct": float(a[:, punct].sum(-1).mean()) if punct else None,
            }
            best_key, best_label = None, None
            for key, label in LABEL_ORDER:
                v = s[key]
                if v is not None and (best_key is None or v > s[best_key]):
                    best_key, best_label = key, label
            note_margin("label_value_gap_min", abs(s[best_key] - 0.5))
            if s[best_key] < 0.5:
                note_margin("label_entropy_gap_min", abs(s["entropy"] - 0.8 * s["entropy_max"]))
            if s[best_key] >= 0.5:
                s["label"] = best_label
            elif s["entropy"] >= 0.8 * s["entropy_max"]:
                s["label"] = "broad"
            else:
                s["label"] = ""
            row.append(s)
        stats.append(row)
    return stats


# --------------------------------------------------------------------------------------------------
# one case
# --------------------------------------------------------------------------------------------------


def lens_of(model, tok, out, positions, k):
    """lens entries per mask and the float32 logits [L+1][m][V] at the masks."""
    logits = []
    with torch.no_grad():
        for h in out.hidden_states:
            logits.append(model.lm_head(h)[0, positions].numpy())  # the head over the whole sequence, as forward does
    L = len(out.hidden_states) - 1
    lens = []
    for mi, p in enumerate(positions):
        lps = [log_softmax64(logits[l][mi]) for l in range(L + 1)]
        t = int(order_desc(lps[L])[0])
        lens.append({
            "position": p,
            "layers": [entries(tok, lp, k) for lp in lps],
            "target": t,
            "target_str": tok.decode([t]),
            "target_rank": [rank_of(lp, t) for lp in lps],
            "target_prob": [float(math.exp(lp[t])) for lp in lps],
        })
    return lens, logits


def masks_of(tok, out, positions, k):
    logits = out.logits[0, positions].numpy()
    return [{"position": p, "top": entries(tok, log_softmax64(logits[mi]), k)} for mi, p in enumerate(positions)], logits


def check_lens_vs_fill_mask(lens, masks, last_logits, fm_logits):
    """the lens' last layer is fill-mask: logits [m, V] at the masks, and the top-k."""
    assert last_logits.shape == fm_logits.shape, (last_logits.shape, fm_logits.shape)
    diff = float(np.abs(last_logits - fm_logits).max())
    assert diff <= 1e-5, diff
    for le, m in zip(lens, masks):
        assert [e["token"] for e in le["layers"][-1]] == [e["token"] for e in m["top"]], (le, m)
        for a, b in zip(le["layers"][-1], m["top"]):
            assert abs(a["score"] - b["score"]) <= 1e-6
    return diff


def knockout_sets(cfg):
    sets = [[(0, 1)], [(1, 0), (1, 3)], [(0, h) for h in range(cfg.num_attention_heads)]]
    for s in sets:
        for l, h in s:
            if l >= cfg.num_hidden_layers or h >= cfg.num_attention_heads:
                raise SystemExit(f"knock-out head ({l},{h}) does not exist in a model of {cfg.num_hidden_layers} "
                                 f"layers x {cfg.num_attention_heads} heads")
    return sets


def value_zeroed_logits(model, ids, heads, positions):
    """Independent check of the hook: zero the heads' rows of W_V and b_V (context slice = alpha @ 0 = 0)."""
    d = model.config.hidden_size // model.config.num_attention_heads
    saved = []
    with torch.no_grad():
        for l, h in heads:
            v = model.roberta.encoder.layer[l].attention.self.value
            saved.append((v, v.weight.clone(), v.bias.clone()))
            v.weight[h * d:(h + 1) * d] = 0
            v.bias[h * d:(h + 1) * d] = 0
        logits = model(input_ids=torch.tensor([ids])).logits[0, positions].numpy()
        for v, w, b in reversed(saved):  # reversed: a layer listed twice was saved half-zeroed the second time
            v.weight.copy_(w)
            v.bias.copy_(b)
    return logits


def make_case(model, tok, name, path, text, k, full_logits, knockout_logits, with_attentions, with_norms, checks):
    cfg = model.config
    L, H = cfg.num_hidden_layers, cfg.num_attention_heads
    d = cfg.hidden_size // H
    V = cfg.vocab_size
    ids = tok(text, add_special_tokens=True)["input_ids"]
    n = len(ids)
    positions = [i for i, t in enumerate(ids) if t == tok.mask_token_id]
    if not positions:
        raise SystemExit(f"no {tok.mask_token} in {text!r}")
    small = V <= SMALL_VOCAB and full_logits

    base = run(model, ids)
    assert len(base.hidden_states) == L + 1 and len(base.attentions) == L
    masks, fm_logits = masks_of(tok, base, positions, k)
    lens, lens_logits = lens_of(model, tok, base, positions, k)
    checks["lens_vs_fill_mask"] = max(checks.get("lens_vs_fill_mask", 0.0),
                                      check_lens_vs_fill_mask(lens, masks, lens_logits[-1], fm_logits))
    # the LM head in numpy on h_0 and h_L at the first mask
    for l in (0, L):
        ref = np_lm_head(model, base.hidden_states[l][0, positions[0]].numpy())
        diff = float(np.abs(ref - lens_logits[l][0]).max())
        checks["lm_head_numpy"] = max(checks.get("lm_head_numpy", 0.0), diff)
        assert diff <= 1e-4 * max(1.0, float(np.abs(ref).max())), diff

    # knock-out: the empty set is the base exactly; each set against zeroed value rows
    empty = run(model, ids, [])
    assert torch.equal(empty.logits, base.logits)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    knockouts = []
    for si, heads in enumerate(knockout_sets(cfg)):
        ko = run(model, ids, heads)
        ko_masks, ko_logits = masks_of(tok, ko, positions, k)
        ko_lens, ko_lens_logits = lens_of(model, tok, ko, positions, k)
        check_lens_vs_fill_mask(ko_lens, ko_masks, ko_lens_logits[-1], ko_logits)
        vz = value_zeroed_logits(model, ids, heads, positions)
        diff = float(np.abs(vz - ko_logits).max())
        checks["knockout_hook_vs_zeroed_value"] = max(checks.get("knockout_hook_vs_zeroed_value", 0.0), diff)
        assert diff <= 1e-5 * max(1.0, float(np.abs(vz).max())), diff
        knockouts.append({
            "heads": [[l, h] for l, h in heads],
            "names": head_names(heads),
            "masks": ko_masks,
            "logits": [f32_values(r) for r in ko_logits] if V <= SMALL_VOCAB and si in knockout_logits else None,
            "lens": ko_lens,
        })

    after = model.state_dict()
    assert all(torch.equal(state[k], after[k]) for k in state), "the weights were not restored"
    del state, after

    # head importance at the first mask
    p0 = positions[0]
    base_lp = log_softmax64(fm_logits[0])
    t = int(order_desc(base_lp)[0])
    delta = []
    for l in range(L):
        row = []
        for h in range(H):
            with torch.no_grad(), Knockout(model, [(l, h)]):
                lg = model(input_ids=torch.tensor([ids])).logits[0, p0].numpy()
            row.append(float(log_softmax64(lg)[t] - base_lp[t]))
        delta.append(row)

    # norms, with the decomposition checked: sum_h sum_j alpha_ij f_h(x_j) + b_O = attention.output.dense(context)
    norms, fx_all = attention_norms(model, base.hidden_states, base.attentions)
    captured = {}
    handles = []
    for l in range(L):
        dense = model.roberta.encoder.layer[l].attention.output.dense
        handles.append(dense.register_forward_hook(lambda m, a, o, l=l: captured.__setitem__(l, o[0].double().numpy())))
    with torch.no_grad():
        model(input_ids=torch.tensor([ids]))
    for hd in handles:
        hd.remove()
    for l in range(L):
        alpha = base.attentions[l][0].double().numpy()
        bo = model.roberta.encoder.layer[l].attention.output.dense.bias.detach().double().numpy()
        recon = sum(alpha[h] @ fx_all[l][h] for h in range(H)) + bo
        diff = float(np.abs(recon - captured[l]).max())
        checks["norms_decomposition"] = max(checks.get("norms_decomposition", 0.0), diff)
        assert diff <= 1e-4, diff

    roll = rollout(base.attentions)
    assert np.allclose(roll.sum(-1), 1.0, atol=1e-12)

    token_strs = [tok.decode([i]) for i in ids]
    punct = [j for j in range(1, n - 1) if ids[j] not in (tok.bos_token_id, tok.eos_token_id) and is_punct(token_strs[j])]
    stats = head_stats(base.attentions, punct)

    case = {
        "model": name,
        "path": path,
        "text": text,
        "ids": ids,
        "tokens": tok.convert_ids_to_tokens(ids),
        "token_strs": token_strs,
        "n": n,
        "layers": L,
        "heads": H,
        "head_size": d,
        "hidden_size": cfg.hidden_size,
        "vocab_size": V,
        "tied": bool(getattr(cfg, "tie_word_embeddings", True)),
        "mask_positions": positions,
        "masks": masks,
        "lens": lens,
        "lens_logits": {"position": p0, "layers": [0, L],
                        "logits": [f32_values(lens_logits[0][0]), f32_values(lens_logits[L][0])]} if small else None,
        "knockout": knockouts,
        "head_importance": {"position": p0, "target": t, "target_str": tok.decode([t]),
                            "log_prob": float(base_lp[t]), "delta": delta},
        "attention_norms": f32_nested(norms) if with_norms else None,
        "rollout": f32_nested(roll),
        "punct_positions": punct,
        "head_stats": stats,
    }
    if with_attentions:
        case["attentions"] = [f32_nested(a[0].numpy()) for a in base.attentions]
    return case


def load(path):
    model = AutoModelForMaskedLM.from_pretrained(str(path), dtype=torch.float32, attn_implementation="eager")
    model.eval()
    tok = AutoTokenizer.from_pretrained(str(path))
    return model, tok


def definitions():
    return {
        "lens": "per mask position p, for l in 0..L (0 = embeddings' output): probs = softmax(float64(lm_head(h_l)[p])); "
        "layers[l] = top-k {token, token_str = decode([id]), score}; target = top-1 id at l = L; target_rank[l] "
        "(1-based, ties to the lower id) and target_prob[l]; layers[L] == masks[].top",
        "lens_logits": "float32 lm_head(h_l)[p] at the first mask for l = 0 and l = L (null when vocab > 2000 or not stored)",
        "masks": "fill-mask: softmax(float64(model(ids).logits[p])) top-k per mask",
        "knockout": "heads [[layer, head]] counted from 0 (names: LAYER.HEAD counted from 1, as the CLI); the heads' slices "
        "[h*d,(h+1)*d) of the input of roberta.encoder.layer[layer].attention.output.dense zeroed by a forward pre-hook; "
        "masks/lens as above under the knock-out; logits: float32 logits per mask (null when vocab > 2000 or not stored: "
        "the fixture stores them only in the first case of each model, for the set [[1,0],[1,3]])",
        "head_importance": "delta[l][h] = log p_knocked(target) - log p_base(target) at position (the first mask), "
        "head (l, h) knocked out alone; target = base top-1 id; log_prob = log p_base(target)",
        "attention_norms": "[L][H][n][n]: |alpha^l_h[i][j]| * || v_h[j] @ W_O[:, h*d:(h+1)*d]^T ||_2, value = h_l W_V^T + b_V, "
        "no output bias; float64, written as float32; null where not stored (the fixture's 22-token case)",
        "rollout": "[L][n][n]: R_0 = Â_0, R_l = Â_l @ R_{l-1}, Â = rownorm(0.5 mean_h alpha^l + 0.5 I); float64, written as float32",
        "head_stats": "[L][H] over query rows i: entropy = mean_i -sum_j a log a (0 log 0 = 0), entropy_max = log n, to_bos = "
        "mean_i a[i][0], to_eos = mean_i a[i][n-1], to_self = mean_i a[i][i], to_prev = mean_{i>=1} a[i][i-1], to_next = "
        "mean_{i<=n-2} a[i][i+1], to_punct = mean_i sum_{j in punct_positions} a[i][j] or null if none; label: the largest of "
        "to_bos '<s> sink', to_eos '</s> sink', to_prev '→prev', to_next '→next', to_self 'self', to_punct 'punct' (ties to "
        "the earlier) if >= 0.5, else 'broad' if entropy >= 0.8 entropy_max, else ''; float64 on the float32 attention",
        "punct_positions": "j in 1..n-2 (not <s>/</s>) whose decode([id]).strip() (Python str.strip) is non-empty and all "
        "Unicode category P*",
        "attentions": "[L][H][n][n] float32 attention probabilities (eager); the key is present only in some cases (the "
        "fixture: the first case of each model)",
        "checks": "largest |difference| of the generator's self-checks: lens at L vs model logits, lm_head vs numpy (float64), "
        "hook knock-out vs zeroed W_V/b_V rows, sum_h alpha_h f_h + b_O vs attention.output.dense output",
        "margins": "smallest gaps seen: consecutive top-(k+1) scores, |log p(target) - log p(other)| at the ranks, "
        "|label value - 0.5|, |entropy - 0.8 entropy_max| for heads without a pattern label",
        "floats": "logits, attentions, attention_norms, rollout: float32 written as the shortest decimal that parses back "
        "to the same float32; scores, probabilities, deltas, stats: float64",
    }


def summarize(case):
    L = case["layers"]
    lines = [f"{case['model']}: n {case['n']}, masks {case['mask_positions']}, text {case['text']!r}"]
    for le in case["lens"]:
        lines.append(f"  lens @{le['position']}: target {le['target']} {le['target_str']!r} rank "
                     f"{le['target_rank']} prob {['%.3g' % p for p in le['target_prob']]}")
    for ko in case["knockout"]:
        tops = ", ".join(f"{m['top'][0]['token']} {m['top'][0]['score']:.4f}" for m in ko["masks"])
        lines.append(f"  knockout {','.join(ko['names'])}: top-1 {tops}")
    hi = case["head_importance"]
    flat = [v for row in hi["delta"] for v in row]
    lines.append(f"  importance: target {hi['target']} log p {hi['log_prob']:.4f}, delta min {min(flat):.4f} max {max(flat):.4f}")
    labels = [[s["label"] or "-" for s in row] for row in case["head_stats"]]
    lines.append(f"  labels: {labels}; punct {case['punct_positions']}")
    ent = [s["entropy"] / s["entropy_max"] for row in case["head_stats"] for s in row]
    lines.append(f"  entropy/max {min(ent):.2f}..{max(ent):.2f}; rollout[L-1] row 0 max {max(case['rollout'][L - 1][0]):.3f}")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=None, help="default (fixture mode): Tests/Fixtures/reference/inside.json")
    ap.add_argument("--model", default=None, help="any RoBERTa directory instead of the fixture models")
    ap.add_argument("--name", default=None, help="the model name in the JSON (default: the directory's name)")
    ap.add_argument("--text", action="append", default=None, help="a text with <mask> (repeatable; with --model)")
    ap.add_argument("--attentions", action="store_true", help="with --model: also store the attention probabilities")
    ap.add_argument("--top-k", type=int, default=TOP_K)
    args = ap.parse_args()

    t0 = time.monotonic()
    checks = {}
    cases = []
    if args.model is None:
        if args.text:
            ap.error("--text needs --model")
        out = Path(args.out) if args.out else REPO / "Tests" / "Fixtures" / "reference" / "inside.json"
        for name, path in FIXTURE_MODELS:
            model, tok = load(REPO / path)
            for text, store in FIXTURE_TEXTS:
                cases.append(make_case(model, tok, name, path, text, args.top_k, full_logits=store["logits"],
                                       knockout_logits=store["knockout_logits"], with_attentions=store["attentions"], with_norms=store["norms"], checks=checks))
        # the texts cover what they claim to cover
        for c in cases:
            if c["text"] == FIXTURE_TEXTS[0][0]:
                assert not c["punct_positions"], c["punct_positions"]
            if c["text"] == FIXTURE_TEXTS[1][0]:
                assert len(c["punct_positions"]) >= 3, c["punct_positions"]
            if c["text"] == FIXTURE_TEXTS[2][0]:
                assert c["n"] - 2 >= 20 and len(c["mask_positions"]) == 2, (c["n"], c["mask_positions"])
        mode = "fixture"
    else:
        if not args.text or not args.out:
            ap.error("--model needs --text and --out")
        out = Path(args.out)
        mdir = Path(args.model)
        model, tok = load(mdir)
        name = args.name or mdir.resolve().name
        try:
            path = str(mdir.resolve().relative_to(REPO))
        except ValueError:
            path = str(mdir.resolve())
        t_load = time.monotonic() - t0
        print(f"loaded {path} in {t_load:.1f} s", file=sys.stderr)
        for text in args.text:
            cases.append(make_case(model, tok, name, path, text, args.top_k, full_logits=True,
                                   knockout_logits=[0, 1, 2], with_attentions=args.attentions, with_norms=True, checks=checks))
        mode = "model"

    doc = {
        "generator": "Scripts/make_inside_fixtures.py",
        "mode": mode,
        "versions": VERSIONS,
        "load": LOAD,
        "top_k": args.top_k,
        "definitions": definitions(),
        "checks": checks,
        "margins": dict(sorted(MARGINS.items())),
        "cases": cases,
    }
    write_json(out, doc)
    data = out.read_bytes()
    for c in cases:
        print(summarize(c), file=sys.stderr)
    print("margins (smallest): " + ", ".join(f"{k} {v:.3g}" for k, v in sorted(MARGINS.items())), file=sys.stderr)
    print("checks (largest |diff|): " + ", ".join(f"{k} {v:.3g}" for k, v in checks.items()), file=sys.stderr)
    for c in cases:
        size = len(json.dumps(c, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode())
        parts = {k: len(json.dumps(c[k], ensure_ascii=False, separators=(",", ":")).encode())
                 for k in ("lens", "lens_logits", "knockout", "attention_norms", "rollout", "head_stats", "attentions") if k in c}
        print(f"  {c['model']} n={c['n']}: {size} bytes (" + ", ".join(f"{k} {v}" for k, v in parts.items()) + ")",
              file=sys.stderr)
    print(f"{out}: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}, {time.monotonic() - t0:.1f} s",
          file=sys.stderr)
    if mode == "fixture":
        assert len(data) < MAX_BYTES, len(data)


if __name__ == "__main__":
    main()
