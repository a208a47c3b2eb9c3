import CKernels
import Foundation

/// A float32 view of one checkpoint tensor: either straight into the memory map, or a converted copy.
struct FloatTensor: @unchecked Sendable {
    let name: String
    let shape: [Int]
    let pointer: UnsafePointer<Float>
}

/// An nn.Linear weight [out, in] as the kernels read it: float32, or bfloat16/float16 bits that the kernels
/// widen to float32 as they load them (exactly), so 16-bit weights stream half the bytes.
struct LinearWeight: @unchecked Sendable {
    enum Storage: String {
        case f32 = "F32", bf16 = "BF16", f16 = "F16"

        /// CKernels' name for it (MS_F32, MS_BF16, MS_F16).
        var kernelType: Int32 {
            switch self {
            case .f32: Int32(MS_F32)
            case .bf16: Int32(MS_BF16)
            case .f16: Int32(MS_F16)
            }
        }
    }
    let name: String
    let shape: [Int]
    /// The row-major values. Not to be read when `panels?.sourceFreed` (a copy packed at load and freed): `widenRow`
    /// then reads the panels.
    let raw: UnsafeRawPointer
    let storage: Storage
    /// Multiplied through panels (CKernels panels.c) when set (every matrix, where the kernels run).
    let panels: PanelMatrix?

    init(name: String, shape: [Int], raw: UnsafeRawPointer, storage: Storage, panels: PanelMatrix? = nil) {
        self.name = name
        self.shape = shape
        self.raw = raw
        self.storage = storage
        self.panels = panels
    }

    /// The same matrix, multiplied through panels.
    func withPanels(releaseSource: Bool) -> LinearWeight {
        LinearWeight(name: name, shape: shape, raw: raw, storage: storage,
                     panels: PanelMatrix(self, releaseSource: releaseSource))
    }

    /// A float32 tensor used as a weight matrix.
    init(_ tensor: FloatTensor) {
        self.init(name: tensor.name, shape: tensor.shape, raw: UnsafeRawPointer(tensor.pointer), storage: .f32)
    }

    /// Row `r` (of `width` values) as float32: copied, or widened exactly from 16 bits.
    func widenRow(_ r: Int, width: Int, into out: UnsafeMutablePointer<Float>) {
        // Once packed, from the panels (the same values): a row read from the map would fault its pages in again
        // (whole 2 MB folios on this machine's page cache: +23 MB of distilroberta-base's embeddings for one
        // sentence), next to the packed copy.
        if let panels, panels.sourceFreed || panels.isPacked {
            ms_matrix_widen_row(panels.pointer, Int32(r), out)
            return
        }
        switch storage {
        case .f32:
            out.update(from: raw.assumingMemoryBound(to: Float.self) + r * width, count: width)
        case .bf16, .f16:
            convertToFloat(UnsafeRawBufferPointer(start: raw + r * width * 2, count: width * 2),
                           dtype: storage == .bf16 ? .bf16 : .f16, count: width, into: out)
        }
    }

    /// The float32 values; only float32 weights have them (16-bit ones exist only where the kernels run).
    var floats: UnsafePointer<Float> {
        precondition(storage == .f32, "\(name) is kept as \(storage.rawValue); only the kernels read it")
        return raw.assumingMemoryBound(to: Float.self)
    }
}

/// A weight matrix as the panel kernels read it (CKernels `ms_matrix`): packed into panels of 32 outputs by the
/// first forward pass after the first answer (or at load, for a 16-bit copy), read through per-thread panels
/// until then, with the same bits either way.
final class PanelMatrix: @unchecked Sendable {
    let pointer: OpaquePointer
    /// The row-major source was freed once packed (ms_matrix_pack_now on a copy made at load).
    private(set) var sourceFreed = false

    init?(_ weight: LinearWeight, releaseSource: Bool) {
        guard weight.shape.count == 2, let out = Int32(exactly: weight.shape[0]), let k = Int32(exactly: weight.shape[1]),
              out > 0, k > 0 else { return nil }
        guard let m = ms_matrix_create(weight.raw, weight.storage.kernelType, k, out, releaseSource ? 1 : 0) else { return nil }
        pointer = m
    }

