#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (Fuzz/corpus/TARGET/) and dictionaries (Fuzz/dictionaries/), from the
repository's own fixtures, deterministically: python3 Fuzz/make_corpus.py. Standard library only (no torch:
the pytorch_model.bin seeds are written as torch.save writes them, pickle protocol 2 and a stored zip with
64-byte aligned entries, with stand-ins for torch's globals).

Every seed is small (the largest is the fixture's 8 KB data.pkl): libFuzzer mutates small inputs faster, and
the committed corpus stays well under 100 KB.
"""
import collections
import io
import json
import pickle
import struct
import sys
import types
import zipfile
from pathlib import Path

root = Path(__file__).resolve().parent.parent
corpus = root / "Fuzz/corpus"
dictionaries = root / "Fuzz/dictionaries"
tiny = root / "Tests/Fixtures/models/tiny"


def write(target, name, data):
    folder = corpus / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))


# --- safetensors ---------------------------------------------------------------------------------------------

def safetensors(tensors, metadata=None, pad_to=8):
    """tensors: [(name, dtype, shape, bytes)] -> a safetensors file, laid out as the safetensors library does."""
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % pad_to)
    return struct.pack("<Q", len(text)) + text + data


def floats(n, fmt="<f", start=0.0):
    return b"".join(struct.pack(fmt, start + i * 0.25) for i in range(n))


def halves(n):
    return b"".join(struct.pack("<e", i * 0.5) for i in range(n))


def bf16(n):
    return b"".join(struct.pack("<f", i * 0.5)[2:] for i in range(n))


# The tiny fixture's own tensor names, at sizes of a few elements.
with open(tiny / "model.safetensors", "rb") as f:
    length = struct.unpack("<Q", f.read(8))[0]
    tiny_header = json.loads(f.read(length))
names = [k for k in tiny_header if k != "__metadata__"][:12]
write("FuzzSafetensors", "f32.safetensors",
      safetensors([(n, "F32", [2, 2] if n.endswith("weight") else [2], floats(4 if n.endswith("weight") else 2))
                   for n in names], metadata={"format": "pt"}))
write("FuzzSafetensors", "f16.safetensors",
      safetensors([("roberta.embeddings.word_embeddings.weight", "F16", [3, 2], halves(6)),
                   ("lm_head.bias", "F16", [3], halves(3))], metadata={"format": "pt"}))
write("FuzzSafetensors", "bf16.safetensors",
      safetensors([("roberta.embeddings.word_embeddings.weight", "BF16", [3, 2], bf16(6)),
                   ("roberta.embeddings.LayerNorm.weight", "BF16", [2], bf16(2))]))
write("FuzzSafetensors", "mixed.safetensors",
      safetensors([("roberta.embeddings.position_ids", "I64", [1, 4], struct.pack("<4q", 0, 1, 2, 3)),
                   ("empty", "F32", [0, 4], b""), ("scalar", "F64", [], struct.pack("<d", 1.5)),
                   ("flags", "BOOL", [3], b"\x01\x00\x01"), ("f8", "F8_E4M3", [2], b"\x38\x40")],
                  metadata={"format": "pt", "note": "caf\u00e9 \U0001F600"}))
# The fixture's real header, with the data cut to nothing: the reader must name the truncation.
write("FuzzSafetensors", "tiny-header-truncated.safetensors",
      struct.pack("<Q", length) + json.dumps(tiny_header, separators=(",", ":")).encode().ljust(length, b" "))

# --- pickles (data.pkl) as torch.save writes them ------------------------------------------------------------

torch = types.ModuleType("torch")
utils = types.ModuleType("torch._utils")
torch._utils = utils
sys.modules["torch"], sys.modules["torch._utils"] = torch, utils
STORAGE_SIZES = {"FloatStorage": 4, "HalfStorage": 2, "BFloat16Storage": 2, "LongStorage": 8, "DoubleStorage": 8}
for storage_name in STORAGE_SIZES:
    setattr(torch, storage_name, type(storage_name, (), {"__module__": "torch"}))


def _stand_in(name):
    def function(*args):
        raise RuntimeError("a stand-in, never called")
    function.__module__, function.__name__, function.__qualname__ = "torch._utils", name, name
    setattr(utils, name, function)
    return function


rebuild_tensor_v2 = _stand_in("_rebuild_tensor_v2")
rebuild_parameter = _stand_in("_rebuild_parameter")


class Storage:
    def __init__(self, kind, key, raw):
        self.kind, self.key, self.raw = kind, key, raw
        self.count = len(raw) // STORAGE_SIZES[kind]


class Tensor:
    def __init__(self, storage, offset, shape, parameter=False):
        self.storage, self.offset, self.shape, self.parameter = storage, offset, shape, parameter

    def __reduce_ex__(self, protocol):
        stride, step = [], 1
        for size in reversed(self.shape):
            stride.insert(0, step)
            step *= size
        plain = Tensor(self.storage, self.offset, self.shape)
        if self.parameter:
            return (rebuild_parameter, (plain, True, collections.OrderedDict()))
        return (rebuild_tensor_v2, (self.storage, self.offset, tuple(self.shape), tuple(stride), False,
                                    collections.OrderedDict()))


class TorchPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", getattr(torch, obj.kind), obj.key, "cpu", obj.count)
        return None


def state_pickle(tensors, protocol=2):
    state = collections.OrderedDict(tensors)
    state._metadata = collections.OrderedDict([("", {"version": 1}), ("lm_head", {"version": 1})])
    out = io.BytesIO()
    TorchPickler(out, protocol=protocol).dump(state)
    return out.getvalue()


def storages_of(tensors):
    found = {}
    for tensor in tensors.values():
        found[tensor.storage.key] = tensor.storage
    return found


words = Storage("FloatStorage", "0", floats(6))
bias = Storage("FloatStorage", "1", floats(5, start=100.0))
f32_state = {
    "roberta.embeddings.word_embeddings.weight": Tensor(words, 0, [3, 2]),
    "lm_head.decoder.weight": Tensor(words, 0, [3, 2]),           # tied: the same storage
    "lm_head.bias": Tensor(bias, 1, [3]),                          # a view at an offset, as the fixture has
    "roberta.embeddings.position_ids": Tensor(Storage("LongStorage", "2", struct.pack("<4q", 0, 1, 2, 3)), 0, [1, 4]),
    "roberta.embeddings.LayerNorm.weight": Tensor(Storage("FloatStorage", "3", floats(2)), 0, [2], parameter=True),
}
half_state = {
    "roberta.embeddings.word_embeddings.weight": Tensor(Storage("HalfStorage", "0", halves(6)), 0, [3, 2]),
    "lm_head.bias": Tensor(Storage("BFloat16Storage", "1", bf16(3)), 0, [3]),
    "lm_head.dense.weight": Tensor(Storage("DoubleStorage", "2", floats(4, "<d")), 0, [2, 2]),
}
pickles = {
    "f32": state_pickle(f32_state),
    "f16": state_pickle(half_state),
    "f32-protocol4": state_pickle(f32_state, protocol=4),   # FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL
}
for name, data in pickles.items():
    write("FuzzUnpickler", name + ".pkl", data)
with zipfile.ZipFile(root / "Tests/Fixtures/models/tiny-bin/pytorch_model.bin") as fixture:
    write("FuzzUnpickler", "tiny-bin-data.pkl", fixture.read("pytorch_model/data.pkl"))

# --- pytorch_model.bin: a stored zip with 64-byte aligned entries --------------------------------------------


def torch_zip(prefix, entries, zip64=False):
    """entries: [(name, bytes)] -> a zip as torch.save writes it (stored, data aligned to 64 bytes by an extra
    field in the local header); with zip64, sizes and offsets saturated and given in zip64 extra fields and a
    zip64 end record, as a writer does past 4 GB."""
    out, central = bytearray(), bytearray()
    for name, data in entries:
        name = (prefix + name).encode()
        crc = zipfile.crc32(data) & 0xFFFFFFFF
        offset = len(out)
        pad = -(offset + 30 + len(name) + 4) % 64
        local_extra = struct.pack("<HH", 0x4246, pad) + b"Z" * pad     # "FB" padding, as torch's writer uses
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0, crc, len(data), len(data), len(name), len(local_extra))
        out += name + local_extra + data
        if zip64:
            extra = struct.pack("<HHQQQ", 0x0001, 24, len(data), len(data), offset)
            sizes = (0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF)
        else:
            extra, sizes = b"", (len(data), len(data), offset)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45 if zip64 else 20, 45 if zip64 else 20, 0, 0, 0, 0,
                               crc, sizes[0], sizes[1], len(name), len(extra), 0, 0, 0, 0, sizes[2])
        central += name + extra
    directory_offset = len(out)
    out += central
    count = len(entries)
    if zip64:
        record = len(out)
        out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count, count, len(central), directory_offset)
        out += struct.pack("<IIQI", 0x07064B50, 0, record, 1)
        out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    else:
        out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, len(central), directory_offset, 0)
    return bytes(out)


def checkpoint(prefix, state, pickle_bytes, zip64=False):
    entries = [("data.pkl", pickle_bytes), ("byteorder", b"little")]
    entries += [("data/" + key, storage.raw) for key, storage in sorted(storages_of(state).items())]
    entries += [("version", b"3\n"), (".data/serialization_id", b"0123456789")]
    return torch_zip(prefix, entries, zip64)


write("FuzzZip", "f32.bin", checkpoint("archive/", f32_state, pickles["f32"]))
write("FuzzZip", "f16-pytorch_model-prefix.bin", checkpoint("pytorch_model/", half_state, pickles["f16"]))
write("FuzzZip", "f32-zip64.bin", checkpoint("archive/", f32_state, pickles["f32-protocol4"], zip64=True))
# What Python's zipfile writes (no alignment, a trailing comment), the way a hand-made archive may look.
buffer = io.BytesIO()
with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
    stamp = (1980, 1, 1, 0, 0, 0)   # fixed, so the seed is the same on every run
    archive.writestr(zipfile.ZipInfo("archive/data.pkl", stamp), pickles["f32"])
    for key, storage in sorted(storages_of(f32_state).items()):
        archive.writestr(zipfile.ZipInfo("archive/data/" + key, stamp), storage.raw)
    archive.comment = b"written by Fuzz/make_corpus.py"
write("FuzzZip", "f32-python-zipfile.bin", buffer.getvalue())

# --- config.json -------------------------------------------------------------------------------------------

write("FuzzConfig", "tiny.json", (tiny / "config.json").read_text())
write("FuzzConfig", "minimal.json", json.dumps(
    {"vocab_size": 50265, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
     "intermediate_size": 3072}))
write("FuzzConfig", "roberta-large.json", json.dumps(
    {"architectures": ["RobertaForMaskedLM"], "attention_probs_dropout_prob": 0.1, "bos_token_id": 0,
     "eos_token_id": 2, "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": 1024,
     "initializer_range": 0.02, "intermediate_size": 4096, "layer_norm_eps": 1e-05, "max_position_embeddings": 514,
     "model_type": "roberta", "num_attention_heads": 16, "num_hidden_layers": 24, "pad_token_id": 1,
     "type_vocab_size": 1, "vocab_size": 50265, "position_embedding_type": "absolute", "is_decoder": False,
     "tie_word_embeddings": True}, indent=2))
write("FuzzConfig", "activation.json", json.dumps(
    {"vocab_size": 8, "hidden_size": 4, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 8,
     "hidden_act": "gelu_new", "layer_norm_eps": 1e-12, "max_position_embeddings": 10, "pad_token_id": 0,
     "add_cross_attention": False}))

# --- tokenizer: a mode byte, then text or ids (see FuzzTokenizer.swift) ---------------------------------------

sentences = [
    (0, "Paris is the <mask> of France."),
    (2, "Today is a <mask> day!   It's 2024, isn't it?\n\tcaf\u00e9 na\u00efve \u00fcber \U0001F600 \u4e2d\u6587 <s>x</s>"),
    (4, "The quick brown fox jumps over the lazy dog's back; they're   done <mask>."),
    (6, " <mask><mask> <pad>a<unk>b  \u00a0\u3000 don't 've 'll 're 'd 'm -- 1,234.5e6 ...!!"),
]
for i, (mode, text) in enumerate(sentences):
    write("FuzzTokenizer", f"encode-{i}", bytes([mode]) + text.encode())
write("FuzzTokenizer", "encode-invalid-utf8", b"\x00abc \xff\xfe caf\xc3 \xe2\x82 end")
write("FuzzTokenizer", "decode-int16", b"\x01" + struct.pack("<12h", 0, 100, 200, 999, 3, 4, 2, 1, -1, 1000, 500, 250))
write("FuzzTokenizer", "decode-skip-special", b"\x03" + struct.pack("<6h", 0, 4, 300, 301, 1, 2))
write("FuzzTokenizer", "decode-int64", b"\x05" + struct.pack("<5q", 0, 999, 2**62, -(2**63), 4))

# --- vocab.json --------------------------------------------------------------------------------------------

vocab = json.loads((tiny / "vocab.json").read_text())
head = dict(list(vocab.items())[:60])
write("FuzzVocab", "tiny-head.json", json.dumps(head, ensure_ascii=False))
write("FuzzVocab", "tiny-head-ascii.json", json.dumps(head, indent=1))   # \u0120 escapes, as the hub's files have
write("FuzzVocab", "escapes.json", '\ufeff{"<s>": 0, "a\\"b\\\\c\\/": 1, "\\ud83d\\ude00": 2, "\\b\\f\\n\\r\\t": 3, '
                                   '"caf\u00e9": 4, "\\u0000": 5, "": 6}')
write("FuzzVocab", "empty.json", " { } ")

# --- request JSON (predict) --------------------------------------------------------------------------------

requests = [
    {"inputs": "Paris is the <mask> of France."},
    {"inputs": {"input_string": ["a <mask>", "b <mask>"]}, "parameters": {"top_k": 2, "targets": "x"}},
    {"inputs": ["Paris is the <mask> of France.", "Today is a <mask> day!"],
     "parameters": {"top_k": 5, "targets": ["capital", " city"], "truncation": True, "wait_for_model": True}},
    {"inputs": {"input_string": "one <mask>"}, "parameters": None},
]
for i, request in enumerate(requests):
    write("FuzzRequest", f"request-{i}.json", json.dumps(request))
write("FuzzRequest", "top_k-quoted.json", '{"inputs": "x <mask>", "parameters": {"top_k": "3", "truncation": 1}}')

# --- session JSON (sessions/*.json and the autosave) -------------------------------------------------------

for path in sorted((root / "sessions").glob("*.json")):
    write("FuzzSession", path.name, path.read_text())
write("FuzzSession", "minimal.json", '{"text": "A <mask>."}')
write("FuzzSession", "autosave.json", json.dumps(
    {"version": 1, "models": ["pocket-teacher"], "activeModel": 0, "compare": False, "text": "Paris is the <mask>.",
     "history": ["a", "b"], "topK": 3, "focus": "attention", "selectedMask": 0, "selectedCandidate": 1,
     "selectedToken": 2, "layer": 1, "head": 3, "attentionMode": "overview", "theme": "dark", "notes": "n",
     "autosavedAt": "2025-12-01T15:22:00Z", "sessionPath": "/tmp/s.json", "endedBy": "SIGTERM"}, indent=2))

# --- dictionaries ------------------------------------------------------------------------------------------


def dictionary(name, tokens):
    def quote(token):
        data = token if isinstance(token, bytes) else token.encode()
        return '"' + "".join(chr(b) if 0x20 <= b < 0x7F and b not in (0x22, 0x5C) else f"\\x{b:02x}" for b in data) + '"'
    dictionaries.mkdir(parents=True, exist_ok=True)
    (dictionaries / f"{name}.dict").write_text(
        f"# libFuzzer dictionary for {name}; written by Fuzz/make_corpus.py\n" + "".join(quote(t) + "\n" for t in tokens))


json_tokens = ["{", "}", "[", "]", ":", ",", '"', '""', "true", "false", "null", "0", "-1", "1e308", "-0.0", "1.5",
               "9223372036854775807", "9223372036854775808", "-9223372036854775808", "1e-400", "\\u0000", "\\ud83d",
               "\\ude00", "\\\"", "\\\\", "\\/", "\\n", "\xef\xbb\xbf"]
dictionary("FuzzSafetensors", json_tokens + ['"dtype"', '"shape"', '"data_offsets"', '"__metadata__"', '"format"', '"pt"']
           + [f'"{d}"' for d in ["F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "U16", "U32", "U64", "BOOL",
                                "F8_E5M2", "F8_E4M3"]] + [b"\x00\x00\x00\x00\x00\x00\x00", b"\xff\xff\xff\xff\xff\xff\xff\x7f"])
dictionary("FuzzConfig", json_tokens + [f'"{k}"' for k in [
    "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
    "max_position_embeddings", "type_vocab_size", "layer_norm_eps", "pad_token_id", "hidden_act", "model_type",
    "tie_word_embeddings", "position_embedding_type", "is_decoder", "add_cross_attention", "roberta", "gelu",
    "gelu_new", "relu", "absolute", "relative_key"]] + ["16777216", "65536", "1024", "1e-05"])
dictionary("FuzzRequest", json_tokens + ['"inputs"', '"input_string"', '"parameters"', '"top_k"', '"targets"',
                                         '"truncation"', "<mask>"])
dictionary("FuzzSession", json_tokens + [f'"{k}"' for k in [
    "version", "models", "activeModel", "compare", "text", "history", "topK", "focus", "selectedMask",
    "selectedCandidate", "selectedToken", "layer", "head", "attentionMode", "theme", "notes", "autosavedAt",
    "sessionPath", "endedBy", "editor", "candidates", "tokens", "attention", "mean", "overview"]]
           + ['"2025-12-01T15:22:00Z"', '"1970-01-01T00:00:00+01:00"'])
dictionary("FuzzVocab", json_tokens + ["\\u0120", "\u0120", '": ', ", "])
dictionary("FuzzTokenizer", ["<mask>", "<s>", "</s>", "<pad>", "<unk>", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d",
                             " .", " ?", " !", " ,", " ' ", "n't", "  ", "\t", "\r\n", "\xc2\xa0", "\xe3\x80\x80",
                             "\xf0\x9f\x98\x80", "\xcc\x81", "\xff"])
dictionary("FuzzUnpickler", [b"\x80\x02", b"\x80\x04\x95", b"ccollections\nOrderedDict\n", b"ctorch._utils\n_rebuild_tensor_v2\n",
                             b"ctorch._utils\n_rebuild_parameter\n", b"ctorch\nFloatStorage\n", b"ctorch\nHalfStorage\n",
                             b"ctorch\nLongStorage\n", b"cos\nsystem\n", b"X\x07\x00\x00\x00storage", b"X\x03\x00\x00\x00cpu",
                             b"(", b")", b"t", b"R", b"Q", b"b", b"s", b"u", b"}", b"]", b"a", b"e", b"q\x00", b"h\x00",
                             b"r\x00\x00\x00\x00", b"j\x00\x00\x00\x00", b"\x94", b"\x93", b"\x8c\x07", b"\x85", b"\x86",
                             b"\x87", b"\x88", b"\x89", b"N", b"K\x01", b"M\x00\x01", b"J\xff\xff\xff\xff",
                             b"\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x7f", b"G", b".", b"g0\n", b"p0\n"])
dictionary("FuzzZip", [b"PK\x03\x04", b"PK\x01\x02", b"PK\x05\x06", b"PK\x06\x06", b"PK\x06\x07", b"\xff\xff\xff\xff",
                       b"\xff\xff", b"\x01\x00\x18\x00", b"data.pkl", b"archive/", b"archive/data/", b"byteorder",
                       b"little", b"big", b"ctorch\nFloatStorage\n", b"X\x07\x00\x00\x00storage"])

# FuzzCorpus: the first byte picks the format (0 text lines, 1 JSON Lines with "text", 2 CSV with "text").
write("FuzzCorpus", "lines.txt", b"\x00Paris is the capital of France.\n\nThe sun rises.\r\n")
write("FuzzCorpus", "jsonl.jsonl", b'\x01{"text": "a b", "id": 1}\n{"text": "caf\\u00e9"}\n\n')
write("FuzzCorpus", "csv.csv", b'\x02id,text\r\n1,"Hello, ""world"""\r\n2,"two\nlines"\n3,plain\n')
dictionary("FuzzCorpus", json_tokens + ['"text"', '""', '","', "\r\n", "\ufeff"])

total = sum(p.stat().st_size for p in corpus.rglob("*") if p.is_file())
print(f"wrote {sum(1 for p in corpus.rglob('*') if p.is_file())} seeds ({total} bytes) under {corpus.relative_to(root)}"
      f" and the dictionaries under {dictionaries.relative_to(root)}")
