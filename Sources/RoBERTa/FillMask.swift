import Foundation
import Tokenizer

/// How to run fill-mask: the parameters of transformers' fill-mask pipeline, plus capture and truncation.
public struct FillMaskOptions: Sendable, Equatable {
    /// Candidates per mask (the pipeline's top_k, default 5).
    public var topK: Int
    /// Restrict candidates to these words (the pipeline's `targets`); scores are not renormalised.
    public var targets: [String]?
    /// Cut an over-long input to the model's positions instead of failing.
    public var truncate: Bool
    /// What to keep from the forward pass.
    public var capture: CaptureOptions
    /// Heads knocked out: their context zeroed before the attention output projection.
    public var knockout: Set<HeadRef>

    public init(topK: Int = 5, targets: [String]? = nil, truncate: Bool = false, capture: CaptureOptions = .none,
                knockout: Set<HeadRef> = []) {
        self.topK = topK
        self.targets = targets
        self.truncate = truncate
        self.capture = capture
        self.knockout = knockout
    }
}

/// One proposed token for a mask, as the pipeline reports it, with its raw logit.
public struct Candidate: Sendable, Equatable {
    public let score: Float
    public let token: Int
    /// `decode([token])`: keeps its leading space.
    public let tokenStr: String
    /// The input with this token in the mask's place, decoded as the pipeline does.
    public let sequence: String
    public let logit: Float
}

/// The ranked candidates of one mask.
public struct MaskPrediction: Sendable, Equatable {
    /// Index of the mask among the token ids.
    public let position: Int
    public let candidates: [Candidate]
}

/// Everything one fill-mask call produced.
public struct FillMaskResult: Sendable {
    public let ids: [Int]
    /// One prediction per mask, in text order.
    public let masks: [MaskPrediction]
    /// Attention probabilities when captured.
    public let attention: AttentionMaps?
    /// Hidden states when captured.
    public let encoder: EncoderOutput
    /// Messages the pipeline would log as warnings (e.g. a target replaced by its first token).
    public let warnings: [String]
    /// The logits over the whole vocabulary at each mask, in mask order (what the candidates were ranked from).
    public let maskLogits: [[Float]]
}

extension RobertaModel {
    /// Token ids for `text` with <s> and </s>, checked against the model's length limit (or truncated).
    public func inputIDs(for text: String, truncate: Bool = false) throws -> [Int] {
        var ids = tokenizer.encode(text).ids
        if ids.count > config.maxTokens {
            guard truncate else { throw InferenceError.inputTooLong(tokens: ids.count, maximum: config.maxTokens) }
            // As the tokenizer truncates: keep the first tokens, then close with </s>.
            ids = Array(ids.prefix(config.maxTokens - 1)) + [tokenizer.eosID]
        }
        return ids
    }

    /// Resolves the pipeline's `targets` as transformers does: a vocabulary entry as-is, else the first token
    /// of its tokenization (with a warning), duplicates removed.
    public func targetIDs(_ targets: [String]) throws -> (ids: [Int], warnings: [String]) {
        var ids: [Int] = []
        var warnings: [String] = []
        for target in targets {
            if let id = tokenizer.id(of: target) {
                if !ids.contains(id) { ids.append(id) }
                continue
            }
            guard let first = tokenizer.encode(target, addSpecialTokens: false).ids.first else {
                warnings.append("The specified target token `\(target)` does not exist in the model vocabulary. We cannot replace it with anything meaningful, ignoring it")
                continue
            }
            warnings.append("The specified target token `\(target)` does not exist in the model vocabulary. Replacing with `\(tokenizer.token(of: first) ?? "")`.")
            if !ids.contains(first) { ids.append(first) }
        }
        guard !ids.isEmpty else { throw InferenceError.noValidTargets(targets) }
        return (ids, warnings)
    }