    /// Packs now, on `threads` threads; true when packed (the source is then never read again).
    func packNow(threads: Int = 1) -> Bool {
        guard threads > 1 else { return ms_matrix_pack_now(pointer) == 0 }
        guard ms_matrix_begin_packing(pointer) != 0 else { return isPacked }
        let panels = Int(ms_matrix_panel_count(pointer))
        let share = (panels + threads - 1) / threads
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            ms_matrix_pack_panels(self.pointer, Int32(min(t * share, panels)), Int32(min((t + 1) * share, panels)))
        }
        ms_matrix_finish_packing(pointer)
        return true
    }

    /// Records that the source copy was freed after `packNow`.
    func markSourceFreed() { sourceFreed = true }

    var isPacked: Bool { ms_matrix_is_packed(pointer) != 0 }
    var packedBytes: Int { Int(ms_matrix_packed_bytes(pointer)) }

    deinit { ms_matrix_destroy(pointer) }
}

/// The weights of one encoder layer, named after their checkpoint tensors.
struct LayerWeights: Sendable {
    let query: LinearWeight, queryBias: FloatTensor, key: LinearWeight, keyBias: FloatTensor
    let value: LinearWeight, valueBias: FloatTensor
    let attentionOutput: LinearWeight, attentionOutputBias, attentionNormWeight, attentionNormBias: FloatTensor
    let intermediate: LinearWeight, intermediateBias: FloatTensor
    let output: LinearWeight, outputBias, outputNormWeight, outputNormBias: FloatTensor
}

/// How the checkpoint's bytes reached float32.
public struct WeightsSummary: Sendable, Equatable {
    /// Checkpoint files read (one, or the shards of an index).
    public var files: [String]
    /// Tensor dtypes found among the tensors used, e.g. ["F32"].
    public var dtypes: [String]
    /// Bytes used in place from the memory map.
    public var mappedBytes: Int
    /// Bytes converted or copied (F16/BF16 to F32, or a misaligned tensor).
    public var copiedBytes: Int
    /// How the encoder's weight matrices are kept for the products: "F32", "BF16" or "F16".
    public var matrixDType: String
    /// The checkpoint dtypes of the matrices that were rounded to `matrixDType` at load (`--precision bf16|f16`),
    /// e.g. ["F32"]; empty when every matrix is used as stored (or widened exactly).
    public var roundedFrom: [String] = []
    /// Tensors present in the file that RobertaForMaskedLM does not use (pooler, position_ids, ...): ignored on purpose.
    public var ignoredTensors: [String]
}

/// Every tensor of a RobertaForMaskedLM checkpoint, by its verbatim Hugging Face name, as float32.
final class RobertaWeights: @unchecked Sendable {
    let config: RobertaConfig
    /// [vocab, hidden]: a matrix too, as the tied decoder of the LM head.
    let wordEmbeddings: LinearWeight
    let positionEmbeddings, tokenTypeEmbeddings, embeddingNormWeight, embeddingNormBias: FloatTensor
    let layers: [LayerWeights]
    let lmDense, decoder: LinearWeight
    let lmDenseBias, lmNormWeight, lmNormBias, decoderBias: FloatTensor
    let summary: WeightsSummary

    private let files: [SafetensorsFile]
    private let pytorch: PyTorchCheckpoint?
    private var owned: [UnsafeMutableRawPointer] = []
    /// The checkpoint tensors the model uses, in the order it first uses them (for `firstNonFiniteWeight`).
    private let usedRecords: [TensorRecord]
    private let scanLock = NSLock()
    private var scanned: NonFiniteWeight?? = nil
    /// The panel cache file the matrices were read from or pack into (nil: not used, `panelCacheState` says why).
    let panelCache: PanelCache?
    private let panelCacheOff: PanelCacheState

    deinit { for p in owned { p.deallocate() } }

