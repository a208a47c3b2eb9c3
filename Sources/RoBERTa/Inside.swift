import Foundation

/// The inside of the model beyond attention weights (issue #11): the logit lens, head knock-out and the
/// importance of each head, attention rollout, and per-head statistics with a label.

/// One candidate of a lens row: id, `decode([id])`, probability.
public struct LensCandidate: Sendable, Equatable {
    public let token: Int
    public let tokenStr: String
    public let score: Float
}

/// What the LM head makes of the hidden state at one mask after one layer (0: the embeddings' output).
public struct LensLayer: Sendable, Equatable {
    public let candidates: [LensCandidate]
    /// The final layer's top candidate here: its 1-based rank over the vocabulary (ties to the lower id) and
    /// probability.
    public let finalTopRank: Int
    public let finalTopScore: Float
}

/// The lens at one mask: one row for the embeddings' output and one per layer; the last equals fill-mask.
public struct MaskLens: Sendable, Equatable {
    public let position: Int
    public let layers: [LensLayer]
}

extension RobertaModel {
    /// Throws unless every head names a head of this model.
    func checkHeads(_ heads: Set<HeadRef>) throws {
        let layers = config.numHiddenLayers, count = config.numAttentionHeads
        if let bad = heads.sorted().first(where: { !(0..<layers).contains($0.layer) || !(0..<count).contains($0.head) }) {
            throw InferenceError.noSuchHead(bad, layers: layers, heads: count)
        }
    }

    /// The logit lens at every mask of `ids`: the LM head applied to the hidden state at the mask after the
    /// embeddings and after every layer, as one product over all of them (the decoder streamed once), with
    /// `knockout` applied. The last row of each mask is fill-mask's answer, bit for bit.
    public func logitLens(ids: [Int], topK: Int, knockout: Set<HeadRef> = [], cancellation: Cancellation? = nil) throws -> [MaskLens] {
        guard topK >= 1 else { throw InferenceError.badTopK(topK) }
        try checkHeads(knockout)
        try check(ids: ids)
        let positions = ids.indices.filter { ids[$0] == tokenizer.maskID }
        guard !positions.isEmpty else {
            throw InferenceError.noMaskToken(text: tokenizer.decode(ids), mask: tokenizer.token(of: tokenizer.maskID) ?? "<mask>")
        }
        let depth = config.numHiddenLayers + 1, n = ids.count, h = config.hiddenSize, vocab = config.vocabSize
        let logits = try guardedPass { () throws -> [Float] in
            let packed = try weights.encode(batch: [ids], capture: CaptureOptions(hiddenStates: true), compute: compute,
                                            cancellation: cancellation, knockout: knockout.isEmpty ? nil : [knockout])
            let states = packed.hiddenStates!
            // Rows [layer][mask] of the hidden states, then the LM head over all of them; each layer's rows as their
            // own group, so that the OpenBLAS fallback sums them as fill-mask does its masks.
            var rows: [Float] = []
            rows.reserveCapacity(depth * positions.count * h)
            for layer in 0..<depth {
                for p in positions { rows += states[((layer * n + p) * h)..<((layer * n + p + 1) * h)] }
            }
            let groups = (0..<depth).map { ($0 * positions.count)..<(($0 + 1) * positions.count) }
            return weights.lmLogits(hidden: rows, rows: Array(0..<(depth * positions.count)), compute: compute, groups: groups)
        }
        var lenses: [MaskLens] = []
        for (m, position) in positions.enumerated() {
            var probabilities: [[Float]] = []
            for layer in 0..<depth {
                let start = (layer * positions.count + m) * vocab
                guard !logits[start..<(start + vocab)].contains(where: { !$0.isFinite }) else {
                    throw InferenceError.nonFiniteScores(position: position, weight: weights.firstNonFiniteWeight())
                }
                probabilities.append(logits.withUnsafeBufferPointer { softmax(UnsafeBufferPointer(rebasing: $0[start..<(start + vocab)])) })
            }
            let finalTop = RoBERTa.topK(probabilities[depth - 1], among: 0..<vocab, k: 1)[0]
            let layers = probabilities.map { p -> LensLayer in
                let top = RoBERTa.topK(p, among: 0..<vocab, k: min(topK, vocab))
                return LensLayer(candidates: top.map { LensCandidate(token: $0, tokenStr: tokenizer.decode([$0]), score: p[$0]) },
                                 finalTopRank: RoBERTa.rank(of: finalTop, in: p), finalTopScore: p[finalTop])
            }
            lenses.append(MaskLens(position: position, layers: layers))
        }
        return lenses
    }

