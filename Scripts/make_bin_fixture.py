#!/usr/bin/env python3
"""Writes Tests/Fixtures/models/tiny-bin: the tiny fixture model saved as pytorch_model.bin (torch.save of its
state_dict, the zip format), with the same config and tokenizer files, so the engine can be checked to read
old-style checkpoints exactly as it reads model.safetensors.

Run with the reference venv (torch + transformers): python Scripts/make_bin_fixture.py
"""
import shutil
from pathlib import Path

import torch
from transformers import RobertaForMaskedLM

root = Path(__file__).resolve().parent.parent
src = root / "Tests/Fixtures/models/tiny"
dst = root / "Tests/Fixtures/models/tiny-bin"
dst.mkdir(parents=True, exist_ok=True)
for name in ["config.json", "vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json"]:
    shutil.copyfile(src / name, dst / name)

model = RobertaForMaskedLM.from_pretrained(src)
state = model.state_dict()
# An old checkpoint also stores the tied decoder weight (sharing the embedding storage) and position_ids;
# keep a view with a storage offset too, so the reader's offset handling is exercised.
state["roberta.embeddings.position_ids"] = torch.arange(514).unsqueeze(0)
state["lm_head.decoder.weight"] = model.roberta.embeddings.word_embeddings.weight
# lm_head.bias as a view 7 elements into a larger storage: torch.save keeps the whole storage and an offset.
padded = torch.cat([torch.full((7,), 123.0), state["lm_head.bias"], torch.full((5,), -1.0)])
state["lm_head.bias"] = padded[7:7 + state["lm_head.bias"].numel()]
assert state["lm_head.bias"].storage_offset() == 7
torch.save(state, dst / "pytorch_model.bin")

# The same tensors in half precision, to exercise HalfStorage (the engine widens it to float32).
half = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
from safetensors.torch import load_file
reference = load_file(root / "Tests/Fixtures/models/tiny-f16/model.safetensors")
assert all(torch.equal(reference[k], half[k]) for k in reference), "tiny-f16 is not the tiny model in half precision"
(dst.parent / "tiny-bin-f16").mkdir(exist_ok=True)
for name in ["config.json", "vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json"]:
    shutil.copyfile(src / name, dst.parent / "tiny-bin-f16" / name)
torch.save(half, dst.parent / "tiny-bin-f16" / "pytorch_model.bin")
print("wrote", dst, "and", dst.parent / "tiny-bin-f16")