    /// Opens the checkpoint `CheckpointFiles.choose(in:)` picks (model.safetensors, else the shards listed in
    /// model.safetensors.index.json, else pytorch_model.bin) and checks every tensor.
    /// - Parameters:
    ///   - precision: how the encoder's weight matrices are kept (see `Precision`).
    ///   - sixteenBit: whether 16-bit matrices may be kept (only the AVX2 kernels read them); when false every
    ///     tensor is widened to float32, whatever `precision` says (`RobertaModel.load` refuses bf16/f16 then).
    ///     With it, `precision` bf16/f16 rounds every matrix not already in that format once, here, into an
    ///     owned 16-bit buffer, and gives the map's float32 pages of it back (`MappedFile.releasePages`).
    ///   - threads: threads that may share the rounding of large matrices at load.
    ///   - panelCache: where the packed panels are kept between processes (`PanelCache`; with the kernels only).
    init(directory: URL, config: RobertaConfig, precision: RobertaModel.Precision = .auto, sixteenBit: Bool = false,
         threads: Int = 1, panelCache settings: PanelCacheSettings = .off) throws {
        self.config = config
        var files: [SafetensorsFile] = []
        var pytorch: PyTorchCheckpoint?
        var table: [String: TensorRecord] = [:]
        switch try CheckpointFiles.choose(in: directory) {
        case .safetensors(let single):
            let file = try SafetensorsFile(path: single.path)
            files = [file]
            table = file.tensors
        case .shardedSafetensors(_, let shards):
            for shard in shards {
                let file = try SafetensorsFile(path: shard.path)
                files.append(file)
                for (name, record) in file.tensors { table[name] = record }
            }
        case .pytorch(let bin):
            // Older caches hold only pytorch_model.bin; its tensors are mapped in place, as safetensors ones are.
            let checkpoint = try PyTorchCheckpoint(path: bin.path)
            pytorch = checkpoint
            table = checkpoint.tensors
        }
        self.files = files
        self.pytorch = pytorch
        let fileNames = files.map { $0.mapped.path } + (pytorch.map { [$0.mapped.path] } ?? [])
        let h = config.hiddenSize, v = config.vocabSize, inner = config.intermediateSize

        /// How a 16-bit matrix of the checkpoint is kept as it is (when `precision` and `sixteenBit` allow), or nil.
        func kept(_ dtype: DType) -> LinearWeight.Storage? {
            switch (dtype, precision) {
            case (.bf16, .auto) where sixteenBit, (.bf16, .bf16) where sixteenBit: .bf16
            case (.f16, .auto) where sixteenBit, (.f16, .f16) where sixteenBit: .f16
            default: nil
            }
        }
        /// How a matrix of the checkpoint's `dtype` is multiplied: kept, rounded to `precision`, or float32.
        func planned(_ dtype: DType) -> LinearWeight.Storage {
            if let keep = kept(dtype) { return keep }
            if sixteenBit, let format = precision.sixteenBit { return format == .bf16 ? .bf16 : .f16 }
            return .f32
        }

        // The panel cache, looked up before any matrix is made: a hit spares the rounding of a 16-bit precision.
        // Untied, the word embeddings are only looked up by row, never multiplied: no pass packs them.
        var matrixShapes: [(String, [Int])] = config.tieWordEmbeddings ? [("roberta.embeddings.word_embeddings.weight", [v, h])] : []
        for i in 0..<config.numHiddenLayers {
            let p = "roberta.encoder.layer.\(i)."
            matrixShapes += [(p + "attention.self.query.weight", [h, h]), (p + "attention.self.key.weight", [h, h]),
                             (p + "attention.self.value.weight", [h, h]), (p + "attention.output.dense.weight", [h, h]),
                             (p + "intermediate.dense.weight", [inner, h]), (p + "output.dense.weight", [h, inner])]
        }
        matrixShapes.append(("lm_head.dense.weight", [h, h]))
        if !config.tieWordEmbeddings { matrixShapes.append(("lm_head.decoder.weight", [v, h])) }
        var plans: [PanelPlan]? = []
        for (name, shape) in matrixShapes {
            // A missing or odd tensor: no cache; the load below says what is wrong.
            guard let record = table[name], record.shape == shape, let dtype = record.dtype else { plans = nil; break }
            plans?.append(PanelPlan(name: name, storage: planned(dtype), k: shape[1], out: shape[0]))
        }
        let cache: PanelCache?
        if !sixteenBit {
            (cache, panelCacheOff) = (nil, .off(reason: "the weight products run on OpenBLAS, which reads no panels"))
        } else if let plans {
            (cache, panelCacheOff) = PanelCache.open(settings: settings, model: directory, precision: precision.rawValue,
                                                     sources: files.map(\.mapped) + (pytorch.map { [$0.mapped] } ?? []),
                                                     plans: plans, threads: threads)
        } else {
            (cache, panelCacheOff) = (nil, .off(reason: "the checkpoint's matrices are not all there"))
        }
        panelCache = cache

        var used = Set<String>()
        var usedRecords: [TensorRecord] = []
        var dtypes = Set<String>()
        var mappedBytes = 0
        var copiedBytes = 0
        var owned: [UnsafeMutableRawPointer] = []
        var matrixDTypes = Set<String>()
        var roundedFrom = Set<String>()

        func record(_ name: String, _ shape: [Int]) throws -> (TensorRecord, DType) {
            // Old checkpoints call LayerNorm parameters gamma/beta; transformers renames them on load, so do we.
            var record = table[name]
            if record == nil, name.hasSuffix(".weight") {
                record = table[String(name.dropLast(".weight".count)) + ".gamma"]
            } else if record == nil, name.hasSuffix(".bias"), name.contains("LayerNorm") {
                record = table[String(name.dropLast(".bias".count)) + ".beta"]
            }
            guard let record else { throw ModelLoadError.missingTensor(name: name, files: fileNames) }
            if used.insert(record.name).inserted { usedRecords.append(record) }
            guard let dtype = record.dtype else {
                throw ModelLoadError.unsupportedDType(file: record.file.path, tensor: record.name, dtype: record.dtypeName)
            }
            guard record.shape == shape else {
                throw ModelLoadError.shapeMismatch(file: record.file.path, tensor: record.name, expected: shape, actual: record.shape)
            }
            // The readers made the record's bytes match its shape; checked again here because every size below
            // (count * 4 for a widened copy) is derived from it.
            let expected = FileArithmetic.product(shape).flatMap { FileArithmetic.product($0, dtype.size) }
            guard let expected, expected == record.end - record.begin else {
                throw ModelLoadError.byteCountMismatch(file: record.file.path, tensor: record.name, expected: expected ?? Int.max,
                                                       actual: record.end - record.begin)
            }
            dtypes.insert(dtype.rawValue)
            return (record, dtype)
        }

        func tensor(_ name: String, _ shape: [Int]) throws -> FloatTensor {
            let (record, dtype) = try record(name, shape)
            let count = record.elementCount
            let raw = record.bytes
            if dtype == .f32, let start = raw.baseAddress, Int(bitPattern: start) % MemoryLayout<Float>.alignment == 0 {
                mappedBytes += raw.count
                return FloatTensor(name: name, shape: shape, pointer: start.assumingMemoryBound(to: Float.self))
            }
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
            owned.append(buffer)
            copiedBytes += count * 4
            let floats = buffer.bindMemory(to: Float.self, capacity: max(count, 1))
            convertToFloat(raw, dtype: dtype, count: count, into: floats)
            return FloatTensor(name: name, shape: shape, pointer: UnsafePointer(floats))
        }

        /// A matrix rounded to `format` into an owned buffer (from float32; a 16-bit one of the other format is
        /// widened exactly first), after which the map's pages of it are given back (`releasePages`).
        var roundingScratch: (pointer: UnsafeMutableRawPointer?, bytes: Int) = (nil, 0)
        defer { roundingScratch.pointer?.deallocate() }
        func rounded(_ name: String, _ shape: [Int], record: TensorRecord, dtype: DType, to format: SixteenBit) throws -> LinearWeight {
            let count = record.elementCount
            let raw = record.bytes
            let bytes = max(count, 1) * 2
            // Rounded into one scratch buffer reused for every matrix (and freed after the load), then packed into
            // panels (the kernels run: `sixteenBit`): allocating and freeing a buffer per matrix left ~0.4 GB of
            // freed heap in the resident set of the roberta-large shape.
            if roundingScratch.bytes < bytes {
                roundingScratch.pointer?.deallocate()
                roundingScratch = (UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64), bytes)
            }
            let buffer = roundingScratch.pointer!
            let out = buffer.bindMemory(to: UInt16.self, capacity: max(count, 1))
            var overflow = 0
            if let start = raw.baseAddress {
                if dtype == .f32 {
                    overflow = roundFloats(start, count: count, to: format, into: out, threads: threads)
                } else {
                    let floats = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
                    defer { floats.deallocate() }
                    convertToFloat(raw, dtype: dtype, count: count, into: floats)
                    overflow = roundFloats(floats, count: count, to: format, into: out, threads: threads)
                }
            }
            let storage: LinearWeight.Storage = format == .bf16 ? .bf16 : .f16
            if overflow > 0 {
                throw ModelLoadError.precisionOverflow(file: record.file.path, tensor: record.name,
                                                       precision: storage.rawValue.lowercased(), count: overflow)
            }
            copiedBytes += count * 2
            matrixDTypes.insert(storage.rawValue)
            roundedFrom.insert(dtype.rawValue)
            record.file.releasePages(begin: record.begin, end: record.end)
            let weight = LinearWeight(name: name, shape: shape, raw: UnsafeRawPointer(buffer), storage: storage)
            // Packed now, from the scratch copy: only the panels are kept.
            let packed = paneled(weight, releaseSource: false)
            if let matrix = packed.panels, matrix.packNow(threads: threads) {
                matrix.markSourceFreed()
                return packed
            }
            // No memory for the panels: a row-major copy of its own, read by the row kernels.
            let copy = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
            owned.append(copy)
            copy.copyMemory(from: buffer, byteCount: bytes)
            return LinearWeight(name: name, shape: shape, raw: UnsafeRawPointer(copy), storage: storage)
        }

