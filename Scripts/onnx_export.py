"""The ONNX side shared by Scripts/bench_batch.py, Scripts/eval_reference.py --time and Scripts/bench_onnx.py
(export only; it optimises the graph and opens its own session): export a transformers masked-LM (float32)
with torch.onnx.export and open it in ONNX Runtime.

Not a command; imported by those scripts (all run from the repository root as Scripts/NAME.py, so
this file is on sys.path).  onnx and onnxruntime are imported lazily, inside the functions, so that the
importers need them only when they use them.

  export_masked_lm(model, head, input_ids, attention_mask, mask_rows, path)
      head "masked": MaskedLMHead, inputs (input_ids, attention_mask, mask_rows), output logits [masks, vocab]:
          the encoder on the whole padded batch, then the hidden rows at the flat indices `mask_rows`
          (into batch * sequence) are gathered and only those go through the LM head.
      head "all": AllPositions, inputs (input_ids, attention_mask), output logits [batch, sequence, vocab]
          (what model(**batch).logits gives).
      TorchScript exporter (dynamo=False), opset 17, constant folding, dynamic batch / sequence / mask-row
      axes.  Trace on a right-padded batch of at least two inputs of different lengths (attention mask 0
      on the padding) so that the attention-mask path is in the graph.  The file is checked with
      onnx.checker.  Returns the path.
  ort_session(path, threads)
      CPUExecutionProvider, intra_op_num_threads = threads, inter_op 1, sequential execution,
      ORT_ENABLE_ALL graph optimisations.
"""

import warnings
from pathlib import Path

import torch

from ort_session import ort_session  # noqa: F401  (re-exported: bench_batch.py and eval_reference.py import it from here)

OPSET = 17


class MaskedLMHead(torch.nn.Module):
    """encoder on the whole batch, LM head only on the gathered mask rows (flat indices into batch*seq)."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.base = getattr(model, model.base_model_prefix)

    def forward(self, input_ids, attention_mask, mask_rows):
        hidden = self.base(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        rows = hidden.reshape(-1, hidden.shape[-1]).index_select(0, mask_rows)
        return self.model.lm_head(rows)


class AllPositions(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits


def export(module, args, names, dynamic, path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, str(path), dynamo=False, opset_version=OPSET, input_names=names,
                          output_names=["logits"], dynamic_axes=dynamic, do_constant_folding=True)


def export_masked_lm(model, head, input_ids, attention_mask, mask_rows, path):
    """export `model` (a transformers *ForMaskedLM in eval mode) with the LM head `head` ("masked" or "all")."""
    import onnx

    with torch.no_grad():
        if head == "masked":
            export(MaskedLMHead(model).eval(), (input_ids, attention_mask, mask_rows),
                   ["input_ids", "attention_mask", "mask_rows"],
                   {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
                    "mask_rows": {0: "masks"}, "logits": {0: "masks"}}, path)
        elif head == "all":
            export(AllPositions(model).eval(), (input_ids, attention_mask),
                   ["input_ids", "attention_mask"],
                   {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
                    "logits": {0: "batch", 1: "sequence"}}, path)
        else:
            raise ValueError(f"head must be 'masked' or 'all', not {head!r}")
    onnx.checker.check_model(str(path))
    return Path(path)
