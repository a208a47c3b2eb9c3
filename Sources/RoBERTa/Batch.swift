import Foundation

/// Several sequences in one forward pass: packed one after another (no padding), so each answer is the one its
/// sequence gets alone, while every weight matrix is streamed once per pass instead of once per sequence.
extension RobertaModel {
    /// Tokens per packed pass unless told otherwise. Memory per pass is about tokens x (6 x hidden + intermediate)
    /// floats (roberta-large: 4,096 tokens take ~160 MB), plus the logits asked for.
    public static let defaultBatchTokens = 4096

    /// Runs the encoder over each sequence (token ids with <s> and </s>), packed into passes of at most
    /// `batchTokens` tokens (a longer sequence runs alone). The outputs are in the order of `batch`.
    public func encode(batch: [[Int]], capture: CaptureOptions = .none, batchTokens: Int = defaultBatchTokens,
                       cancellation: Cancellation? = nil) throws -> [EncoderOutput] {
        var outputs: [EncoderOutput] = []
        outputs.reserveCapacity(batch.count)
        for chunk in Self.chunks(of: batch.map(\.count), batchTokens: batchTokens) {
            let sequences = Array(batch[chunk])
            for ids in sequences { try check(ids: ids) }
            let packed = try guardedPass {
                try weights.encode(batch: sequences, capture: capture, compute: compute, cancellation: cancellation)
            }
            outputs += packed.outputs
        }
        return outputs
    }

    /// Masked-LM logits at chosen positions of each sequence: for sequence i, a flat [rows[i].count x vocab]
    /// array, one row per position in `rows[i]`, as `logits(_:at:)` gives for that sequence run alone. The
    /// sequences are packed into passes of at most `batchTokens` tokens; the LM head runs only at the rows asked.
    /// - Throws: `InferenceError.nonFiniteScores` when a row holds NaN or infinity (naming the weight at fault).
    public func logits(batch: [[Int]], at rows: [[Int]], batchTokens: Int = defaultBatchTokens,
                       cancellation: Cancellation? = nil) throws -> [[Float]] {
        precondition(batch.count == rows.count, "one list of rows per sequence")
        let vocab = config.vocabSize
        var result: [[Float]] = []
        result.reserveCapacity(batch.count)
        for chunk in Self.chunks(of: batch.map(\.count), batchTokens: batchTokens) {
            let pass = try packedPass(batch[chunk], rows: rows[chunk], cancellation: cancellation)
            for (wanted, group) in zip(rows[chunk], pass.groups) {
                let values = Array(pass.logits[(group.lowerBound * vocab)..<(group.upperBound * vocab)])
                if let bad = values.firstIndex(where: { !$0.isFinite }) {
                    throw InferenceError.nonFiniteScores(position: wanted[bad / vocab], weight: weights.firstNonFiniteWeight())
                }
                result.append(values)
            }
        }
        return result
    }

    /// One packed pass over `sequences` (checked) and the LM head at the positions `rows[i]` of each: the pass's
    /// output, the logits [every asked row x vocab], and each sequence's rows among them. Each sequence's rows are
    /// a group for the LM head, so the OpenBLAS fallback sums them as it does for that sequence alone.
    func packedPass(_ sequences: ArraySlice<[Int]>, rows: ArraySlice<[Int]>, capture: CaptureOptions = .none,
                    knockout: Set<HeadRef> = [], cancellation: Cancellation?) throws
        -> (packed: PackedEncoderOutput, logits: [Float], groups: [Range<Int>]) {
        var packedRows: [Int] = [], groups: [Range<Int>] = [], offset = 0
        for (ids, wanted) in zip(sequences, rows) {
            try check(ids: ids)
            groups.append(packedRows.count..<(packedRows.count + wanted.count))
            for row in wanted {
                guard ids.indices.contains(row) else { throw InferenceError.positionOutOfRange(position: row, tokens: ids.count) }
                packedRows.append(offset + row)
            }
            offset += ids.count
        }
        if cancellation?.isCancelled == true { throw InferenceError.cancelled }
        return try guardedPass {
            let packed = try weights.encode(batch: Array(sequences), capture: capture, compute: compute, cancellation: cancellation,
                                            knockout: knockout.isEmpty ? nil : Array(repeating: knockout, count: sequences.count))
            return (packed, weights.lmLogits(hidden: packed.lastHiddenState, rows: packedRows, compute: compute, groups: groups), groups)
        }
    }

    /// Consecutive runs of sequences whose lengths add up to at most `batchTokens` (at least one each).
    static func chunks(of lengths: [Int], batchTokens: Int) -> [Range<Int>] {
        var chunks: [Range<Int>] = []
        var start = 0, tokens = 0
        for (i, length) in lengths.enumerated() {
            if i > start, tokens + length > batchTokens {
                chunks.append(start..<i)
                start = i
                tokens = 0
            }
            tokens += length
        }
        if start < lengths.count { chunks.append(start..<lengths.count) }
        return chunks
    }
}