        /// The matrix multiplied through panels, which the panel cache file gets once packed when it is to be written.
        func paneled(_ weight: LinearWeight, releaseSource: Bool) -> LinearWeight {
            let packed = weight.withPanels(releaseSource: releaseSource)
            if let cache, let matrix = packed.panels { cache.register(weight.name, matrix: matrix) }
            return packed
        }

        /// A matrix whose panels were read from the panel cache: packed at once, its checkpoint bytes never read
        /// (neither rounded nor copied). The summary says what a load without the cache says, but for
        /// `copiedBytes`: nothing is copied. Nil when the panels cannot be adopted (no memory for the matrix's
        /// record): the load then goes on as without the cache.
        func fromCache(_ name: String, _ shape: [Int], record: TensorRecord, dtype: DType, panels: UnsafeRawPointer) -> LinearWeight? {
            let storage = planned(dtype)
            // As stored and aligned: the load without the cache would use it in place from the map.
            let asStored = (storage == .f32 && dtype == .f32) || kept(dtype) != nil
            let start = record.bytes.baseAddress
            let inPlace = asStored && start.map { Int(bitPattern: $0) % (storage == .f32 ? 4 : 2) == 0 } == true ? start : nil
            // Products and row lookups read the panels; `raw` is the map's copy, or the panels when there is none
            // (never read: the matrix is packed from the start).
            let weight = LinearWeight(name: name, shape: shape, raw: inPlace ?? panels, storage: storage).withPanels(releaseSource: false)
            guard let matrix = weight.panels, ms_matrix_adopt(matrix.pointer, panels) != 0 else { return nil }
            if inPlace == nil { matrix.markSourceFreed() } else { mappedBytes += record.bytes.count }
            matrixDTypes.insert(storage.rawValue)
            if storage != .f32, kept(dtype) == nil { roundedFrom.insert(dtype.rawValue) }
            return weight
        }

