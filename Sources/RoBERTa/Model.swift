import CKernels
import CMapGuard
import Foundation
import Tokenizer

/// A RoBERTa masked language model loaded from a Hugging Face model directory.
///
/// Immutable after loading, so one instance may serve several threads; the weights stay memory-mapped.
public final class RobertaModel: @unchecked Sendable {
    /// The directory the model was read from.
    public let directory: URL
    /// The decoded config.json.
    public let config: RobertaConfig
    /// The byte-level BPE tokenizer read from vocab.json and merges.txt.
    public let tokenizer: BPETokenizer
    let weights: RobertaWeights
    let compute: Compute

    /// Where the weights came from and how they reached float32.
    public var weightsSummary: WeightsSummary { weights.summary }
    /// What became of the panel cache file: read at load, being written by the pass that packs, written, off, failed.
    public var panelCacheState: PanelCacheState { weights.panelCacheState }

    /// Waits until the panel cache file is written, when a thread writes it (after the pass that packed the last
    /// matrix); a command that is about to exit calls it, or the file is lost with the process.
    public func waitForPanelCache() { weights.panelCache?.waitUntilWritten() }

    /// Waits for every panel cache file this process is writing (for any model): the command line calls it before
    /// it exits.
    public static func waitForPanelCaches() { PanelCache.waitForWriters() }
    /// Threads each weight product is split over.
    public var threads: Int { compute.threads }
    /// "avx512" or "avx2" (the widest vectors the hand-written kernels use here), "openblas" without them.
    public var kernelName: String { compute.useKernels ? (ms_panels_width() == 512 ? "avx512" : "avx2") : "openblas" }

    init(directory: URL, config: RobertaConfig, tokenizer: BPETokenizer, weights: RobertaWeights, compute: Compute) {
        self.directory = directory
        self.config = config
        self.tokenizer = tokenizer
        self.weights = weights
        self.compute = compute
    }

    /// How the encoder's weight matrices are kept in memory for the products.
    public enum Precision: String, Sendable, CaseIterable {
        /// As the checkpoint stores them: float32 stays float32; bfloat16 and float16 stay 16-bit, widened
        /// exactly by the kernels as they load them, so the answers are those of the float32 widening (what
        /// transformers computes after loading the checkpoint as float32) with half the bytes to stream.
        case auto
        /// Every weight widened to float32 at load (the same answers, twice the memory for a 16-bit checkpoint).
        case float32 = "f32"
        /// Opt-in: the weight matrices (Q/K/V, attention output, feed-forward, LM dense, word embeddings = tied
        /// decoder) rounded once at load to bfloat16 (nearest even), from float32 or from float16; a bfloat16
        /// checkpoint's stay as they are. Half the bytes to stream and half the memory, but the scores move (on the
        /// random real-shape checkpoints, whose distributions are peaked, by up to 1.5e-2 / 6e-2 for the
        /// distilroberta-base / roberta-base shapes, about 10x float16's; Scripts/compare_precision.py). Biases and
        /// LayerNorm stay float32. Needs the AVX2 kernels (only they read 16-bit matrices).
        case bf16
        /// Opt-in: as `bf16`, rounded to IEEE float16 (F16C, nearest even); 3 more mantissa bits than bfloat16
        /// (scores move less) but a range of +-65504: a weight beyond it refuses to load. A bfloat16 checkpoint's
        /// matrices are converted (exact unless a value lies outside float16's normal range).
        case f16

        /// The 16-bit format the matrices are rounded to, or nil (`auto`, `f32`).
        var sixteenBit: SixteenBit? {
            switch self {
            case .bf16: .bf16
            case .f16: .f16
            case .auto, .float32: nil
            }
        }
    }

    /// Which code runs the weight products.
    public enum Kernels: String, Sendable {
        /// The AVX2/FMA kernels when the CPU has them, else OpenBLAS.
        case auto
        /// OpenBLAS sgemm/sgemv only.
        case openblas
    }