    /// Fill-mask over `text` with the semantics of transformers' fill-mask pipeline.
    public func fillMask(_ text: String, options: FillMaskOptions = FillMaskOptions()) throws -> FillMaskResult {
        try fillMask(ids: inputIDs(for: text, truncate: options.truncate), options: options, text: text)
    }

    /// Fill-mask over ready token ids (with <s> and </s>).
    /// - Parameter cancellation: when set by another thread, the run stops before its next layer and throws
    ///   `InferenceError.cancelled`.
    public func fillMask(ids: [Int], options: FillMaskOptions = FillMaskOptions(), text: String? = nil,
                         cancellation: Cancellation? = nil) throws -> FillMaskResult {
        try fillMask(batch: [ids], options: options, texts: [text], cancellation: cancellation)[0]
    }

    /// Fill-mask over several texts, packed into batched passes (`encode(batch:)`): each answer is the one its
    /// text gets alone.
    public func fillMask(texts: [String], options: FillMaskOptions = FillMaskOptions(),
                         batchTokens: Int = RobertaModel.defaultBatchTokens, cancellation: Cancellation? = nil) throws -> [FillMaskResult] {
        try fillMask(batch: texts.map { try inputIDs(for: $0, truncate: options.truncate) }, options: options, texts: texts,
                     batchTokens: batchTokens, cancellation: cancellation)
    }

    /// Fill-mask over several ready token id sequences (with <s> and </s>), packed into batched passes of at most
    /// `batchTokens` tokens. `texts[i]`, when given, names sequence i in errors.
    public func fillMask(batch: [[Int]], options: FillMaskOptions = FillMaskOptions(), texts: [String?]? = nil,
                         batchTokens: Int = RobertaModel.defaultBatchTokens, cancellation: Cancellation? = nil) throws -> [FillMaskResult] {
        guard options.topK >= 1 else { throw InferenceError.badTopK(options.topK) }
        let maskID = tokenizer.maskID
        let maskPositions = try batch.enumerated().map { i, ids -> [Int] in
            let positions = ids.indices.filter { ids[$0] == maskID }
            guard !positions.isEmpty else {
                let text = texts?[i] ?? tokenizer.decode(ids)
                throw InferenceError.noMaskToken(text: text, mask: tokenizer.token(of: maskID) ?? "<mask>")
            }
            return positions
        }
        var warnings: [String] = []
        var restrict: [Int]? = nil
        if let targets = options.targets {
            let resolved = try targetIDs(targets)
            restrict = resolved.ids
            warnings = resolved.warnings
        }
        try checkHeads(options.knockout)
        let vocab = config.vocabSize
        var results: [FillMaskResult] = []
        results.reserveCapacity(batch.count)
        for chunk in Self.chunks(of: batch.map(\.count), batchTokens: batchTokens) {
            let pass = try packedPass(batch[chunk], rows: maskPositions[chunk], capture: options.capture, knockout: options.knockout,
                                      cancellation: cancellation)
            for (s, i) in chunk.enumerated() {
                let mine = pass.logits[(pass.groups[s].lowerBound * vocab)..<(pass.groups[s].upperBound * vocab)]
                let output = pass.packed.output(s)
                let masks = try predictions(ids: batch[i], maskPositions: maskPositions[i], logits: mine, restrict: restrict, topK: options.topK)
                let rows = maskPositions[i].indices.map { m in Array(mine[(mine.startIndex + m * vocab)..<(mine.startIndex + (m + 1) * vocab)]) }
                results.append(FillMaskResult(ids: batch[i], masks: masks, attention: output.attention, encoder: output, warnings: warnings,
                                              maskLogits: rows))
            }
        }
        return results
    }