    /// For every layer x head, the change in log-probability of the top candidate at the first mask when that head
    /// alone is knocked out: [layer][head], natural log. The layers below each head are not run again: each layer's
    /// heads resume from the hidden states that enter it (one packed pass of all its heads' copies).
    /// `progress(layers done, layers)` after each layer; `cancellation` stops between layers.
    public func headImportance(ids: [Int], cancellation: Cancellation? = nil,
                               progress: (Int, Int) -> Void = { _, _ in }) throws -> (position: Int, token: Int, deltas: [[Double]]) {
        try check(ids: ids)
        guard let position = ids.firstIndex(of: tokenizer.maskID) else {
            throw InferenceError.noMaskToken(text: tokenizer.decode(ids), mask: tokenizer.token(of: tokenizer.maskID) ?? "<mask>")
        }
        let layers = config.numHiddenLayers, heads = config.numAttentionHeads, n = ids.count, h = config.hiddenSize
        let vocab = config.vocabSize
        let base = try guardedPass {
            try weights.encode(batch: [ids], capture: CaptureOptions(hiddenStates: true), compute: compute, cancellation: cancellation)
        }
        let baseLogits = try guardedPass { weights.lmLogits(hidden: base.lastHiddenState, rows: [position], compute: compute) }
        let baseLog = logSoftmax(baseLogits[...])
        let token = baseLog.indices.max { (baseLog[$0], -$0) < (baseLog[$1], -$1) }!
        let states = base.hiddenStates!
        var deltas: [[Double]] = []
        for layer in 0..<layers {
            if cancellation?.isCancelled == true { throw InferenceError.cancelled }
            let entering = Array(states[(layer * n * h)..<((layer + 1) * n * h)])
            var input: [Float] = []
            input.reserveCapacity(heads * n * h)
            for _ in 0..<heads { input += entering }
            let knockout = (0..<heads).map { Set([HeadRef(layer: layer, head: $0)]) }
            let logits = try guardedPass { () throws -> [Float] in
                let packed = try weights.encode(batch: Array(repeating: ids, count: heads), capture: .none, compute: compute,
                                                cancellation: cancellation, knockout: knockout, startLayer: layer, input: input)
                return weights.lmLogits(hidden: packed.lastHiddenState, rows: (0..<heads).map { $0 * n + position }, compute: compute,
                                        groups: (0..<heads).map { $0..<($0 + 1) })
            }
            deltas.append((0..<heads).map { head in
                logSoftmax(logits[(head * vocab)..<((head + 1) * vocab)])[token] - baseLog[token]
            })
            progress(layer + 1, layers)
        }
        return (position, token, deltas)
    }
}

/// Attention rollout (Abnar & Zuidema 2020): per layer the mean over heads, 0.5 A + 0.5 I with its rows
/// renormalised, multiplied through the layers (R_0 = Â_0, R_l = Â_l R_(l-1)). [layer][query][key], as
/// `AttentionMaps` with one "head".
public func attentionRollout(_ maps: AttentionMaps) -> AttentionMaps {
    let n = maps.tokens, layers = maps.layers, heads = maps.heads
    var out = [Float](repeating: 0, count: layers * n * n)
    var previous: [Double] = []
    for layer in 0..<layers {
        var a = [Double](repeating: 0, count: n * n)
        for head in 0..<heads {
            let m = maps.matrix(layer: layer, head: head)
            for (i, v) in m.enumerated() { a[i] += Double(v) }
        }
        for i in 0..<(n * n) { a[i] /= Double(heads) }
        for q in 0..<n {
            var sum = 0.0
            for k in 0..<n {
                a[q * n + k] = 0.5 * a[q * n + k] + (q == k ? 0.5 : 0)
                sum += a[q * n + k]
            }
            for k in 0..<n { a[q * n + k] /= sum }
        }
        var r = a
        if layer > 0 {
            r = [Double](repeating: 0, count: n * n)
            for q in 0..<n {
                for t in 0..<n where a[q * n + t] != 0 {
                    let w = a[q * n + t]
                    for k in 0..<n { r[q * n + k] += w * previous[t * n + k] }
                }
            }
        }
        for i in 0..<(n * n) { out[layer * n * n + i] = Float(r[i]) }
        previous = r
    }
    return AttentionMaps(layers: layers, heads: 1, tokens: n, values: out)
}