    /// Reads config.json, the tokenizer files and the safetensors weights of `directory`.
    ///
    /// - Parameters:
    ///   - threads: threads per weight product (default: one per core).
    ///   - kernels: `.auto` (default; the environment variable MASKSCOPE_KERNELS=openblas forces OpenBLAS).
    ///   - precision: how the encoder's weight matrices are kept; without the AVX2 kernels `auto` is float32, and
    ///     `bf16` / `f16` throw `ModelLoadError.precisionNeedsKernels` (OpenBLAS reads float32 only).
    ///   - panelCache: where the packed weight panels are kept between processes (`PanelCache`); by default
    ///     MASKSCOPE_PANEL_CACHE, else ~/.cache/maskscope/panels, for models of 64 MiB of matrices or more.
    public static func load(directory: URL, threads: Int? = nil, kernels: Kernels = .auto,
                            precision: Precision = .auto, panelCache: PanelCacheSettings = .fromEnvironment()) throws -> RobertaModel {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory) else {
            throw ModelLoadError.missingFile(directory.path)
        }
        guard isDirectory.boolValue else { throw ModelLoadError.notADirectory(directory.path) }
        let config = try RobertaConfig.load(from: directory.appendingPathComponent("config.json"))
        let tokenizer = try loadTokenizer(directory: directory)
        let forced = ProcessInfo.processInfo.environment["MASKSCOPE_KERNELS"].flatMap(Kernels.init(rawValue:))
        let useKernels = (forced ?? kernels) == .auto && Compute.kernelsAvailable
        if precision.sixteenBit != nil, !useKernels {
            throw ModelLoadError.precisionNeedsKernels(precision: precision.rawValue,
                                                       reason: !Compute.kernelsAvailable ? "this CPU lacks AVX2/FMA/F16C"
                                                           : forced == .openblas ? "MASKSCOPE_KERNELS=openblas is set" : "OpenBLAS was asked for")
        }
        let threadCount = threads ?? ProcessInfo.processInfo.activeProcessorCount
        let weights = try RobertaWeights(directory: directory, config: config, precision: precision, sixteenBit: useKernels,
                                         threads: threadCount, panelCache: panelCache)
        let compute = Compute(threads: threadCount, useKernels: useKernels)
        // With our kernels OpenBLAS only runs the small per-head attention products: one thread, so that no
        // spinning OpenBLAS worker steals the core our own threads need.
        setBLASThreads(useKernels ? 1 : compute.threads)
        return RobertaModel(directory: directory, config: config, tokenizer: tokenizer, weights: weights, compute: compute)
    }

    /// `BPETokenizer.load(directory:)`, after refusing tokenizer files that are not regular files: the tokenizer
    /// reads them with Foundation, which blocks on a FIFO and calls a directory a permission problem.
    public static func loadTokenizer(directory: URL) throws -> BPETokenizer {
        for name in tokenizerFiles {
            let path = directory.appendingPathComponent(name).path
            if FileManager.default.fileExists(atPath: path) { try requireRegularFile(path) }
        }
        return try BPETokenizer.load(directory: directory)
    }

    /// The files `BPETokenizer.load` reads when they are present.
    static let tokenizerFiles = ["vocab.json", "merges.txt", "tokenizer.json", "special_tokens_map.json", "tokenizer_config.json"]

    /// Runs the encoder over token ids (with <s> and </s> already in place).
    public func encode(ids: [Int], capture: CaptureOptions = .none) throws -> EncoderOutput {
        try check(ids: ids)
        return try guardedPass { try weights.encode(ids: ids, capture: capture, compute: compute) }
    }

    /// A forward pass over the mapped weights that gives no answer when a weight file changed under it: the map
    /// guard (CMapGuard) turns a read past a truncated file's end into zeros, and the files are checked again
    /// after the pass, so `fileChanged` is thrown instead of what was computed from them.
    func guardedPass<T>(_ body: () throws -> T) throws -> T {
        // Again before every pass: a SIGBUS handler installed since (the workbench's) must come after the guard's.
        _ = ms_mapguard_install()
        try weights.checkFilesUnchanged()
        let result = try compute.forwardPass(body)
        try weights.checkFilesUnchanged()
        // The pass that packed the last matrix completes the panel cache file.
        weights.panelCache?.finishIfComplete()
        return result
    }

    /// Masked-LM logits [rows.count][vocab] at the given token positions of an encoder output.
    public func logits(_ output: EncoderOutput, at rows: [Int]) throws -> [[Float]] {
        let flat = try guardedPass { weights.lmLogits(hidden: output.lastHiddenState, rows: rows, compute: compute) }
        let vocab = config.vocabSize
        return rows.indices.map { Array(flat[($0 * vocab)..<(($0 + 1) * vocab)]) }
    }

    /// Checks the ids (that the weights are unchanged is `guardedPass`'s, once a pass, not once a sequence).
    func check(ids: [Int]) throws {
        guard !ids.isEmpty else { throw InferenceError.emptyInput }
        guard ids.count <= config.maxTokens else {
            throw InferenceError.inputTooLong(tokens: ids.count, maximum: config.maxTokens)
        }
        if let bad = ids.first(where: { $0 < 0 || $0 >= config.vocabSize }) {
            throw InferenceError.tokenOutOfRange(id: bad, vocabSize: config.vocabSize)
        }
    }
}
