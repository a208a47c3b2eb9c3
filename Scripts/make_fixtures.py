#!/usr/bin/env python3
"""Generate MaskScope's reference fixtures (Tests/Fixtures/models and Tests/Fixtures/reference).

Run from the repository root with the pinned reference stack (Scripts/requirements-reference.txt):

    /root/msvenv/bin/python Scripts/make_fixtures.py [--tokenizer ../shared/roberta-tokenizer] [--out Tests/Fixtures]

Everything is deterministic (fixed seeds, one torch thread, one tokenizers thread): running it twice
produces byte-identical files.  The real RoBERTa vocab.json/merges.txt are only READ from --tokenizer
(default: ../shared/roberta-tokenizer next to the repository) to produce reference/tokenize-real.json;
they are never copied into the repository.  If that directory is missing, tokenize-real.json is left
as it is (with a note on stderr) and everything else is still generated.
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
import logging
import random
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

torch.set_num_threads(1)
try:
    torch.set_num_interop_threads(1)
except RuntimeError:
    pass

import safetensors
import tokenizers
import transformers
from safetensors import safe_open
from tokenizers import ByteLevelBPETokenizer
from transformers import (
    AddedToken,
    AutoModelForMaskedLM,
    AutoTokenizer,
    RobertaConfig,
    RobertaForMaskedLM,
    RobertaTokenizerFast,
    pipeline,
)

transformers.utils.logging.disable_progress_bar()
transformers.utils.logging.set_verbosity_warning()

REPO = Path(__file__).resolve().parent.parent
DEFAULT_TOKENIZER_DIR = REPO.parent / "shared" / "roberta-tokenizer"

SPECIAL_TOKENS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]  # ids 0..4, as in the real RoBERTa vocab
TINY_VOCAB_SIZE = 1000
TOKENIZER_SEED = 20240601
RANDOM_TEXT_SEED = 7
DECODE_SAMPLE_SEED = 11

VERSIONS = {
    "transformers": transformers.__version__,
    "torch": torch.__version__,
    "tokenizers": tokenizers.__version__,
    "safetensors": safetensors.__version__,
    "python": "%d.%d.%d" % sys.version_info[:3],
}

# --------------------------------------------------------------------------------------------------
# 1. Training corpus for the tiny byte-level BPE vocabulary
# --------------------------------------------------------------------------------------------------

CORPUS = [
    "Paris is the capital of France.",
    "Today is a beautiful day!",
    "Berlin is the capital of Germany, and Rome is the capital of Italy.",
    "Madrid is a busy city and the capital of Spain.",
    "The weather today is beautiful, isn't it?",
    "It's a great day for a walk in the park.",
    "I can't believe it's already 2024.",
    "We've been waiting for 15 minutes; they're late again.",
    "I'm sure you'll like it, and she'd agree.",
    "He said: \"The answer is 42.\"",
    "The price was $3.14 per pound, or 1,000 dollars in total.",
    "My phone number is 555-1234 and my house is number 7.",
    "The quick brown fox jumps over the lazy dog.",
    "A journey of a thousand miles begins with a single step.",
    "Life is what happens when you're busy making other plans.",
    "The birthplace of the poet was a small town near the river.",
    "The museum opens at 9 a.m. and closes at 5 p.m. every day.",
    "Café au lait is a popular drink in France.",
    "The naïve résumé was written in Zürich by a señor from Málaga.",
    "Crème brûlée and piñata are words with accents.",
    "東京は日本の首都です。",
    "北京是中国的首都。",
    "서울은 한국의 수도입니다.",
    "I love 🍕 and 🎉 and ❤️!",
    "The rocket 🚀 flew to the moon 🌕 today.",
    "Москва — столица России.",
    "Αθήνα είναι η πρωτεύουσα της Ελλάδας.",
    "مرحبا بالعالم",
    "שלום עולם",
    "नमस्ते दुनिया",
    "The children played in the garden while their parents talked.",
    "Music is the universal language of mankind.",
    "She sells sea shells by the sea shore.",
    "Every morning I drink a cup of coffee and read the news.",
    "The capital city is famous for its beautiful buildings and old bridges.",
    "Don't worry, be happy.",
    "Where is the nearest train station?",
    "The meeting was moved from Monday to Friday at 10:30.",
    "Science and art are both ways of understanding the world.",
    "The old man and the sea is a famous book.",
    "Water boils at 100 degrees and freezes at 0 degrees.",
    "London, Paris, Berlin and Madrid are large European cities.",
    "What a wonderful world this is!",
    "They're going to the market to buy bread, cheese and wine.",
    "The cat sat on the mat, and the dog slept by the door.",
    "Happy birthday to you, my dear friend!",
    "Good night, and good luck.",
    "The sun rises in the east and sets in the west.",
    "France is famous for its food, its wine and its art.",
    "Is today a good day to learn something new?",
    "Visit https://example.com/index.html for more information.",
    "def capital(country): return CAPITALS[country]  # lookup",
    "THE END IS NEAR, SAID THE SIGN.",
    "One, two, three, four, five, six, seven, eight, nine, ten.",
]

# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_json(path, obj):
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
        f.write("\n")


def mask_added_token():
    # Exactly what the hub's roberta tokenizer.json declares for <mask>.
    return AddedToken("<mask>", lstrip=True, rstrip=False, single_word=False, normalized=False, special=True)


def load_roberta_tokenizer(vocab_dir):
    """RobertaTokenizerFast from a directory holding vocab.json + merges.txt.

    transformers 5.x does NOT give <mask> lstrip=True by itself any more (4.x did in
    RobertaTokenizerFast.__init__); the hub checkpoints get it from their tokenizer.json.  We pass it
    explicitly so that tokenizer.json written by save_pretrained matches the hub's.
    """
    vocab_dir = Path(vocab_dir)
    # (from_pretrained(dir) would work too, but leaks "is_local"/"local_files_only" into the saved
    # tokenizer_config.json; the constructor takes the two file paths directly.)
    return RobertaTokenizerFast(
        vocab=str(vocab_dir / "vocab.json"),
        merges=str(vocab_dir / "merges.txt"),
        mask_token=mask_added_token(),
        model_max_length=512,
        add_prefix_space=False,
        trim_offsets=True,
    )


class WarningCapture(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


# --------------------------------------------------------------------------------------------------
# 1. tokenizer training
# --------------------------------------------------------------------------------------------------


def train_tiny_vocab(workdir):
    random.seed(TOKENIZER_SEED)
    bpe = ByteLevelBPETokenizer(add_prefix_space=False, trim_offsets=True)
    # The corpus is fed twice so that every in-word pair reaches min_frequency=2 and the vocabulary
    # grows to ~TINY_VOCAB_SIZE entries (the initial alphabet is the full 256-byte ByteLevel alphabet,
    # so any text encodes).
    bpe.train_from_iterator(
        CORPUS + CORPUS,
        vocab_size=TINY_VOCAB_SIZE,
        min_frequency=2,
        show_progress=False,
        special_tokens=SPECIAL_TOKENS,
    )
    bpe.save_model(str(workdir))
    vocab = json.load(open(workdir / "vocab.json", encoding="utf-8"))
    for i, t in enumerate(SPECIAL_TOKENS):
        assert vocab[t] == i, (t, vocab[t])
    return workdir / "vocab.json", workdir / "merges.txt"


# --------------------------------------------------------------------------------------------------
# 2. tiny checkpoints
# --------------------------------------------------------------------------------------------------


TINY_SHAPE = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64)
# tiny-untied deliberately has another shape (head_dim 4, 3 layers, odd intermediate size) so that
# nothing shape-related can be hard-coded.
UNTIED_SHAPE = dict(hidden_size=16, num_hidden_layers=3, num_attention_heads=4, intermediate_size=40)


def tiny_config(vocab_size, tie, shape):
    return RobertaConfig(
        vocab_size=vocab_size,
        hidden_act="gelu",
        max_position_embeddings=514,
        type_vocab_size=1,
        layer_norm_eps=1e-5,
        initializer_range=0.02,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        tie_word_embeddings=tie,
        **shape,
    )


# Re-randomised weights (see README): tuned so that fill-mask top-5 probabilities are clearly
# separated (top-1 ~0.05-0.5) and attention is far from uniform.  Standard deviations scale with
# 1/sqrt(fan_in) so both shapes behave alike.
C_EMBEDDING = 2.6  # word embeddings (= tied decoder) and untied decoder: std = C / sqrt(hidden)
C_POSITION = 1.7  # position and token-type embeddings
C_QUERY_KEY = 1.7  # attention query/key weights: larger -> peakier attention
C_LINEAR = 1.15  # every other nn.Linear weight: std = C / sqrt(in_features)
STD_BIAS = 0.05  # all biases (Linear, LayerNorm, lm_head.bias) ~ N(0, 0.05)
STD_LN_WEIGHT = 0.1  # LayerNorm weight = 1 + N(0, 0.1)


def rerandomise(model, seed):
    g = torch.Generator().manual_seed(seed)
    hidden = model.config.hidden_size

    def randn(shape):
        return torch.randn(shape, generator=g, dtype=torch.float32)

    with torch.no_grad():
        for name, p in model.named_parameters():  # tied parameters appear once
            lname = name.lower()
            if "layernorm" in lname or "layer_norm" in lname:
                if name.endswith(".weight"):
                    p.copy_(1.0 + STD_LN_WEIGHT * randn(p.shape))
                else:
                    p.copy_(STD_BIAS * randn(p.shape))
            elif name.endswith("bias"):
                p.copy_(STD_BIAS * randn(p.shape))
            elif "word_embeddings" in name or "decoder" in name:
                p.copy_(C_EMBEDDING / hidden**0.5 * randn(p.shape))
            elif "position_embeddings" in name or "token_type_embeddings" in name:
                p.copy_(C_POSITION / hidden**0.5 * randn(p.shape))
            elif ".query." in name or ".key." in name:
                p.copy_(C_QUERY_KEY / p.shape[1] ** 0.5 * randn(p.shape))
            else:
                p.copy_(C_LINEAR / p.shape[1] ** 0.5 * randn(p.shape))


def build_model(vocab_size, tie, seed, shape=TINY_SHAPE):
    torch.manual_seed(seed)
    model = RobertaForMaskedLM(tiny_config(vocab_size, tie, shape))
    rerandomise(model, seed + 1)
    model.eval()
    if tie:
        assert model.lm_head.decoder.weight is model.roberta.embeddings.word_embeddings.weight
    else:
        assert model.lm_head.decoder.weight is not model.roberta.embeddings.word_embeddings.weight
    return model


def save_model_dir(model, tok, vocab_json, merges_txt, out_dir, **save_kwargs):
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    model.save_pretrained(str(out_dir), **save_kwargs)
    tok.save_pretrained(str(out_dir))
    # transformers 5.x's tokenizer.save_pretrained writes only tokenizer.json + tokenizer_config.json;
    # hub checkpoints also ship vocab.json + merges.txt, so add our (tiny, self-trained) ones.
    shutil.copyfile(vocab_json, out_dir / "vocab.json")
    shutil.copyfile(merges_txt, out_dir / "merges.txt")


def describe_tensors(model_dir):
    files = sorted(p.name for p in model_dir.glob("*.safetensors"))
    out = {}
    for fn in files:
        with safe_open(str(model_dir / fn), "pt") as f:
            out[fn] = {
                "metadata": f.metadata(),
                "tensors": {k: [f.get_slice(k).get_dtype(), list(f.get_slice(k).get_shape())] for k in sorted(f.keys())},
            }
    return out


# --------------------------------------------------------------------------------------------------
# 3. model reference dumps
# --------------------------------------------------------------------------------------------------

LONG_SENTENCE = (
    "Paris is the capital of France, and every morning I drink a cup of coffee and read the news "
    "before the museum opens at 9 a.m. on a beautiful <mask> day."
)  # 43 tokens with the tiny vocabulary

MODEL_CASES = [
    "Paris is the <mask> of France.",  # endpoint sample 1 (mask in the middle)
    "Today is a <mask> day!",  # endpoint sample 2
    "<mask> is the capital of France.",  # mask at the very start
    "Paris is the capital of <mask>",  # mask at the very end
    "Paris is the capital of France.<mask>",  # right after punctuation, no space
    "Hello world!<mask> is nice.",  # right after punctuation, mid text
    "The capital of France is Paris<mask>",  # glued to a word (no preceding space)
    "x<mask>y",
    "  <mask> after two spaces",
    "first line\n<mask> second line",
    "<mask>",
    "The <mask> is the capital of <mask>.",  # two masks
    "<mask> is a <mask> day in <mask>!",  # three masks
    "<mask><mask> doubled",  # adjacent masks
    "Paris <s> is the </s> <mask> of France.",  # literal special tokens in the text
    "Today <pad> is a <mask> day!",  # <pad> before the mask: shifts RoBERTa position ids
    "Paris is the <mask> of France. <pad> <pad> The end.",  # <pad> after the mask
    "Café au lait is a <mask> drink in Zürich, naïve 東京 🍕🎉!",  # unicode
    LONG_SENTENCE,  # ~40+ tokens
]

ENDPOINT_STRINGS = ["Paris is the <mask> of France.", "Today is a <mask> day!"]

TARGETS_CASES = [
    # targets that are vocabulary entries as-is (byte-level spelling, "Ġ" = leading space); top_k > len(targets)
    ("Paris is the <mask> of France.", ["Ġcapital", "Ġcity", "Paris"], 5),
    # leading-space spelling is not a vocab key -> tokenized, first token used (warning)
    ("Paris is the <mask> of France.", [" capital", " city"], 1),
    ("Today is a <mask> day!", [" beautiful", " wonderfulness", "good"], 3),
    # duplicates after fallback collapse into one id (targets go through set())
    ("Today is a <mask> day!", ["Ġbeautiful", " beautiful", "Ġgreat"], 5),
    # a target that tokenizes to nothing is ignored (warning); non-ASCII target falls back to bytes
    ("Café au lait is a <mask> drink.", ["", "é", "Ġfamous"], 2),
    # a single string instead of a list
    ("Paris is the <mask> of France.", "Ġcapital", 5),
    # multiple masks with targets -> list of lists
    ("The <mask> is the capital of <mask>.", ["ĠParis", "ĠFrance", "Ġcity"], 2),
]


# Cases whose raw logits (and for tiny-untied attention / hidden states) are recorded in the
# secondary model references; tiny.json records everything for every case.
SUBSET = [
    "Paris is the <mask> of France.",
    "Today <pad> is a <mask> day!",
    "<mask> is a <mask> day in <mask>!",
]


# attention / last_hidden_state are recorded in tiny.json for every case of at most this many tokens
# (the 18-, 24- and 43-token cases are left out: their attention alone would add ~300 kB).
DEEP_MAX_TOKENS = 16


def f32_list(t):
    """Nested Python floats for a tensor, each the float32 value written as the shortest decimal that
    maps back to exactly that float32 (numpy's shortest repr).  Checked: parsing the decimal as a
    float32 directly, or as a double then rounding to float32, both give the original value back."""
    a = t.detach().to(torch.float32).cpu().numpy()
    flat = a.ravel()
    out = np.empty(flat.shape, dtype=np.float64)
    for i, v in enumerate(flat):
        d = float(str(v))
        if np.float32(d) != v or np.float32(str(v)) != v:
            d = float(v)  # exact double value of the float32 (never hit in practice)
        out[i] = d
    return out.reshape(a.shape).tolist()


def run_model(model, ids, attention_mask, want_attention):
    inputs = {"input_ids": torch.tensor([ids]), "attention_mask": torch.tensor([attention_mask])}
    with torch.no_grad():
        out = model(**inputs, output_attentions=want_attention)
        base = model.roberta(**inputs) if want_attention else None
    return out, base


def model_case(model, tok, pipe, text, with_logits, deep_for):
    enc = tok(text, return_offsets_mapping=True)
    ids = list(enc["input_ids"])
    if deep_for is None:  # tiny.json: every case short enough to keep the fixtures small
        with_deep = len(ids) <= DEEP_MAX_TOKENS
    else:
        with_deep = text in deep_for
    mask_positions = [i for i, t in enumerate(ids) if t == tok.mask_token_id]
    out, base = run_model(model, ids, enc["attention_mask"], with_deep)
    logits = out.logits[0]
    top = pipe(text, top_k=5)
    case = {
        "text": text,
        "ids": ids,
        "tokens": tok.convert_ids_to_tokens(ids),
        "offsets": [list(o) for o in enc["offset_mapping"]],
        "mask_positions": mask_positions,
        "pipeline_top5": top,
    }
    if with_logits:
        case["logits_at_masks"] = [f32_list(logits[p]) for p in mask_positions]
    if with_deep:
        case["attention"] = [f32_list(a[0]) for a in out.attentions]
        case["last_hidden_state"] = f32_list(base.last_hidden_state[0])
        # the encoder output feeds the LM head: logits == lm_head(last_hidden_state)
        with torch.no_grad():
            assert torch.equal(model.lm_head(base.last_hidden_state)[0], logits)
    # sanity: the pipeline's scores are softmax(logits at the mask), computed in float32
    rows = top if len(mask_positions) > 1 else [top]
    for row, p in zip(rows, mask_positions):
        probs = logits[p].float().softmax(-1)
        for entry in row:
            assert probs[entry["token"]].item() == entry["score"], (text, entry)
    return case


def score_rows(case):
    return case["pipeline_top5"] if len(case["mask_positions"]) > 1 else [case["pipeline_top5"]]


def model_reference(model_dir, name, logits_for, deep_for, native=False):
    model = AutoModelForMaskedLM.from_pretrained(str(model_dir), dtype=torch.float32, attn_implementation="eager")
    model.eval()
    tok = AutoTokenizer.from_pretrained(str(model_dir))
    pipe = pipeline("fill-mask", model=model, tokenizer=tok)
    cfg = model.config
    ref = {
        "model": name,
        "versions": VERSIONS,
        "load": "AutoModelForMaskedLM.from_pretrained(dir, dtype=torch.float32, attn_implementation='eager') "
        "(f16/bf16 weights are upcast exactly); tokenizer = AutoTokenizer.from_pretrained(dir); "
        "pipeline('fill-mask', model=model, tokenizer=tokenizer)",
        "config": {
            "vocab_size": cfg.vocab_size,
            "hidden_size": cfg.hidden_size,
            "num_hidden_layers": cfg.num_hidden_layers,
            "num_attention_heads": cfg.num_attention_heads,
            "intermediate_size": cfg.intermediate_size,
            "tie_word_embeddings": cfg.tie_word_embeddings,
            "checkpoint_dtype": json.load(open(model_dir / "config.json", encoding="utf-8")).get("dtype"),
        },
        "tokenizer": {
            "clean_up_tokenization_spaces": tok.clean_up_tokenization_spaces,
            "mask_token_id": tok.mask_token_id,
            "pad_token_id": tok.pad_token_id,
            "len": len(tok),
        },
        "float_format": "tensor values (logits_at_masks, attention, last_hidden_state) are float32 results written "
        "as the shortest decimal that parses back to the same float32; pipeline scores are the Python floats "
        "transformers returns, unchanged",
        "fields": "every case has text/ids/tokens/offsets/mask_positions/pipeline_top5; logits_at_masks: "
        + ("every case" if logits_for is None else "only the cases in SUBSET")
        + "; attention/last_hidden_state: "
        + ("every case with at most %d tokens" % DEEP_MAX_TOKENS if deep_for is None
           else ("none" if not deep_for else "only the cases in SUBSET")),
        "subset": SUBSET,
    }
    cases = []
    for t in MODEL_CASES:
        cases.append(model_case(
            model, tok, pipe, t,
            with_logits=logits_for is None or t in logits_for,
            deep_for=deep_for,
        ))
    ref["cases"] = cases

    # targets
    tcases = []
    handler = WarningCapture()
    tlogger = logging.getLogger("transformers")
    tlogger.addHandler(handler)
    try:
        for text, targets, top_k in TARGETS_CASES:
            handler.messages.clear()
            result = pipe(text, targets=targets, top_k=top_k)
            tcases.append({"text": text, "targets": targets, "top_k": top_k, "pipeline": result,
                           "warnings": list(handler.messages)})
    finally:
        tlogger.removeHandler(handler)
    ref["targets_cases"] = tcases

    # endpoint sample
    request = {"inputs": {"input_string": ENDPOINT_STRINGS}, "parameters": {"top_k": 2}}
    response = [pipe(s, top_k=2) for s in ENDPOINT_STRINGS]
    assert pipe(ENDPOINT_STRINGS, top_k=2) == response
    ref["endpoint"] = {"request": request, "response": response}

    if native:
        nmodel = AutoModelForMaskedLM.from_pretrained(str(model_dir), attn_implementation="eager")  # default dtype
        nmodel.eval()
        default_dtype = str(nmodel.dtype).replace("torch.", "")
        npipe = pipeline("fill-mask", model=nmodel, tokenizer=tok)
        ncases = []
        for text in MODEL_CASES:
            c = {"text": text, "pipeline_top5": npipe(text, top_k=5)}
            if text in SUBSET:
                enc = tok(text)
                ids = list(enc["input_ids"])
                out, _ = run_model(nmodel, ids, enc["attention_mask"], False)
                c["logits_at_masks"] = [f32_list(out.logits[0][i]) for i, t in enumerate(ids) if t == tok.mask_token_id]
            ncases.append(c)
        ref["native_dtype"] = {
            "note": "AutoModelForMaskedLM.from_pretrained(dir, attn_implementation='eager') with no dtype argument "
            "(transformers 5.x then loads in the checkpoint's dtype, 'auto'); everything computed in that dtype on "
            "CPU; logits_at_masks only for the cases in SUBSET",
            "default_load_dtype": default_dtype,
            "cases": ncases,
        }

    # What happens past 512 tokens (514 positions, 2 reserved by the padding offset).
    long_text = " ".join(["day"] * 520) + " <mask>."
    n_tokens = len(tok(long_text)["input_ids"])
    try:
        pipe(long_text)
        ref["overlong"] = {"n_tokens": n_tokens, "error": None}
    except Exception as e:  # noqa: BLE001 - record whatever transformers raises
        ref["overlong"] = {"n_tokens": n_tokens, "error_type": type(e).__name__, "error": str(e)}
    return ref


# --------------------------------------------------------------------------------------------------
# 4. tokenizer reference dumps
# --------------------------------------------------------------------------------------------------

TOKENIZE_CASES = [
    # empty / whitespace
    "", " ", "  ", "   ", "\t", "\n", "\r\n", "\r", " \n ", "\n\n", "\t\t", " \t \n ",
    # plain ASCII, spaces
    "Hello", " Hello", "Hello ", "  Hello  ", "Hello world", "Hello  world", "Hello   world",
    "Hello\tworld", "Hello\nworld", "Hello\r\nworld", "Hello\n\nworld", "Hello \n world", "Hello world!  ",
    "   leading spaces", "trailing spaces   ", "\t\ttabs\t", "a\n\n\nb", "tab\x0bvertical", "form\x0cfeed",
    "HELLO WORLD", "hElLo", "Paris", "paris", "PARIS",
    "Paris is the capital of France.", "Today is a beautiful day!",
    # unicode spaces / invisible characters
    "a\u00a0b", "\u00a0", "trailing nbsp\u00a0", "\u00a0leading nbsp", "a\u2009b", "a\u3000b", "a\u2002b",
    "a\u200bb", "a\u200cb", "a\u200db", "\ufeffBOM", "a\u2028b", "a\u0085b", "soft\u00adhyphen",
    # accents (precomposed and combining)
    "café", "cafe\u0301", "naïve", "nai\u0308ve", "résumé", "Zürich", "Ångström", "A\u030angstro\u0308m",
    "straße", "İstanbul", "ﬁnance", "Crème brûlée", "señor", "Ω≈ç√∫", "ÀÉÎÕÜ", "e\u0301\u0302\u0303",
    # emoji
    "🍕", "I love 🍕!", "👍", "👍🏽", "👍🏿👍🏻", "👨\u200d👩\u200d👧\u200d👦", "🏳\ufe0f\u200d🌈", "🇫🇷", "🇫🇷🇩🇪🇯🇵",
    "❤\ufe0f", "😀😃😄", "#\ufe0f\u20e3", "emoji🎉inside", "🚀 to the 🌕",
    # CJK, RTL, Indic, Thai, others
    "東京は日本の首都です。", "我爱北京天安门", "한국어 텍스트", "カタカナ", "日本語とEnglishの混在",
    "مرحبا بالعالم", "שלום עולם", "Hello مرحبا world", "עברית 123", "नमस्ते दुनिया", "हिन्दी",
    "สวัสดีชาวโลก", "Москва — столица России.", "Ελληνικά", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "𝟘𝟙𝟚",
    # numbers
    "1234567", "3.14", "1,000", "1,000,000.50", "2024-01-15", "+1 (555) 123-4567", "0x1F", "1e-10",
    "٣٤٥", "½ ¾", "10:30", "$3.14", "100%", "v2.0.1",
    # contractions
    "it's", "don't", "they're", "we've", "I'm", "you'll", "he'd", "IT'S", "DON'T", "I'M", "SHE'LL",
    "it’s", "don’t", "dogs'", "'s", "'tis", "rock'n'roll", "y'all'd've", "Paris's", "it 's", "''",
    # special tokens in the text
    "<s>", "</s>", "<pad>", "<unk>", "<mask>", "Hello <s> world", "Hello </s> world", "Hello<pad>world",
    "a <unk> b", "<s><mask></s>", "<pad><pad>", "x</s>y",
    # <mask> in every position
    "<mask> is", "Paris <mask>", "Paris is the <mask> of France.", "<mask><mask>", "<mask> <mask>",
    "<mask>  <mask>", " <mask>", "  <mask>", "   <mask>", "\t<mask>", "\n<mask>", "\r\n<mask>",
    "x<mask>y", "x <mask> y", "x  <mask>  y", "<mask>.", "Hello.<mask>", "Hello. <mask>", "(<mask>)",
    "<mask>!", "<mask> ", "\u00a0<mask>", "<mask>\n", "é<mask>", "🍕<mask>", "<mask>🍕", "<mask><s>",
    # near misses
    "<MASK>", "<Mask>", "<mask", "mask>", "< mask >", "<<mask>>", "<mask/>", "<masked>", "<s", "</s",
    "<unk", "[MASK]",
    # long words, URLs, code, punctuation
    "supercalifragilisticexpialidocious", "pneumonoultramicroscopicsilicovolcanoconiosis", "x" * 120,
    "https://example.com/path?query=1&b=2#frag", "user@example.com", "www.example.org",
    "def f(x): return x**2 + 1  # comment", "if (a != b && c >= d) { return; }", 'print("hello\\n")',
    '<div class="x">Hi</div>', "a_b-c.d/e\\f", "!!!", "...", "?!", "—", "–", "…", "“quoted”",
    "«guillemets»", "--", "@#$%^&*()", "Hello世界Привет🌍", "ASCII then Ελληνικά then עברית",
]

RANDOM_PIECES = [
    "Hello", "world", "Paris", "capital", "France", "beautiful", "day", "café", "naïve", "e\u0301",
    "東京", "日本", "🍕", "👍🏽", "👨\u200d👩\u200d👧", "🇫🇷", "مرحبا", "שלום", "नमस्ते", "สวัสดี",
    "123", "3.14", "1,000", "it's", "DON'T", "we've", "I'm", "they'll", "he'd", "it’s", "<mask>", "<s>",
    "</s>", "<pad>", "<unk>", "<MASK>", "<mask", "mask>", ".", ",", "!", "?", "(", ")", "\"", "'", "-",
    "https://x.io", "a_b", "\u00a0", "\u2009", "\u3000", "\u200b", "x" * 30,
]
RANDOM_SEPARATORS = ["", " ", " ", " ", "  ", "   ", "\t", "\n", "\r\n", " \n", "\u00a0"]


def random_texts(n=100):
    rng = random.Random(RANDOM_TEXT_SEED)
    out = []
    for _ in range(n):
        k = rng.randint(1, 7)
        parts = []
        if rng.random() < 0.2:
            parts.append(rng.choice([" ", "  ", "\n", "\t"]))
        for j in range(k):
            if j:
                parts.append(rng.choice(RANDOM_SEPARATORS))
            parts.append(rng.choice(RANDOM_PIECES))
        if rng.random() < 0.2:
            parts.append(rng.choice([" ", "  ", "\n", "\t"]))
        out.append("".join(parts))
    return out


def tokenize_case(tok, text):
    enc = tok(text, return_offsets_mapping=True, add_special_tokens=True)
    ids = list(enc["input_ids"])
    return {
        "text": text,
        "ids": ids,
        "tokens": tok.convert_ids_to_tokens(ids),
        "offsets": [list(o) for o in enc["offset_mapping"]],
        "decoded": tok.decode(ids),
        "decoded_skip_special": tok.decode(ids, skip_special_tokens=True),
        "token_strs": [tok.decode([i]) for i in ids],
    }


def tokenize_reference(tok, label, vocab_files, decode_ids):
    texts = list(TOKENIZE_CASES)
    random_part = random_texts(100)
    cases = [tokenize_case(tok, t) for t in texts]
    rcases = [tokenize_case(tok, t) for t in random_part]
    decode = [{"id": i, "token": tok.convert_ids_to_tokens(i), "decoded": tok.decode([i])} for i in decode_ids]
    # multi-id decodes that split multi-byte characters (ByteLevel decoder, errors="replace")
    seqs = []
    for text in ["🍕", "é", "東京", "👨\u200d👩\u200d👧", "Hello 🍕 world", "<mask> é"]:
        ids = tok(text, add_special_tokens=False)["input_ids"]
        for cut in range(1, len(ids) + 1):
            seqs.append(ids[:cut])
        if len(ids) > 1:
            seqs.append(ids[1:])
            seqs.append(list(reversed(ids)))
    decode_sequences = []
    seen = set()
    for s in seqs:
        if tuple(s) in seen:
            continue
        seen.add(tuple(s))
        decode_sequences.append({"ids": s, "decoded": tok.decode(s), "decoded_skip_special": tok.decode(s, skip_special_tokens=True)})
    mask = tok.added_tokens_decoder[tok.mask_token_id]
    return {
        "vocab": label,
        "versions": VERSIONS,
        "vocab_files": vocab_files,
        "tokenizer": {
            "class": type(tok).__name__,
            "len": len(tok),
            "max_id": max(tok.get_vocab().values()),
            "clean_up_tokenization_spaces": tok.clean_up_tokenization_spaces,
            "model_max_length": tok.model_max_length,
            "mask_token": {"content": str(mask), "id": tok.mask_token_id, "lstrip": mask.lstrip, "rstrip": mask.rstrip},
            "special_ids": {t: tok.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS},
            "call": "tok(text, return_offsets_mapping=True, add_special_tokens=True); offsets in Python code points",
        },
        "cases": cases,
        "random_cases": rcases,
        "decode": decode,
        "decode_sequences": decode_sequences,
    }


# --------------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokenizer", default=str(DEFAULT_TOKENIZER_DIR),
                    help="directory with the real RoBERTa vocab.json + merges.txt (read only)")
    ap.add_argument("--out", default=str(REPO / "Tests" / "Fixtures"), help="fixtures root")
    ap.add_argument("--stats", action="store_true", help="print top-5 probabilities / attention statistics")
    args = ap.parse_args()

    out = Path(args.out)
    models_dir = out / "models"
    ref_dir = out / "reference"
    models_dir.mkdir(parents=True, exist_ok=True)
    ref_dir.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="maskscope-fixtures-") as tmp:
        tmp = Path(tmp)
        vocab_json, merges_txt = train_tiny_vocab(tmp)
        tok = load_roberta_tokenizer(tmp)
        vocab_size = len(tok)
        probe = tok("Paris is the <mask> of France.")["input_ids"]
        assert tok.convert_ids_to_tokens(probe)[4] == "<mask>", "mask must absorb the preceding space"
        print(f"tiny vocab: {vocab_size} entries", file=sys.stderr)

        # ---- models -------------------------------------------------------------------------
        tiny = build_model(vocab_size, tie=True, seed=1234)
        save_model_dir(tiny, tok, vocab_json, merges_txt, models_dir / "tiny")
        save_model_dir(tiny, tok, vocab_json, merges_txt, models_dir / "tiny-sharded", max_shard_size="60KB")
        n_shards = len(list((models_dir / "tiny-sharded").glob("model-*.safetensors")))
        assert n_shards >= 3 and (models_dir / "tiny-sharded" / "model.safetensors.index.json").exists(), n_shards
        half = build_model(vocab_size, tie=True, seed=1234)
        half.load_state_dict(tiny.state_dict())
        save_model_dir(half.half(), tok, vocab_json, merges_txt, models_dir / "tiny-f16")
        bf = build_model(vocab_size, tie=True, seed=1234)
        bf.load_state_dict(tiny.state_dict())
        save_model_dir(bf.to(torch.bfloat16), tok, vocab_json, merges_txt, models_dir / "tiny-bf16")
        untied = build_model(vocab_size, tie=False, seed=4321, shape=UNTIED_SHAPE)
        assert not torch.equal(untied.lm_head.bias, untied.lm_head.decoder.bias)
        save_model_dir(untied, tok, vocab_json, merges_txt, models_dir / "tiny-untied")

        # tensor inventory (for the README)
        inventory = {name: describe_tensors(models_dir / name)
                     for name in ["tiny", "tiny-f16", "tiny-bf16", "tiny-sharded", "tiny-untied"]}

        # ---- model references ---------------------------------------------------------------
        plan = [
            ("tiny", dict(logits_for=None, deep_for=None)),
            ("tiny-untied", dict(logits_for=SUBSET, deep_for=SUBSET)),
            ("tiny-f16", dict(logits_for=SUBSET, deep_for=[], native=True)),
            ("tiny-bf16", dict(logits_for=SUBSET, deep_for=[], native=True)),
            ("tiny-sharded", dict(logits_for=SUBSET, deep_for=[])),
        ]
        refs = {}
        for name, kw in plan:
            ref = model_reference(models_dir / name, name, **kw)
            refs[name] = ref
            write_json(ref_dir / f"{name}.json", ref)
            if args.stats:
                for c in ref["cases"]:
                    rows = score_rows(c)
                    gap = min(r[i]["score"] - r[i + 1]["score"] for r in rows for i in range(len(r) - 1))
                    print(name, repr(c["text"][:40]), [[round(e["score"], 4) for e in r] for r in rows],
                          "min gap %.2g" % gap, file=sys.stderr)

        # the sharded checkpoint holds the very same weights as tiny
        for a, b in zip(refs["tiny"]["cases"], refs["tiny-sharded"]["cases"]):
            assert a["pipeline_top5"] == b["pipeline_top5"]
            if "logits_at_masks" in b:
                assert a["logits_at_masks"] == b["logits_at_masks"]

        # the in-memory untied model and the reloaded one agree (decoder.bias, not lm_head.bias, is used)
        with torch.no_grad():
            ids = torch.tensor([refs["tiny-untied"]["cases"][0]["ids"]])
            mem = untied(input_ids=ids).logits[0]
        pos = refs["tiny-untied"]["cases"][0]["mask_positions"][0]
        assert np.allclose(mem[pos].numpy(), np.array(refs["tiny-untied"]["cases"][0]["logits_at_masks"][0]), atol=1e-5)

        if args.stats:
            t = refs["tiny"]
            for c in t["cases"]:
                if "attention" not in c:
                    continue
                att = np.array(c["attention"])  # L,H,Q,K
                ent = -(att * np.log(att + 1e-30)).sum(-1)
                print("attn", repr(c["text"][:30]), "max p %.3f" % att.max(),
                      "mean entropy %.3f (uniform %.3f)" % (ent.mean(), np.log(att.shape[-1])), file=sys.stderr)
            print(json.dumps(inventory, indent=1)[:4000], file=sys.stderr)

        # ---- tokenizer references -----------------------------------------------------------
        tiny_decode_ids = list(range(vocab_size))
        write_json(ref_dir / "tokenize-tiny.json", tokenize_reference(
            tok, "tiny", {"vocab.json": sha256_file(vocab_json), "merges.txt": sha256_file(merges_txt)},
            tiny_decode_ids))

    real_dir = Path(args.tokenizer)
    if (real_dir / "vocab.json").exists() and (real_dir / "merges.txt").exists():
        real = load_roberta_tokenizer(real_dir)
        assert real("Paris is the <mask> of France.")["input_ids"] == [0, 32826, 16, 5, 50264, 9, 1470, 4, 2]
        rng = random.Random(DECODE_SAMPLE_SEED)
        n = len(real)
        ids = set(range(0, 300)) | set(range(n - 20, n)) | set(rng.sample(range(n), 400))
        for t in ["Ġ", "Ċ", "ĉ", "č", "ĠĠ", "ĊĊ", "Âł", "ð", "Ł", "ãģ", "Ã©"]:
            i = real.convert_tokens_to_ids(t)
            if i is not None and i != real.unk_token_id:
                ids.add(i)
        write_json(ref_dir / "tokenize-real.json", tokenize_reference(
            real, "roberta-base (vocab.json + merges.txt from --tokenizer; files not in the repository)",
            {"vocab.json": sha256_file(real_dir / "vocab.json"), "merges.txt": sha256_file(real_dir / "merges.txt")},
            sorted(ids)))
    else:
        print(f"note: {real_dir} has no vocab.json/merges.txt; tokenize-real.json not regenerated", file=sys.stderr)

    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"fixtures: {total / 1e6:.2f} MB under {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