        /// An encoder weight matrix: a 16-bit one stays 16-bit when `precision` and `sixteenBit` allow; with
        /// `precision` bf16/f16 (and the kernels) one of another dtype is rounded to that format once, here.
        /// A copy made at load, multiplied through panels: packed now, and the row-major copy freed (the
        /// embedding lookup reads rows from the panels), so that only one copy is kept. Without memory for the
        /// panels the copy stays, read by the row kernels.
        func packedCopy(_ weight: LinearWeight, buffer: UnsafeMutableRawPointer) -> LinearWeight {
            let packed = paneled(weight, releaseSource: false)
            guard let matrix = packed.panels, matrix.packNow(threads: threads) else { return weight }
            if let index = owned.lastIndex(of: buffer) { owned.remove(at: index) }
            buffer.deallocate()
            matrix.markSourceFreed()
            return packed
        }

        /// An encoder weight matrix: a 16-bit one stays 16-bit when `precision` and `sixteenBit` allow; with
        /// `precision` bf16/f16 (and the kernels) one of another dtype is rounded to that format once, here.
        /// With the kernels (`sixteenBit`) every matrix is multiplied through panels, the word embeddings (the tied
        /// decoder) too, so that a product gives the same bits whatever the checkpoint's layout: one read in place
        /// from the map is packed by the second forward pass, a copy is packed now.
        func matrix(_ name: String, _ shape: [Int]) throws -> LinearWeight {
            let panels = sixteenBit
            let (record, dtype) = try record(name, shape)
            let keep = kept(dtype)
            if let cache, let packed = cache.panels(for: name),
               let weight = fromCache(name, shape, record: record, dtype: dtype, panels: packed) {
                return weight
            }
            if keep == nil, sixteenBit, let format = precision.sixteenBit {
                return try rounded(name, shape, record: record, dtype: dtype, to: format)
            }
            guard let keep else {
                matrixDTypes.insert("F32")
                let weight = LinearWeight(try tensor(name, shape))
                guard panels else { return weight }
                // In place in the map: packed by the second pass, which drops the map's pages as it goes.
                if UnsafeRawPointer(record.bytes.baseAddress) == weight.raw { return paneled(weight, releaseSource: true) }
                return packedCopy(weight, buffer: UnsafeMutableRawPointer(mutating: weight.raw))
            }
            matrixDTypes.insert(keep.rawValue)
            let count = record.elementCount
            let raw = record.bytes
            // The bits as stored, in place when 2-byte aligned.
            if let start = raw.baseAddress, Int(bitPattern: start) % 2 == 0 {
                mappedBytes += raw.count
                let weight = LinearWeight(name: name, shape: shape, raw: start, storage: keep)
                return panels ? paneled(weight, releaseSource: true) : weight
            }
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 2, alignment: 64)
            owned.append(buffer)
            copiedBytes += count * 2
            if let start = raw.baseAddress { memcpy(buffer, start, count * 2) }
            let weight = LinearWeight(name: name, shape: shape, raw: UnsafeRawPointer(buffer), storage: keep)
            return panels ? packedCopy(weight, buffer: buffer) : weight
        }

        let e = "roberta.embeddings."
        do {
            wordEmbeddings = try matrix(e + "word_embeddings.weight", [v, h])
            positionEmbeddings = try tensor(e + "position_embeddings.weight", [config.maxPositionEmbeddings, h])
            tokenTypeEmbeddings = try tensor(e + "token_type_embeddings.weight", [config.typeVocabSize, h])
            embeddingNormWeight = try tensor(e + "LayerNorm.weight", [h])
            embeddingNormBias = try tensor(e + "LayerNorm.bias", [h])
            var layers: [LayerWeights] = []
            for i in 0..<config.numHiddenLayers {
                let p = "roberta.encoder.layer.\(i)."
                layers.append(LayerWeights(
                    query: try matrix(p + "attention.self.query.weight", [h, h]),
                    queryBias: try tensor(p + "attention.self.query.bias", [h]),
                    key: try matrix(p + "attention.self.key.weight", [h, h]),
                    keyBias: try tensor(p + "attention.self.key.bias", [h]),
                    value: try matrix(p + "attention.self.value.weight", [h, h]),
                    valueBias: try tensor(p + "attention.self.value.bias", [h]),
                    attentionOutput: try matrix(p + "attention.output.dense.weight", [h, h]),
                    attentionOutputBias: try tensor(p + "attention.output.dense.bias", [h]),
                    attentionNormWeight: try tensor(p + "attention.output.LayerNorm.weight", [h]),
                    attentionNormBias: try tensor(p + "attention.output.LayerNorm.bias", [h]),
                    intermediate: try matrix(p + "intermediate.dense.weight", [inner, h]),
                    intermediateBias: try tensor(p + "intermediate.dense.bias", [inner]),
                    output: try matrix(p + "output.dense.weight", [h, inner]),
                    outputBias: try tensor(p + "output.dense.bias", [h]),
                    outputNormWeight: try tensor(p + "output.LayerNorm.weight", [h]),
                    outputNormBias: try tensor(p + "output.LayerNorm.bias", [h])))
            }
            self.layers = layers
            lmDense = try matrix("lm_head.dense.weight", [h, h])
            lmDenseBias = try tensor("lm_head.dense.bias", [h])
            lmNormWeight = try tensor("lm_head.layer_norm.weight", [h])
            lmNormBias = try tensor("lm_head.layer_norm.bias", [h])
            // Tied (the default): the decoder is the word embedding matrix and its bias is lm_head.bias, as
            // transformers ties them, even when the file also stores lm_head.decoder.*. Untied: the decoder's own
            // weight and bias (transformers then leaves lm_head.bias unused).
            let bias = config.tieWordEmbeddings ? ["lm_head.bias", "lm_head.decoder.bias"] : ["lm_head.decoder.bias", "lm_head.bias"]
            if config.tieWordEmbeddings {
                decoder = wordEmbeddings
            } else {
                decoder = try matrix("lm_head.decoder.weight", [v, h])
            }
            decoderBias = try tensor(table[bias[0]] != nil ? bias[0] : bias[1], [v])
            // Tied twins stored in the file are replaced by their source, as transformers does: not "ignored".
            if config.tieWordEmbeddings {
                for name in ["lm_head.decoder.weight", "lm_head.decoder.bias"] where table[name] != nil { used.insert(name) }
            }
        } catch {
            for p in owned { p.deallocate() }
            throw error
        }
        self.owned = owned
        self.usedRecords = usedRecords
        cache?.loadFinished()
        summary = WeightsSummary(files: fileNames, dtypes: dtypes.sorted(), mappedBytes: mappedBytes,
                                 copiedBytes: copiedBytes, matrixDType: matrixDTypes.sorted().joined(separator: "/"), roundedFrom: roundedFrom.sorted(),
                                 ignoredTensors: table.keys.filter { !used.contains($0) }.sorted())
    }

    /// Throws `ModelLoadError.fileChanged` when a checkpoint file was truncated or rewritten since loading, or a
    /// read of its map faulted (it shrank under a pass): asked before a forward pass and again after it.
    func checkFilesUnchanged() throws {
        for mapped in files.map(\.mapped) + [pytorch?.mapped].compactMap({ $0 }) {
            try mapped.checkNotFaulted()
            try mapped.checkUnchanged()
        }
        try panelCache?.checkUnchanged()
    }

    /// What became of the panel cache file (read, being written, written, off and why).
    var panelCacheState: PanelCacheState { panelCache?.state ?? panelCacheOff }

    /// The first weight the model uses that holds NaN or infinity, or nil when every one is finite. Reads every
    /// weight once (a second for a large model), so only an answer that is already wrong asks; remembered after.
    func firstNonFiniteWeight() -> NonFiniteWeight? {
        scanLock.lock()
        defer { scanLock.unlock() }
        if let scanned { return scanned }
        var found: NonFiniteWeight? = nil
        for record in usedRecords {
            guard let dtype = record.dtype, let index = firstNonFinite(record.bytes, dtype: dtype) else { continue }
            var value: Float = 0
            withUnsafeMutablePointer(to: &value) { out in
                convertToFloat(UnsafeRawBufferPointer(rebasing: record.bytes[(index * dtype.size)..<((index + 1) * dtype.size)]),
                               dtype: dtype, count: 1, into: out)
            }
            found = NonFiniteWeight(tensor: record.name, file: record.file.path, index: index, value: value.isNaN ? "NaN" : "infinity")
            break
        }
        scanned = .some(found)
        return found
    }
}

