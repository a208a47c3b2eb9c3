"""The ONNX Runtime session settings every comparison uses (bench_batch.py, eval_reference.py, bench_onnx.py): the
given intra-op threads, one inter-op thread, sequential execution, every graph optimisation, CPU only. A module of
its own, without torch, so that bench_onnx.py's timed process never loads torch."""


def ort_session(path, threads):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
