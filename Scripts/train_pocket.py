#!/usr/bin/env python3
"""Train MaskScope's pocket models from scratch: a small RoBERTa teacher and its distilled student.

    /root/msvenv/bin/python Scripts/train_pocket.py all [--work /root/pocket-work]

Stages (each resumable; `all` runs them in order and skips what is already done):

    corpus     English sentences from Debian packages (WordNet 3.0 glosses and examples, the Jargon
               File, The Devil's Dictionary, the Python 3.11 documentation), a held-out split by
               synset / entry / document that training never sees
    tokenizer  byte-level BPE (tokenizers), about 8k entries, RoBERTa's special tokens and post-processor
    data       packed blocks of token ids for training (fixed seed)
    teacher    RobertaForMaskedLM, masked-LM training (15 %, 80/10/10, dynamic masking), LM head only at
               the masked positions, checkpoints every --ckpt-every steps
    student    half the layers, initialised from teacher layers 0, 2, 5, trained with DistilBERT's loss
               (KL on temperature-softened teacher outputs + masked-LM + cosine on hidden states)
    export     both models as BF16 safetensors into models/pocket-teacher and models/pocket-student
    evaluate   held-out masked-token top-1/top-5 and pseudo-perplexity, for both models and a
               unigram-frequency baseline; writes the model cards
    sample     models/heldout-sample.txt: 400 held-out sentences for eval examples
    fixtures   Tests/Fixtures/reference/pocket.json: transformers' fill-mask pipeline on the exported
               directories, for the Swift tests

Everything is deterministic from the seeds below on a fixed thread count (--threads, default 2).
Needs: Scripts/requirements-reference.txt, and the Debian packages wordnet-base, dict-jargon,
dict-devil, python3.11-doc (`apt-get install` them; the script says so if one is missing).
"""

import os

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import argparse
import base64
import gzip
import hashlib
import html.parser
import json
import math
import random
import re
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parent.parent
SEED = 20261201
HELDOUT_PERCENT = 2          # by synset / dictionary entry / document
VOCAB_SIZE = 8192
MAX_POSITIONS = 130          # 128 tokens + RoBERTa's padding offset of 2
MAX_TOKENS = MAX_POSITIONS - 2
SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]

TEACHER = dict(num_hidden_layers=6, hidden_size=256, num_attention_heads=4, intermediate_size=1024)
STUDENT_LAYERS = [0, 2, 5]   # every other teacher layer, ending on the last, as DistilRoBERTa's [0,2,4,7,9,11]

SOURCES = {
    "wordnet": ("wordnet-base", "/usr/share/wordnet", "WordNet 3.0 licence (Princeton; use, copy, modify and distribute for any purpose, with the notice)"),
    "jargon": ("dict-jargon", "/usr/share/dictd/jargon.dict.dz", "public domain"),
    "devil": ("dict-devil", "/usr/share/dictd/devil.dict.dz", "public domain (1911, copyright expired)"),
    "pydocs": ("python3.11-doc", "/usr/share/doc/python3.11/html", "PSF License Version 2 (derivative works allowed, with the notice)"),
}

CLOZE = [
    "Paris is the <mask> of France.",
    "The dog <mask> at the mailman.",
    "She drank a cup of <mask> before work.",
    "He opened the <mask> and walked into the room.",
    "A week has seven <mask>.",
    "The sun rises in the <mask>.",
    "Water freezes at zero <mask> Celsius.",
    "The children played in the <mask> after school.",
    "I would like to <mask> a book about history.",
    "The capital of Italy is <mask>.",
    "A doctor works in a <mask>.",
    "The cat sat on the <mask>.",
]


def log(*a):
    print(*a, flush=True)


def held_out(key: str) -> bool:
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % 100 < HELDOUT_PERCENT


# ------------------------------------------------------------------------------------------------
# corpus

def clean(s: str) -> str:
    s = s.replace("``", '"').replace("''", '"').replace("`", "'")
    s = re.sub(r"\s+", " ", s).strip()
    return s


def sentence_case(s: str) -> str:
    s = s.strip()
    if not s:
        return s
    s = s[0].upper() + s[1:]
    if s[-1] not in ".!?\"'":
        s += "."
    return s


DETERMINERS = ("a ", "an ", "the ", "any ", "one ", "some ", "someone", "something", "anything",
               "anyone", "every ", "each ", "his ", "her ", "its ", "their ", "your ", "my ", "our ",
               "two ", "three ", "four ", "five ", "ten ", "several ", "many ", "much ", "no ", "that ",
               "what ", "whatever ", "those ", "these ", "this ")


def article(word: str, definition: str) -> str:
    d = definition.lower()
    if d.startswith(DETERMINERS) or re.match(r"^[0-9]", d):
        return ""
    return "an " if d[:1] in "aeiou" else "a "


def split_gloss(gloss: str):
    """'def1; def2; "example one"; "example two"' -> (definitions, examples)."""
    examples = [clean(e) for e in re.findall(r'"([^"]+)"', gloss)]
    rest = re.sub(r'"[^"]*"', "", gloss)
    defs = [clean(d) for d in rest.split(";")]
    defs = [d for d in defs if len(d) > 2]
    return defs, examples