/// What one head does on one input (Clark et al. 2019): how spread its rows are, and where its weight goes.
public struct HeadStatistics: Sendable, Equatable {
    /// Mean over the query rows of the row's entropy (nats; 0 log 0 = 0), and the largest possible, log(tokens).
    public let entropy: Double
    public let entropyMax: Double
    /// Mean weight on <s>, on </s> (the last token), on the query itself, on the previous and the next token
    /// (over the queries that have one), on punctuation (nil when the text has none).
    public let toBOS: Double, toEOS: Double, toSelf: Double, toPrev: Double, toNext: Double
    public let toPunct: Double?
    /// A short name when one pattern takes half the weight or more ("<s> sink", "</s> sink", "→prev", "→next",
    /// "self", "punct"), "broad" when the rows are spread (entropy at least 0.8 of the maximum), else "".
    public let label: String

    public static func of(_ maps: AttentionMaps, layer: Int, head: Int, punctuation: Set<Int>) -> HeadStatistics {
        let n = maps.tokens
        let m = Array(maps.matrix(layer: layer, head: head))
        var entropy = 0.0, bos = 0.0, eos = 0.0, same = 0.0, prev = 0.0, next = 0.0, punct = 0.0
        for q in 0..<n {
            var e = 0.0
            for k in 0..<n {
                let a = Double(m[q * n + k])
                if a > 0 { e -= a * log(a) }
                if punctuation.contains(k) { punct += a }
            }
            entropy += e
            bos += Double(m[q * n])
            eos += Double(m[q * n + n - 1])
            same += Double(m[q * n + q])
            if q >= 1 { prev += Double(m[q * n + q - 1]) }
            if q <= n - 2 { next += Double(m[q * n + q + 1]) }
        }
        let rows = Double(n)
        let stats = (entropy / rows, bos / rows, eos / rows, same / rows,
                     n > 1 ? prev / Double(n - 1) : 0, n > 1 ? next / Double(n - 1) : 0, punctuation.isEmpty ? nil : punct / rows)
        let candidates: [(String, Double)] = [("<s> sink", stats.1), ("</s> sink", stats.2), ("→prev", stats.4), ("→next", stats.5),
                                              ("self", stats.3)] + (stats.6.map { [("punct", $0)] } ?? [])
        var label = ""
        if let best = candidates.enumerated().max(by: { ($0.element.1, -$0.offset) < ($1.element.1, -$1.offset) })?.element, best.1 >= 0.5 {
            label = best.0
        } else if stats.0 >= 0.8 * log(rows) {
            label = "broad"
        }
        return HeadStatistics(entropy: stats.0, entropyMax: log(rows), toBOS: stats.1, toEOS: stats.2, toSelf: stats.3,
                              toPrev: stats.4, toNext: stats.5, toPunct: stats.6, label: label)
    }
}

extension RobertaModel {
    /// The positions of `ids` whose token is punctuation: not <s> or </s>, and its decoded text, without white
    /// space, non-empty and made only of Unicode punctuation.
    public func punctuationPositions(_ ids: [Int]) -> Set<Int> {
        var set = Set<Int>()
        for (i, id) in ids.enumerated() where i > 0 && i < ids.count - 1 && !tokenizer.isSpecial(id) {
            let text = tokenizer.decode([id]).trimmingCharacters(in: .whitespacesAndNewlines)
            if !text.isEmpty, text.unicodeScalars.allSatisfy({ CharacterSet.punctuationCharacters.contains($0) }) { set.insert(i) }
        }
        return set
    }

    /// Head statistics for every [layer][head] of a pass's attention.
    public func headStatistics(_ maps: AttentionMaps, ids: [Int]) -> [[HeadStatistics]] {
        let punctuation = punctuationPositions(ids)
        return (0..<maps.layers).map { layer in
            (0..<maps.heads).map { HeadStatistics.of(maps, layer: layer, head: $0, punctuation: punctuation) }
        }
    }
}