/// The index of the first NaN or infinity among `raw`'s elements (an all-ones exponent), or nil.
func firstNonFinite(_ raw: UnsafeRawBufferPointer, dtype: DType) -> Int? {
    guard let base = raw.baseAddress else { return nil }
    switch dtype {
    case .f32:
        for i in 0..<(raw.count / 4) where UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)) & 0x7f80_0000 == 0x7f80_0000 {
            return i
        }
    case .bf16, .f16:
        let mask: UInt16 = dtype == .bf16 ? 0x7f80 : 0x7c00
        for i in 0..<(raw.count / 2) where UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) & mask == mask {
            return i
        }
    }
    return nil
}

/// Widens F16/BF16 (or copies misaligned F32) little-endian bytes into an aligned float buffer.
func convertToFloat(_ raw: UnsafeRawBufferPointer, dtype: DType, count: Int, into out: UnsafeMutablePointer<Float>) {
    guard let base = raw.baseAddress else { return }
    switch dtype {
    case .f32:
        memcpy(out, base, count * 4)
    case .bf16:
        for i in 0..<count {
            let bits = UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
            out[i] = Float(bitPattern: UInt32(bits) << 16)
        }
    case .f16:
        for i in 0..<count {
            let bits = UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
            out[i] = halfToFloat(bits)
        }
    }
}

/// IEEE 754 binary16 to binary32, exact (subnormals, infinities and NaN included); no Float16 type needed.
@inline(__always)
func halfToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exponent = Int((h >> 10) & 0x1f)
    let mantissa = UInt32(h & 0x3ff)
    if exponent == 0 {
        // zero or subnormal: mantissa * 2^-24
        let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
        return sign == 0 ? magnitude : -magnitude
    }
    if exponent == 31 {
        return Float(bitPattern: sign | 0x7f80_0000 | (mantissa << 13))
    }
    return Float(bitPattern: sign | (UInt32(exponent - 15 + 127) << 23) | (mantissa << 13))
}