def wordnet_docs(root: Path):
    """One document per synset: a defining sentence built from the gloss, then its example sentences."""
    for pos, name in (("n", "noun"), ("v", "verb"), ("a", "adj"), ("r", "adv")):
        for line in open(root / f"data.{name}", encoding="latin-1"):
            if line.startswith("  "):
                continue
            head, _, gloss = line.partition(" | ")
            fields = head.split()
            offset, count = fields[0], int(fields[3], 16)
            words = [fields[4 + 2 * i].replace("_", " ") for i in range(count)]
            words = [re.sub(r"\((a|p|ip)\)$", "", w) for w in words]
            defs, examples = split_gloss(gloss.strip())
            sents = []
            if defs:
                w = words[0]
                d = defs[0]
                d = re.sub(r"^\([^)]*\)\s*", "", d)  # "(Greek mythology) a great war" -> "a great war"
                if pos == "n":
                    alias = f", also called {words[1]}," if len(words) > 1 else ""
                    # proper nouns as they are ("Paris is ..."), common nouns with an article ("A dog is ...")
                    subject = w if w[:1].isupper() else article("", w).capitalize() + w
                    sents.append(f"{subject}{alias} is {article(w, d)}{d}.")
                elif pos == "v":
                    sents.append(f"To {w} is to {d}.")
                else:
                    sents.append(f"{w[:1].upper() + w[1:]} means {d}.")
                for extra in defs[1:]:
                    if len(extra.split()) >= 4:
                        sents.append(sentence_case(extra))
            sents += [sentence_case(e) for e in examples if len(e.split()) >= 3]
            yield f"wordnet:{pos}{offset}", sents


def dictd_entries(path: Path):
    text = gzip.open(path, "rb").read().decode("utf-8", errors="replace")
    index = path.with_name(path.name.replace(".dict.dz", ".index"))
    b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

    def num(s):
        n = 0
        for ch in s:
            n = n * 64 + b64.index(ch)
        return n

    raw = gzip.open(path, "rb").read()
    for line in open(index, encoding="utf-8", errors="replace"):
        parts = line.rstrip("\n").split("\t")
        if len(parts) < 3 or parts[0].startswith("00-database") or parts[0].startswith("00database"):
            continue
        start, length = num(parts[1]), num(parts[2])
        body = raw[start:start + length].decode("utf-8", errors="replace")
        yield parts[0], body


SENT_SPLIT = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[A-Z\"(])")


def prose_sentences(paragraph: str):
    p = clean(paragraph)
    for s in SENT_SPLIT.split(p):
        s = s.strip()
        words = s.split()
        if len(words) < 4 or len(words) > 80:
            continue
        letters = sum(ch.isalpha() or ch == " " for ch in s)
        if letters < 0.85 * len(s):
            continue
        if not s[0].isupper() or s[-1] not in ".!?\"'":
            continue
        yield s


def dictd_docs(path: Path, source: str):
    for head, body in dictd_entries(path):
        lines = body.split("\n")[1:]  # first line repeats the headword
        paras, cur = [], []
        for ln in lines:
            if ln.strip():
                cur.append(ln.strip())
            elif cur:
                paras.append(" ".join(cur))
                cur = []
        if cur:
            paras.append(" ".join(cur))
        sents = []
        for p in paras:
            p = re.sub(r"[{}]", "", p)
            p = p.replace("_", "")
            sents += list(prose_sentences(p))
        if sents:
            yield f"{source}:{head}", sents


class ParagraphParser(html.parser.HTMLParser):
    """Text of <p>, <li>, <dd> outside <pre>, and outside the navigation."""

    def __init__(self):
        super().__init__()
        self.paras, self.buf, self.depth, self.skip = [], [], 0, 0

    def handle_starttag(self, tag, attrs):
        cls = dict(attrs).get("class") or ""
        if tag in ("pre", "script", "style") or "sphinxsidebar" in cls or "related" in cls or "footer" in cls:
            self.skip += 1 if tag in ("pre", "script", "style") else 0
        if tag == "p":
            self.depth += 1
            self.buf = []

    def handle_endtag(self, tag):
        if tag in ("pre", "script", "style") and self.skip:
            self.skip -= 1
        if tag == "p" and self.depth:
            self.depth -= 1
            self.paras.append("".join(self.buf))
            self.buf = []

    def handle_data(self, data):
        if self.depth and not self.skip:
            self.buf.append(data)


def pydoc_docs(root: Path):
    for path in sorted(root.rglob("*.html")):
        rel = str(path.relative_to(root))
        if rel.startswith(("_", "genindex", "py-modindex", "search")) or "/_" in rel:
            continue
        parser = ParagraphParser()
        parser.feed(path.read_text(encoding="utf-8", errors="replace"))
        sents = []
        for p in parser.paras:
            sents += list(prose_sentences(p.replace("\u00b6", "")))
        if sents:
            yield f"pydocs:{rel}", sents


