#!/usr/bin/env python3
"""Make a random-weight RobertaForMaskedLM checkpoint of a real RoBERTa shape, with the real tokenizer.

    /root/msvenv/bin/python Scripts/make_checkpoint.py --shape roberta-base --out /tmp/rb-random \\
        [--dtype f32|f16|bf16] [--seed N] [--std S] [--nontrivial] [--tokenizer ../shared/roberta-tokenizer]

The directory gets what a hub checkpoint has: config.json, model.safetensors, tokenizer.json,
tokenizer_config.json, vocab.json, merges.txt.  It is meant for /tmp: the real vocab.json/merges.txt
are copied into it, so it must never be inside the repository (the script refuses).

Weights: transformers' own init (normal(0, initializer_range) for Linear/Embedding weights, zero
biases, LayerNorm 1/0, zero lm_head.bias) with initializer_range = --std (default 0.02, as HF).
--nontrivial additionally makes every bias and LayerNorm parameter non-trivial (biases ~ N(0, 0.05),
LayerNorm weights ~ 1 + N(0, 0.1)) like the tiny fixtures.  With std 0.02 a full-vocab softmax is
almost flat (top scores ~1e-4 and only ~1e-7 apart); use e.g. --std 0.1 --nontrivial when the
checkpoint is for comparing predictions (Scripts/compare_predict.py).
"""

import os

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import argparse
import shutil
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
DEFAULT_TOKENIZER_DIR = REPO.parent / "shared" / "roberta-tokenizer"

SHAPES = {
    # name: (layers, hidden, heads, intermediate)
    "tiny": (2, 32, 4, 64),
    "distilroberta-base": (6, 768, 12, 3072),
    "roberta-base": (12, 768, 12, 3072),
    "roberta-large": (24, 1024, 16, 4096),
}
DTYPES = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", required=True, choices=sorted(SHAPES))
    ap.add_argument("--out", required=True, help="output directory (outside the repository, e.g. under /tmp)")
    ap.add_argument("--dtype", default="f32", choices=sorted(DTYPES))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--std", type=float, default=0.02, help="std of the normal init of weights (HF default 0.02)")
    ap.add_argument("--nontrivial", action="store_true",
                    help="also randomise biases (N(0,0.05)) and LayerNorm weights (1+N(0,0.1))")
    ap.add_argument("--tokenizer", default=str(DEFAULT_TOKENIZER_DIR),
                    help="directory with the real vocab.json + merges.txt")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--force", action="store_true", help="replace --out if it exists")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    out = Path(args.out).resolve()
    if out == REPO or REPO in out.parents:
        sys.exit(f"refusing to write into the repository ({out}): the real tokenizer files must not go there")
    tok_dir = Path(args.tokenizer)
    for fn in ("vocab.json", "merges.txt"):
        if not (tok_dir / fn).is_file():
            sys.exit(f"{tok_dir / fn} not found (pass --tokenizer DIR)")
    if out.exists():
        if not args.force:
            sys.exit(f"{out} exists (use --force to replace it)")
        shutil.rmtree(out)

    from transformers import AddedToken, RobertaConfig, RobertaForMaskedLM, RobertaTokenizerFast
    import transformers

    transformers.utils.logging.disable_progress_bar()

    layers, hidden, heads, intermediate = SHAPES[args.shape]
    config = RobertaConfig(
        vocab_size=50265,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=intermediate,
        hidden_act="gelu",
        max_position_embeddings=514,
        type_vocab_size=1,
        layer_norm_eps=1e-5,
        initializer_range=args.std,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
    )
    t0 = time.time()
    torch.manual_seed(args.seed)
    model = RobertaForMaskedLM(config)
    if args.nontrivial:
        g = torch.Generator().manual_seed(args.seed + 1)
        with torch.no_grad():
            for name, p in model.named_parameters():
                lname = name.lower()
                if ("layernorm" in lname or "layer_norm" in lname) and name.endswith(".weight"):
                    p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
                elif name.endswith("bias"):
                    p.copy_(0.05 * torch.randn(p.shape, generator=g))
    model.eval()
    model.to(DTYPES[args.dtype])
    out.mkdir(parents=True)
    model.save_pretrained(str(out))

    # <mask> with lstrip=True as in the hub's tokenizer.json (transformers 5.x does not add it by itself)
    tok = RobertaTokenizerFast(
        vocab=str(tok_dir / "vocab.json"),
        merges=str(tok_dir / "merges.txt"),
        mask_token=AddedToken("<mask>", lstrip=True, rstrip=False, single_word=False, normalized=False, special=True),
        model_max_length=512,
    )
    ids = tok("Paris is the <mask> of France.")["input_ids"]
    assert ids == [0, 32826, 16, 5, 50264, 9, 1470, 4, 2], ids
    tok.save_pretrained(str(out))
    shutil.copyfile(tok_dir / "vocab.json", out / "vocab.json")
    shutil.copyfile(tok_dir / "merges.txt", out / "merges.txt")

    n_params = sum(p.numel() for p in model.parameters())
    size = sum(f.stat().st_size for f in out.iterdir())
    print(f"{args.shape} ({layers} layers, hidden {hidden}, {heads} heads, intermediate {intermediate}), "
          f"{n_params / 1e6:.1f}M parameters, {args.dtype}, seed {args.seed}, std {args.std}"
          f"{', nontrivial' if args.nontrivial else ''}: {out} ({size / 1e6:.1f} MB, {time.time() - t0:.1f}s)")


if __name__ == "__main__":
    main()