    /// The ranked candidates at each mask of `ids` from the logits at the masks ([masks x vocab], in order).
    func predictions(ids: [Int], maskPositions: [Int], logits: ArraySlice<Float>, restrict: [Int]?, topK k: Int) throws -> [MaskPrediction] {
        let vocab = config.vocabSize
        let base = logits.startIndex
        // NaN or infinity at a mask would come out as a score of NaN (not JSON, and meaningless): an error naming
        // the weight that holds it. Finite logits give finite scores (the softmax's sum is at least 1).
        for (m, position) in maskPositions.enumerated()
        where logits[(base + m * vocab)..<(base + (m + 1) * vocab)].contains(where: { !$0.isFinite }) {
            throw InferenceError.nonFiniteScores(position: position, weight: weights.firstNonFiniteWeight())
        }
        let singleMask = maskPositions.count == 1
        let withoutPad = { (tokens: [Int]) in tokens.filter { $0 != self.tokenizer.padID } }

        var masks: [MaskPrediction] = []
        logits.withUnsafeBufferPointer { lb in
            for (m, position) in maskPositions.enumerated() {
                let row = UnsafeBufferPointer(rebasing: lb[(m * vocab)..<((m + 1) * vocab)])
                let probabilities = softmax(row)
                let top = restrict.map { topK(probabilities, among: $0, k: min(k, $0.count)) }
                    ?? topK(probabilities, among: 0..<vocab, k: min(k, vocab))
                let candidates = top.map { token -> Candidate in
                    var filled = ids
                    filled[position] = token
                    // The pipeline drops <pad> ids, and keeps special tokens when there are several masks.
                    let sequence = tokenizer.decode(withoutPad(filled), skipSpecialTokens: singleMask)
                    return Candidate(score: probabilities[token], token: token, tokenStr: tokenizer.decode([token]),
                                     sequence: sequence, logit: row[token])
                }
                masks.append(MaskPrediction(position: position, candidates: candidates))
            }
        }
        return masks
    }
}

/// Softmax over a whole logit row; the sum is kept in double so the scores are as exact as float allows.
func softmax(_ row: UnsafeBufferPointer<Float>) -> [Float] {
    var maxValue = -Float.infinity
    for value in row where value > maxValue { maxValue = value }
    var exps = [Float](repeating: 0, count: row.count)
    var sum: Double = 0
    for i in row.indices {
        let e = expf(row[i] - maxValue)
        exps[i] = e
        sum += Double(e)
    }
    let inv = Float(1 / sum)
    for i in exps.indices { exps[i] *= inv }
    return exps
}

/// Natural-log probabilities of a logit row: log_softmax with the normaliser summed in double.
public func logSoftmax(_ row: ArraySlice<Float>) -> [Double] {
    var maxValue = -Double.infinity
    for value in row where Double(value) > maxValue { maxValue = Double(value) }
    var sum = 0.0
    for value in row { sum += exp(Double(value) - maxValue) }
    let logNormaliser = maxValue + log(sum)
    return row.map { Double($0) - logNormaliser }
}

/// The 1-based rank of `id` among all of `scores` (highest first), ties going to the lower id as in `topK`.
/// Inlinable, as `topK`: called from another module (Scoring, once per mask over 50k values), an unspecialised
/// generic looked up type metadata for every element, which doubled the time of `maskscope eval`.
@inlinable
public func rank<Value: Comparable>(of id: Int, in scores: [Value]) -> Int {
    let value = scores[id]
    var above = 0
    for other in scores.indices {
        let v = scores[other]
        if v > value || (v == value && other < id) { above += 1 }
    }
    return above + 1
}

/// The k ids of `pool` with the highest scores, best first; ties go to the lower id.
@inlinable
public func topK<Value: Comparable, Pool: Sequence<Int>>(_ scores: [Value], among pool: Pool, k: Int) -> [Int] {
    guard k > 0 else { return [] }
    var best: [Int] = []
    best.reserveCapacity(k + 1)
    for id in pool {
        let s = scores[id]
        if best.count == k {
            let last = best[k - 1]
            if s < scores[last] || (s == scores[last] && id > last) { continue }
        }
        var i = best.count
        while i > 0, scores[best[i - 1]] < s || (scores[best[i - 1]] == s && best[i - 1] > id) { i -= 1 }
        best.insert(id, at: i)
        if best.count > k { best.removeLast() }
    }
    return best
}