def stage_corpus(work: Path):
    out = work / "corpus"
    if (out / "done").exists():
        return
    out.mkdir(parents=True, exist_ok=True)
    for name, (pkg, path, _) in SOURCES.items():
        if not Path(path).exists():
            sys.exit(f"missing {path}: apt-get install {pkg}")
    gens = {
        "wordnet": wordnet_docs(Path(SOURCES["wordnet"][1])),
        "jargon": dictd_docs(Path(SOURCES["jargon"][1]), "jargon"),
        "devil": dictd_docs(Path(SOURCES["devil"][1]), "devil"),
        "pydocs": pydoc_docs(Path(SOURCES["pydocs"][1])),
    }
    stats = {}
    with open(out / "train.jsonl", "w") as tr, open(out / "heldout.jsonl", "w") as ho:
        for name, gen in gens.items():
            s = stats.setdefault(name, {"docs": 0, "sentences": 0, "words": 0, "heldout_docs": 0, "heldout_sentences": 0})
            for key, sents in gen:
                sents = [x for x in sents if x]
                if not sents:
                    continue
                h = held_out(key)
                (ho if h else tr).write(json.dumps({"doc": key, "sents": sents}, ensure_ascii=False) + "\n")
                s["docs"] += 1
                s["sentences"] += len(sents)
                s["words"] += sum(len(x.split()) for x in sents)
                if h:
                    s["heldout_docs"] += 1
                    s["heldout_sentences"] += len(sents)
    (out / "stats.json").write_text(json.dumps(stats, indent=1))
    for k, v in stats.items():
        log(f"corpus {k:8s} {v}")
    (out / "done").write_text("ok")


def read_docs(path: Path):
    for line in open(path, encoding="utf-8"):
        yield json.loads(line)


# ------------------------------------------------------------------------------------------------
# tokenizer

def stage_tokenizer(work: Path):
    from tokenizers import ByteLevelBPETokenizer
    from tokenizers.processors import RobertaProcessing
    from transformers import AddedToken, RobertaTokenizerFast

    out = work / "tokenizer"
    if (out / "tokenizer.json").exists():
        return
    out.mkdir(parents=True, exist_ok=True)

    def texts():
        for d in read_docs(work / "corpus" / "train.jsonl"):
            yield " ".join(d["sents"])

    bpe = ByteLevelBPETokenizer(add_prefix_space=False, trim_offsets=True)
    bpe.train_from_iterator(texts(), vocab_size=VOCAB_SIZE, min_frequency=2, special_tokens=SPECIALS, show_progress=False)
    bpe._tokenizer.post_processor = RobertaProcessing(("</s>", 2), ("<s>", 0), trim_offsets=True, add_prefix_space=False)
    raw = out / "raw"
    raw.mkdir(exist_ok=True)
    bpe.save_model(str(raw))
    tok = RobertaTokenizerFast(
        vocab=str(raw / "vocab.json"), merges=str(raw / "merges.txt"),
        mask_token=AddedToken("<mask>", lstrip=True, rstrip=False, normalized=False, special=True),
        add_prefix_space=False, trim_offsets=True, model_max_length=MAX_TOKENS,
    )
    tok.save_pretrained(str(out))
    shutil.copy(raw / "vocab.json", out / "vocab.json")
    shutil.copy(raw / "merges.txt", out / "merges.txt")
    log(f"tokenizer: {len(tok)} entries; 'Paris is the <mask> of France.' -> {tok('Paris is the <mask> of France.')['input_ids']}")


def load_tokenizer(work: Path):
    from transformers import AutoTokenizer
    return AutoTokenizer.from_pretrained(str(work / "tokenizer"))


# ------------------------------------------------------------------------------------------------
# data: packed blocks

def stage_data(work: Path):
    path = work / "data.pt"
    if path.exists():
        return
    tok = load_tokenizer(work)
    rng = random.Random(SEED)
    docs = list(read_docs(work / "corpus" / "train.jsonl"))
    rng.shuffle(docs)
    blocks, cur, limit = [], [], None
    total = 0

    def new_limit():
        # a third of the blocks short (one to a few sentences), the rest filled to 128 tokens, so the
        # model sees </s> both right after a short sentence and at the end of a long block
        return rng.randint(12, 48) if rng.random() < 0.33 else MAX_TOKENS - 2

    limit = new_limit()
    for d in docs:
        enc = tok(d["sents"], add_special_tokens=False)["input_ids"]
        for ids in enc:
            ids = [t for t in ids][: MAX_TOKENS - 2]
            total += len(ids)
            if cur and len(cur) + len(ids) > limit:
                blocks.append([0] + cur + [2])
                cur, limit = [], new_limit()
            cur += ids
    if cur:
        blocks.append([0] + cur[: MAX_TOKENS - 2] + [2])
    lengths = [len(b) for b in blocks]
    log(f"data: {len(blocks)} blocks, {total} tokens, mean length {np.mean(lengths):.1f}")
    torch.save({"blocks": blocks, "tokens": total}, path)


def batches_for_epoch(blocks, epoch: int, budget: int):
    """Blocks of similar length batched together (little padding), the batch order shuffled."""
    rng = random.Random(SEED * 1000 + epoch)
    order = list(range(len(blocks)))
    rng.shuffle(order)
    # sort within chunks of 2048 by length, then cut into batches by token budget
    batches = []
    for c in range(0, len(order), 2048):
        chunk = sorted(order[c:c + 2048], key=lambda i: len(blocks[i]))
        cur, width = [], 0
        for i in chunk:
            w = max(width, len(blocks[i]))
            if cur and w * (len(cur) + 1) > budget:
                batches.append(cur)
                cur, w = [], len(blocks[i])
            cur.append(i)
            width = w
        if cur:
            batches.append(cur)
    rng.shuffle(batches)
    return batches


def collate(blocks, idx):
    width = max(len(blocks[i]) for i in idx)
    ids = torch.full((len(idx), width), 1, dtype=torch.long)
    for r, i in enumerate(idx):
        ids[r, : len(blocks[i])] = torch.tensor(blocks[i])
    return ids, (ids != 1).long()


def mask_tokens(ids, gen, vocab_size, rate=0.15):
    """BERT's dynamic masking: 15 % of the non-special tokens; of those 80 % <mask>, 10 % random, 10 % kept."""
    special = ids <= 4
    probs = torch.full(ids.shape, rate)
    probs[special] = 0
    chosen = torch.bernoulli(probs, generator=gen).bool()
    labels = ids[chosen]
    inputs = ids.clone()
    r = torch.rand(ids.shape, generator=gen)
    inputs[chosen & (r < 0.8)] = 4
    rand_ids = torch.randint(5, vocab_size, ids.shape, generator=gen)
    swap = chosen & (r >= 0.8) & (r < 0.9)
    inputs[swap] = rand_ids[swap]
    return inputs, chosen, labels


# ------------------------------------------------------------------------------------------------
# models

def teacher_config(tok):
    from transformers import RobertaConfig
    return RobertaConfig(
        vocab_size=len(tok), max_position_embeddings=MAX_POSITIONS, type_vocab_size=1,
        hidden_act="gelu", layer_norm_eps=1e-5, pad_token_id=1, bos_token_id=0, eos_token_id=2,
        hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, initializer_range=0.02,
        tie_word_embeddings=True, **TEACHER,
    )


def lr_at(step, total, peak, warmup):
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * max(0.0, (total - step) / max(1, total - warmup))


def save_ckpt(path: Path, model, opt, step, extra=None):
    tmp = path.with_suffix(".tmp")
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "extra": extra or {}}, tmp)
    os.replace(tmp, path)


def epoch_iter(blocks, budget, start_step):
    """Yields (step, batch indices) forever, deterministic in the step."""
    step, epoch = 0, 0
    while True:
        for b in batches_for_epoch(blocks, epoch, budget):
            if step >= start_step:
                yield step, b
            step += 1
        epoch += 1


def train_loop(name, work, model, steps, peak_lr, warmup, budget, loss_fn, log_every=50, ckpt_every=250):
    data = torch.load(work / "data.pt")
    blocks = data["blocks"]
    ckpt = work / f"{name}.ckpt"
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "LayerNorm" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "LayerNorm" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=peak_lr, betas=(0.9, 0.98), eps=1e-6)
    start, before = 0, 0.0  # wall-clock seconds spent before a resume, so the model card counts them too
    logf = open(work / f"{name}.log", "a")
    if ckpt.exists():
        state = torch.load(ckpt)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        start = state["step"]
        before = state["extra"].get("elapsed", 0.0)
        log(f"{name}: resuming at step {start} ({before:.0f} s of training before)")
    model.train()
    t0, seen, run_loss, run_n = time.time(), 0, 0.0, 0
    for step, idx in epoch_iter(blocks, budget, start):
        if step >= steps:
            break
        for g in opt.param_groups:
            g["lr"] = lr_at(step, steps, peak_lr, warmup)
        gen = torch.Generator().manual_seed(SEED + step)
        ids, attn = collate(blocks, idx)
        loss, parts = loss_fn(model, ids, attn, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        seen += int(attn.sum())
        run_loss += loss.item()
        run_n += 1
        if (step + 1) % log_every == 0:
            dt = time.time() - t0
            line = f"{name} step {step + 1}/{steps} loss {run_loss / run_n:.4f} {parts} lr {opt.param_groups[0]['lr']:.2e} tok/s {seen / dt:.0f} elapsed {dt:.0f}s"
            log(line)
            logf.write(json.dumps({"step": step + 1, "loss": round(run_loss / run_n, 4), "parts": parts, "tok_per_s": round(seen / dt)}) + "\n")
            logf.flush()
            run_loss, run_n = 0.0, 0
        if (step + 1) % ckpt_every == 0 or step + 1 == steps:
            save_ckpt(ckpt, model, opt, step + 1, {"elapsed": before + time.time() - t0})
    return before + time.time() - t0


def teacher_loss(vocab):
    def fn(model, ids, attn, gen):
        inputs, chosen, labels = mask_tokens(ids, gen, vocab)
        hidden = model.roberta(input_ids=inputs, attention_mask=attn)[0]
        logits = model.lm_head(hidden[chosen])
        loss = F.cross_entropy(logits, labels)
        return loss, f"mlm {loss.item():.3f}"
    return fn


def build_teacher(work, tok):
    from transformers import RobertaForMaskedLM
    torch.manual_seed(SEED)
    return RobertaForMaskedLM(teacher_config(tok))


def stage_teacher(work: Path, args):
    if (work / "teacher.done").exists():
        return
    tok = load_tokenizer(work)
    model = build_teacher(work, tok)
    log(f"teacher: {sum(p.numel() for p in model.parameters())} parameters")
    elapsed = train_loop("teacher", work, model, args.teacher_steps, args.teacher_lr, args.warmup, args.budget, teacher_loss(len(tok)))
    (work / "teacher.done").write_text(f"{elapsed:.0f}")


def load_trained(work, name, tok, layers=None):
    from transformers import RobertaForMaskedLM
    cfg = teacher_config(tok)
    if layers is not None:
        cfg.num_hidden_layers = layers
    model = RobertaForMaskedLM(cfg)
    state = torch.load(work / f"{name}.ckpt")["model"]
    model.load_state_dict(state)
    return model


def distil_loss(teacher, vocab, T=2.0, a_ce=5.0, a_mlm=2.0, a_cos=1.0):
    """DistilBERT's loss (Sanh et al. 2019; weights and temperature of their training script).
    The KL term is taken at the masked positions (their --restrict_ce_to_mask), where the LM head runs."""
    def fn(model, ids, attn, gen):
        inputs, chosen, labels = mask_tokens(ids, gen, vocab)
        with torch.no_grad():
            t_hidden = teacher.roberta(input_ids=inputs, attention_mask=attn)[0]
            t_logits = teacher.lm_head(t_hidden[chosen])
        s_hidden = model.roberta(input_ids=inputs, attention_mask=attn)[0]
        s_logits = model.lm_head(s_hidden[chosen])
        ce = F.kl_div(F.log_softmax(s_logits / T, -1), F.softmax(t_logits / T, -1), reduction="batchmean") * T * T
        mlm = F.cross_entropy(s_logits, labels)
        keep = attn.bool()
        s, t = s_hidden[keep], t_hidden[keep]
        cos = F.cosine_embedding_loss(s, t, torch.ones(s.shape[0]))
        loss = a_ce * ce + a_mlm * mlm + a_cos * cos
        return loss, f"kl {ce.item():.3f} mlm {mlm.item():.3f} cos {cos.item():.3f}"
    return fn


def stage_student(work: Path, args):
    from transformers import RobertaForMaskedLM
    if (work / "student.done").exists():
        return
    tok = load_tokenizer(work)
    teacher = load_trained(work, "teacher", tok)
    teacher.eval()
    cfg = teacher_config(tok)
    cfg.num_hidden_layers = len(STUDENT_LAYERS)
    torch.manual_seed(SEED + 1)
    student = RobertaForMaskedLM(cfg)
    t_state = teacher.state_dict()
    s_state = {}
    for k, v in t_state.items():
        m = re.match(r"roberta\.encoder\.layer\.(\d+)\.(.*)", k)
        if m:
            t_idx = int(m.group(1))
            if t_idx in STUDENT_LAYERS:
                s_state[f"roberta.encoder.layer.{STUDENT_LAYERS.index(t_idx)}.{m.group(2)}"] = v.clone()
        else:
            s_state[k] = v.clone()
    missing, unexpected = student.load_state_dict(s_state, strict=False)
    assert not unexpected and all("decoder" in k for k in missing), (missing, unexpected)
    student.tie_weights()
    log(f"student: {sum(p.numel() for p in student.parameters())} parameters, from teacher layers {STUDENT_LAYERS}")
    elapsed = train_loop("student", work, student, args.student_steps, args.student_lr, args.warmup, args.budget, distil_loss(teacher, len(tok)))
    (work / "student.done").write_text(f"{elapsed:.0f}")


# ------------------------------------------------------------------------------------------------
# export, evaluation, model cards

def out_dir(name):
    return REPO / "models" / f"pocket-{name}"


def stage_export(work: Path):
    tok = load_tokenizer(work)
    total = 0
    for name, layers in (("teacher", TEACHER["num_hidden_layers"]), ("student", len(STUDENT_LAYERS))):
        model = load_trained(work, name, tok, layers)
        model = model.to(torch.bfloat16)
        model.config.dtype = "bfloat16"
        d = out_dir(name)
        if d.exists():
            shutil.rmtree(d)
        model.save_pretrained(str(d))
        # the tokenizer files as the constructor saved them (a tokenizer loaded with from_pretrained would
        # write is_local/local_files_only into tokenizer_config.json); tokenizer.json without indentation,
        # the same content at 40 % of the size, to stay inside the pocket models' 24 MB
        for f in ("vocab.json", "merges.txt", "tokenizer_config.json"):
            shutil.copy(work / "tokenizer" / f, d / f)
        tj = json.loads((work / "tokenizer" / "tokenizer.json").read_text(encoding="utf-8"))
        (d / "tokenizer.json").write_text(json.dumps(tj, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
        size = sum(f.stat().st_size for f in d.iterdir())
        total += size
        log(f"export: {d} {size / 1e6:.2f} MB")
    log(f"export: both {total / 1e6:.2f} MB (budget 24 MB, model cards and logs not counted yet)")


def load_exported(name):
    from transformers import AutoModelForMaskedLM, AutoTokenizer
    d = out_dir(name)
    model = AutoModelForMaskedLM.from_pretrained(str(d), dtype=torch.float32, attn_implementation="eager")
    model.eval()
    return model, AutoTokenizer.from_pretrained(str(d))


def heldout_sentences(work: Path, limit=None):
    rng = random.Random(SEED + 7)
    sents = [s for d in read_docs(work / "corpus" / "heldout.jsonl") for s in d["sents"]]
    rng.shuffle(sents)
    return sents[:limit] if limit else sents


@torch.no_grad()
def masked_accuracy(model, tok, sents, unigram_rank=None):
    """15 % of each sentence's tokens (at least one) replaced by <mask> at once; top-1 / top-5 over them."""
    top1 = top5 = n = 0
    u1 = u5 = 0
    for i, s in enumerate(sents):
        ids = tok(s, truncation=True, max_length=MAX_TOKENS)["input_ids"]
        inner = list(range(1, len(ids) - 1))
        if not inner:
            continue
        rng = random.Random(SEED + 13 + i)
        k = max(1, round(0.15 * len(inner)))
        pos = sorted(rng.sample(inner, k))
        inp = torch.tensor([ids])
        gold = inp[0, pos].clone()
        inp[0, pos] = tok.mask_token_id
        logits = model(input_ids=inp).logits[0, pos]
        best = logits.topk(5, -1).indices
        top1 += int((best[:, 0] == gold).sum())
        top5 += int((best == gold[:, None]).any(-1).sum())
        if unigram_rank is not None:
            u1 += int(sum(unigram_rank.get(int(g), 10**9) < 1 for g in gold))
            u5 += int(sum(unigram_rank.get(int(g), 10**9) < 5 for g in gold))
        n += len(pos)
    return top1 / n, top5 / n, n, u1 / n, u5 / n


@torch.no_grad()
def pseudo_perplexity(model, tok, sents):
    """Salazar et al. (2020): mask each token in turn; PPPL = exp(-sum log p / N)."""
    total, n = 0.0, 0
    for s in sents:
        ids = tok(s, truncation=True, max_length=MAX_TOKENS)["input_ids"]
        L = len(ids) - 2
        if L <= 0:
            continue
        inp = torch.tensor([ids] * L)
        rows = torch.arange(L)
        inp[rows, rows + 1] = tok.mask_token_id
        logp = model(input_ids=inp).logits[rows, rows + 1].log_softmax(-1)
        gold = torch.tensor(ids[1:-1])
        total += float(logp[rows, gold].sum())
        n += L
    return math.exp(-total / n), n


def unigram_model(work: Path, vocab):
    counts = np.ones(vocab, dtype=np.float64)  # add-one
    for b in torch.load(work / "data.pt")["blocks"]:
        np.add.at(counts, np.array(b[1:-1]), 1)
    counts[:5] = 0
    p = counts / counts.sum()
    rank = {int(t): r for r, t in enumerate(np.argsort(-p))}
    return p, rank


def stage_evaluate(work: Path, args):
    tok = load_tokenizer(work)
    p_uni, rank = unigram_model(work, len(tok))
    sents = heldout_sentences(work)
    acc_sents = sents[: args.eval_sentences]
    pppl_sents = sents[: args.pppl_sentences]
    results = {}
    for name in ("teacher", "student"):
        model, mtok = load_exported(name)
        t1, t5, n, u1, u5 = masked_accuracy(model, mtok, acc_sents, rank)
        pppl, pn = pseudo_perplexity(model, mtok, pppl_sents)
        results[name] = {"top1": t1, "top5": t5, "masked_tokens": n, "pppl": pppl, "pppl_tokens": pn}
        results["unigram"] = {"top1": u1, "top5": u5, "masked_tokens": n}
        log(f"evaluate {name}: top-1 {t1:.4f} top-5 {t5:.4f} over {n} masked tokens; PPPL {pppl:.2f} over {pn} tokens")
    # unigram pseudo-perplexity on the same tokens
    total, n = 0.0, 0
    for s in pppl_sents:
        ids = tok(s, truncation=True, max_length=MAX_TOKENS)["input_ids"][1:-1]
        total += float(np.log(p_uni[ids]).sum())
        n += len(ids)
    results["unigram"]["pppl"] = math.exp(-total / n)
    log(f"evaluate unigram: top-1 {results['unigram']['top1']:.4f} top-5 {results['unigram']['top5']:.4f} PPPL {results['unigram']['pppl']:.2f}")
    (work / "eval.json").write_text(json.dumps(results, indent=1))
    cloze = {}
    for name in ("teacher", "student"):
        from transformers import pipeline
        model, mtok = load_exported(name)
        pipe = pipeline("fill-mask", model=model, tokenizer=mtok, device="cpu")
        cloze[name] = {s: [(c["token_str"], round(c["score"], 3)) for c in pipe(s, top_k=5)] for s in CLOZE}
        for s in CLOZE:
            log(f"  {name:7s} {s:50s} {cloze[name][s]}")
    (work / "cloze.json").write_text(json.dumps(cloze, indent=1, ensure_ascii=False))
    write_cards(work, results, cloze)


def write_cards(work, results, cloze):
    stats = json.loads((work / "corpus" / "stats.json").read_text())
    times = {n: int((work / f"{n}.done").read_text()) for n in ("teacher", "student")}
    for name in ("teacher", "student"):
        d = out_dir(name)
        cfg = json.loads((d / "config.json").read_text())
        from safetensors import safe_open
        with safe_open(str(d / "model.safetensors"), "pt") as f:
            params = sum(f.get_tensor(k).numel() for k in f.keys())
        r = results
        lines = [
            f"# pocket-{name}",
            "",
            ("A small RoBERTa masked language model trained from scratch on this repository's machines, so that "
             "MaskScope shows something real offline. " +
             ("It is the teacher of `pocket-student`." if name == "teacher" else
              "Distilled from `pocket-teacher` as DistilRoBERTa was from roberta-base.")),
            f"It is not RoBERTa: a toy next to roberta-base; the two pocket models took {(times['teacher'] + times['student']) / 60:.0f} "
            "minutes of training together on two CPU cores.",
            "",
            "| | |", "|---|---|",
            f"| architecture | RobertaForMaskedLM, {cfg['num_hidden_layers']} layers, hidden {cfg['hidden_size']}, {cfg['num_attention_heads']} heads, FFN {cfg['intermediate_size']} |",
            f"| parameters | {params:,} (word embeddings tied to the LM head decoder) |",
            f"| vocabulary | {cfg['vocab_size']} byte-level BPE entries, RoBERTa's special tokens (`<s>`=0 `<pad>`=1 `</s>`=2 `<unk>`=3 `<mask>`=4) |",
            f"| max length | {MAX_TOKENS} tokens |",
            f"| weights | BF16 safetensors |",
            f"| training time | {times[name] / 60:.0f} min on 2 CPU cores (AMD EPYC VM) |",
            "",
            "## Held-out figures",
            "",
            f"On held-out sentences (by synset / entry / document, {HELDOUT_PERCENT} % of each source, never seen in training): "
            f"masked-token accuracy with 15 % of each sentence's tokens masked at once ({r['teacher']['masked_tokens']} masked tokens), "
            f"and pseudo-perplexity (each token masked in turn, Salazar et al. 2020; {r['teacher']['pppl_tokens']} tokens).",
            "",
            "| model | top-1 | top-5 | pseudo-perplexity |", "|---|---|---|---|",
        ]
        for m in ("teacher", "student", "unigram"):
            label = {"teacher": "pocket-teacher", "student": "pocket-student", "unigram": "unigram frequency baseline"}[m]
            lines.append(f"| {label} | {100 * r[m]['top1']:.1f} % | {100 * r[m]['top5']:.1f} % | {r[m]['pppl']:.1f} |")
        lines += ["", "## Sample answers (transformers' fill-mask pipeline, top 5)", ""]
        for s, cands in cloze[name].items():
            lines.append(f"- `{s}` " + ", ".join(f"{t!r} {p}" for t, p in cands))
        lines += [
            "", "## Data and licences", "",
            "English sentences from Debian packages only:", "",
            "| source | Debian package | licence | documents | sentences | words |", "|---|---|---|---|---|---|",
        ]
        for key, (pkg, _, lic) in SOURCES.items():
            s = stats[key]
            lines.append(f"| {key} | {pkg} | {lic} | {s['docs']} | {s['sentences']} | {s['words']} |")
        lines += [
            "",
            "WordNet glosses become sentences (`Paris, also called City of Light, is the national capital and "
            "largest city of France.`, `To run is to move fast by using one's feet.`); its example sentences are kept as they are. "
            "The Jargon File and The Devil's Dictionary give their entries' prose, the Python documentation the text of its paragraphs "
            "(no code). Held out: every synset, dictionary entry or documentation page whose SHA-256 of its key falls in the "
            f"first {HELDOUT_PERCENT} %.",
            "",
            "## Recipe", "",
            "`Scripts/train_pocket.py` in the MaskScope repository makes this directory from scratch, deterministically from its seeds "
            "(versions pinned in `Scripts/requirements-reference.txt`). Byte-level BPE trained with `tokenizers`; blocks of whole "
            "sentences packed to 128 tokens (a third of them short, 12-48 tokens), batched by length; masked-LM with 15 % of tokens "
            "(80 % `<mask>`, 10 % random, 10 % kept), masks drawn anew each step, the LM head run only at the masked positions; "
            "AdamW (betas 0.9/0.98, eps 1e-6, weight decay 0.01), linear warm-up then linear decay, gradient clipping 1.0, dropout 0.1.",
            "",
        ]
        if name == "teacher":
            lines.append(f"Teacher: {STEPS_NOTE['teacher']}.")
        else:
            lines.append(f"Student: layers {STUDENT_LAYERS} of the teacher (and its embeddings and LM head) as the starting point; "
                         "DistilBERT's loss 5 x KL(teacher || student) at temperature 2 + 2 x masked-LM + 1 x cosine distance between the "
                         f"last hidden states, the KL at the masked positions; {STEPS_NOTE['student']}.")
        lines += ["", "The loss curve is in `training_log.jsonl` (every 50 steps).", ""]
        (d / "README.md").write_text("\n".join(lines))
        shutil.copy(work / f"{name}.log", d / "training_log.jsonl")


STEPS_NOTE = {}


# ------------------------------------------------------------------------------------------------
# fixtures for the Swift tests

FIXTURE_TEXTS = CLOZE[:6] + [
    "The <mask> of the <mask> is large.",
    "<mask> is a programming language.",
    "Hello world, this is a <mask>",
]


def stage_fixtures(work: Path):
    from transformers import pipeline
    import transformers, tokenizers, safetensors
    out = {"versions": {"transformers": transformers.__version__, "torch": torch.__version__,
                        "tokenizers": tokenizers.__version__, "safetensors": safetensors.__version__},
           "load": "AutoModelForMaskedLM.from_pretrained(dir, dtype=torch.float32, attn_implementation='eager')",
           "models": {}}
    for name in ("teacher", "student"):
        model, tok = load_exported(name)
        pipe = pipeline("fill-mask", model=model, tokenizer=tok, device="cpu")
        cases = []
        for s in FIXTURE_TEXTS:
            cases.append({"text": s, "ids": tok(s)["input_ids"], "top_k": 5, "pipeline": pipe(s, top_k=5)})
        out["models"][f"pocket-{name}"] = {"cases": cases}
    path = REPO / "Tests" / "Fixtures" / "reference" / "pocket.json"
    path.write_text(json.dumps(out, ensure_ascii=False, separators=(",", ":")))
    log(f"fixtures: {path} ({path.stat().st_size} bytes)")


HELDOUT_SAMPLE = 400


def stage_sample(work: Path):
    """models/heldout-sample.txt: 400 held-out sentences (never trained on), one per line, for `maskscope eval`
    examples and Scripts/eval_reference.py (the README's eval run and its transformers timing use this file)."""
    path = REPO / "models" / "heldout-sample.txt"
    sents = [s.replace("\n", " ").strip() for s in heldout_sentences(work, HELDOUT_SAMPLE)]
    path.write_text("".join(s + "\n" for s in sents if s))
    log(f"sample: {path} ({path.stat().st_size} bytes, {len(sents)} sentences)")


# ------------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("stage", choices=["corpus", "tokenizer", "data", "teacher", "student", "export", "evaluate", "fixtures", "sample", "all"])
    ap.add_argument("--work", type=Path, default=Path("/root/pocket-work"), help="checkpoints and intermediate files (outside the repository)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--teacher-steps", type=int, default=4000)
    ap.add_argument("--student-steps", type=int, default=1200)
    ap.add_argument("--teacher-lr", type=float, default=1e-3)
    ap.add_argument("--student-lr", type=float, default=5e-4)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--budget", type=int, default=4096, help="tokens per batch, padding included")
    ap.add_argument("--eval-sentences", type=int, default=3000)
    ap.add_argument("--pppl-sentences", type=int, default=300)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)
    args.work.mkdir(parents=True, exist_ok=True)
    if REPO in args.work.resolve().parents:
        sys.exit("--work must be outside the repository")
    STEPS_NOTE["teacher"] = (f"{args.teacher_steps} steps of about {args.budget} tokens (padding included), peak learning rate "
                             f"{args.teacher_lr:g} after {args.warmup} warm-up steps")
    STEPS_NOTE["student"] = (f"{args.student_steps} steps of about {args.budget} tokens, peak learning rate {args.student_lr:g} "
                             f"after {args.warmup} warm-up steps")
    stages = ["corpus", "tokenizer", "data", "teacher", "student", "export", "evaluate", "fixtures", "sample"] if args.stage == "all" else [args.stage]
    for s in stages:
        t = time.time()
        fn = globals()[f"stage_{s}"]
        fn(args.work, args) if s in ("teacher", "student", "evaluate") else fn(args.work)
        log(f"stage {s}: {time.time() - t:.0f} s")


if __name__ == "__main__":
    main()
