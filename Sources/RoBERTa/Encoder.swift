import CKernels
import COpenBLAS
import Foundation

/// What a forward pass should keep besides the final hidden states.
public struct CaptureOptions: Sendable, Equatable {
    public var attention: Bool
    public var hiddenStates: Bool
    /// Attention as norms (Kobayashi et al. 2020): ||alpha_ij f_h(x_j)||, f_h(x) = (x W_V + b_V)_h W_O,h
    /// (implies attention).
    public var norms: Bool
    public init(attention: Bool = false, hiddenStates: Bool = false, norms: Bool = false) {
        self.attention = attention || norms
        self.hiddenStates = hiddenStates
        self.norms = norms
    }
    public static let none = CaptureOptions()
}

/// Attention probabilities of one forward pass, stored flat as [layer][head][query][key].
public struct AttentionMaps: Sendable, Equatable {
    public let layers: Int
    public let heads: Int
    public let tokens: Int
    public let values: [Float]

    /// The probability that query attends to key in (layer, head).
    public subscript(layer: Int, head: Int, query: Int, key: Int) -> Float {
        values[((layer * heads + head) * tokens + query) * tokens + key]
    }

    /// One head's [query][key] matrix, row-major.
    public func matrix(layer: Int, head: Int) -> ArraySlice<Float> {
        let start = (layer * heads + head) * tokens * tokens
        return values[start..<(start + tokens * tokens)]
    }
}

/// The result of running the encoder over one sequence.
public struct EncoderOutput: Sendable {
    /// Final hidden states [tokens, hidden].
    public let lastHiddenState: [Float]
    /// Attention probabilities when asked for.
    public let attention: AttentionMaps?
    /// Embedding output and each layer's output, [layers + 1][tokens][hidden] flat, when asked for.
    public let hiddenStates: [Float]?
    /// Attention norms, laid out as `attention` ([layer][head][query][key]), when asked for.
    public var norms: AttentionMaps? = nil
}

/// One attention head: layer and head, counted from 0.
public struct HeadRef: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let layer: Int
    public let head: Int
    public init(layer: Int, head: Int) {
        self.layer = layer
        self.head = head
    }
    public static func < (a: HeadRef, b: HeadRef) -> Bool { (a.layer, a.head) < (b.layer, b.head) }
    /// As people read it (and the workbench and CLI show it): LAYER.HEAD counted from 1.
    public var description: String { "\(layer + 1).\(head + 1)" }
}

/// The result of one packed pass over several sequences: the final hidden states of all their tokens, one
/// sequence after another, and what was captured.
public struct PackedEncoderOutput: Sendable {
    /// Final hidden states [tokens of all sequences, hidden].
    public let lastHiddenState: [Float]
    /// Each sequence's rows in `lastHiddenState`.
    public let segments: [Range<Int>]
    let attention: [[Float]]
    let norms: [[Float]]
    let hiddenStates: [Float]?
    let layers: Int, heads: Int, hidden: Int


    /// Sequence `i` as if it had been run alone.
    public func output(_ i: Int) -> EncoderOutput {
        let rows = segments[i], h = hidden
        let last = Array(lastHiddenState[(rows.lowerBound * h)..<(rows.upperBound * h)])
        let maps = attention.isEmpty ? nil : AttentionMaps(layers: layers, heads: heads, tokens: rows.count, values: attention[i])
        let states = hiddenStates.map { all -> [Float] in
            let total = lastHiddenState.count
            var mine: [Float] = []
            mine.reserveCapacity((layers + 1) * rows.count * h)
            let stored = all.count / total
            for layer in 0..<stored {
                mine += all[(layer * total + rows.lowerBound * h)..<(layer * total + rows.upperBound * h)]
            }
            return mine
        }
        var output = EncoderOutput(lastHiddenState: last, attention: maps, hiddenStates: states)
        if !norms.isEmpty { output.norms = AttentionMaps(layers: layers, heads: heads, tokens: rows.count, values: norms[i]) }
        return output
    }

    /// Every sequence's output, in batch order.
    public var outputs: [EncoderOutput] { segments.indices.map(output) }
}

extension RobertaWeights {
    /// RoBERTa position ids: padding tokens get padding_idx, the others count up from padding_idx + 1.
    func positionIDs(for ids: [Int]) -> [Int] {
        let pad = config.padTokenID
        var count = 0
        return ids.map { id in
            if id == pad { return pad }
            count += 1
            return count + pad
        }
    }

    /// Embeddings, then every encoder layer, over one unpadded sequence.
    func encode(ids: [Int], capture: CaptureOptions, compute: Compute, cancellation: Cancellation? = nil) throws -> EncoderOutput {
        try encode(batch: [ids], capture: capture, compute: compute, cancellation: cancellation).outputs[0]
    }

    /// Embeddings, then every encoder layer, over several unpadded sequences packed one after another: the
    /// weight products run once over all their tokens (each weight row is streamed once for the whole batch),
    /// while positions and attention stay within each sequence (a block-diagonal attention, so no padding and
    /// no mask enter the arithmetic: each sequence's numbers are those of its own pass).
    /// - Parameters:
    ///   - knockout: per sequence, the heads whose context is zeroed before the attention output projection.
    ///   - startLayer, input: resume at layer `startLayer` from `input` (the packed hidden states entering it, as a
    ///     pass with `hiddenStates` captured gives them) instead of the embeddings. Captures then cover only the
    ///     layers run (hidden states: `input` and each layer's output).
    func encode(batch: [[Int]], capture: CaptureOptions, compute: Compute, cancellation: Cancellation? = nil,
                knockout: [Set<HeadRef>]? = nil, startLayer: Int = 0, input: [Float]? = nil) throws -> PackedEncoderOutput {
        let h = config.hiddenSize, heads = config.numAttentionHeads, d = config.headSize
        let inner = config.intermediateSize, eps = config.layerNormEps
        var segments: [Range<Int>] = []
        var ids: [Int] = []
        var positions: [Int] = []
        for sequence in batch {
            segments.append(ids.count..<(ids.count + sequence.count))
            ids += sequence
            positions += positionIDs(for: sequence)
        }
        let n = ids.count
        let longest = segments.map(\.count).max() ?? 0

        var x = [Float](repeating: 0, count: n * h)            // x: [n, h]
        var q = [Float](repeating: 0, count: n * h)            // q, k, v, context: [n, h]
        var k = [Float](repeating: 0, count: n * h)
        var v = [Float](repeating: 0, count: n * h)
        var context = [Float](repeating: 0, count: n * h)
        var projected = [Float](repeating: 0, count: n * h)
        // scores: [heads, m, m] for the longest sequence m, the maps when they are not kept (the kernels write kept
        // ones straight into `attention`); the OpenBLAS path uses the first head's [m, m] for every head
        var scores = [Float](repeating: 0, count: capture.attention && compute.useKernels ? 1 : heads * longest * longest)
        var intermediate = [Float](repeating: 0, count: n * inner)
        // Kept maps, per sequence [layer][head][query][key].
        let layerCount = config.numHiddenLayers - startLayer
        var attention: [[Float]] = capture.attention
            ? segments.map { [Float](repeating: 0, count: layerCount * heads * $0.count * $0.count) } : []
        var norms: [[Float]] = capture.norms
            ? segments.map { [Float](repeating: 0, count: layerCount * heads * $0.count * $0.count) } : []
        // For the norms: one head's values alone in an otherwise zero context, and its projection.
        var single = [Float](repeating: 0, count: capture.norms ? n * h : 0)
        var projectedSingle = [Float](repeating: 0, count: capture.norms ? n * h : 0)
        let zeroBias = [Float](repeating: 0, count: capture.norms ? h : 0)
        var hiddenStates: [Float] = []
        if capture.hiddenStates { hiddenStates.reserveCapacity((config.numHiddenLayers + 1) * n * h) }

        // Embeddings: word + position + token type 0, then LayerNorm (or the given input of a resumed pass).
        if let input {
            precondition(input.count == n * h, "the input of a resumed pass is [tokens, hidden]")
            x = input
        } else {
        x.withUnsafeMutableBufferPointer { xb in
            let xp = xb.baseAddress!
            let pos = positionEmbeddings.pointer, type = tokenTypeEmbeddings.pointer
            for t in 0..<n {
                let row = xp + t * h, p = pos + positions[t] * h
                wordEmbeddings.widenRow(ids[t], width: h, into: row)
                for i in 0..<h { row[i] = row[i] + p[i] + type[i] }
            }
            addLayerNorm(xp, residual: nil, rows: n, width: h, weight: embeddingNormWeight, bias: embeddingNormBias, eps: eps)
        }
        }
        if capture.hiddenStates { hiddenStates.append(contentsOf: x) }

        let scale = 1 / Float(d).squareRoot()
        for (layerIndex, layer) in layers.enumerated() where layerIndex >= startLayer {
            if cancellation?.isCancelled == true { throw InferenceError.cancelled }
            let slot = layerIndex - startLayer
            x.withUnsafeMutableBufferPointer { xb in
            q.withUnsafeMutableBufferPointer { qb in
            k.withUnsafeMutableBufferPointer { kb in
            v.withUnsafeMutableBufferPointer { vb in
            context.withUnsafeMutableBufferPointer { cb in
            projected.withUnsafeMutableBufferPointer { pb in
            scores.withUnsafeMutableBufferPointer { sb in
            intermediate.withUnsafeMutableBufferPointer { ib in
                let xp = xb.baseAddress!, qp = qb.baseAddress!, kp = kb.baseAddress!, vp = vb.baseAddress!
                let cp = cb.baseAddress!, pp = pb.baseAddress!, sp = sb.baseAddress!, ip = ib.baseAddress!
                let project = { (x: UnsafePointer<Float>, width: Int, weight: LinearWeight, bias: FloatTensor, out: Int, y: UnsafeMutablePointer<Float>) in
                    linear(x, rows: n, inFeatures: width, weight: weight, bias: bias, outFeatures: out, into: y, compute: compute, segments: segments)
                }
                project(xp, h, layer.query, layer.queryBias, h, qp)
                project(xp, h, layer.key, layer.keyBias, h, kp)
                project(xp, h, layer.value, layer.valueBias, h, vp)
                for (s, segment) in segments.enumerated() {
                    let m = segment.count, first = segment.lowerBound * h
                    let qs = qp + first, ks = kp + first, vs = vp + first, cs = cp + first
                    if compute.useKernels {
                        // Fused scores, softmax and context, the heads shared by the pool's threads; the maps go
                        // straight into the capture when kept.
                        let attend = { (maps: UnsafeMutablePointer<Float>) in
                            ms_pool_attention(compute.pool?.pointer, qs, ks, vs, Int32(m), Int32(heads), Int32(d), Int32(h),
                                              scale, maps, cs, Int32(h))
                        }
                        if capture.attention {
                            attention[s].withUnsafeMutableBufferPointer { attend($0.baseAddress! + slot * heads * m * m) }
                        } else {
                            attend(sp)
                        }
                    } else {
                    for head in 0..<heads {
                        let offset = head * d
                        // scores[m, m] = q_h[m, d] · k_h[m, d]^T / sqrt(d)
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(m), Int32(d),
                                    scale, qs + offset, Int32(h), ks + offset, Int32(h), 0, sp, Int32(m))
                        for r in 0..<m { softmaxRow(sp + r * m, count: m) }
                        if capture.attention {
                            let start = (slot * heads + head) * m * m
                            attention[s].withUnsafeMutableBufferPointer { ab in
                                (ab.baseAddress! + start).update(from: sp, count: m * m)
                            }
                        }
                        // context_h[m, d] = scores[m, m] · v_h[m, d]
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(d), Int32(m),
                                    1, sp, Int32(m), vs + offset, Int32(h), 0, cs + offset, Int32(h))
                    }
                    }
                    // Knocked-out heads: their context is zero, as if they had attended to nothing.
                    if let knocked = knockout?[s] {
                        for head in knocked where head.layer == layerIndex {
                            for r in 0..<m { (cs + r * h + head.head * d).update(repeating: 0, count: d) }
                        }
                    }
                }
                if capture.norms {
                    // ||f_h(x_j)|| for every head and token: head h's values alone in a zero context, projected by
                    // W_O without its bias, then alpha_ij times that norm.
                    single.withUnsafeMutableBufferPointer { xb in
                    projectedSingle.withUnsafeMutableBufferPointer { yb in
                    zeroBias.withUnsafeBufferPointer { zb in
                        let xs = xb.baseAddress!, ys = yb.baseAddress!
                        let bias = FloatTensor(name: "zero", shape: [h], pointer: zb.baseAddress!)
                        for head in 0..<heads {
                            xs.update(repeating: 0, count: n * h)
                            for r in 0..<n { (xs + r * h + head * d).update(from: vp + r * h + head * d, count: d) }
                            project(xs, h, layer.attentionOutput, bias, h, ys)
                            for (s, segment) in segments.enumerated() {
                                let m = segment.count
                                attention[s].withUnsafeBufferPointer { ab in
                                norms[s].withUnsafeMutableBufferPointer { nb in
                                    let base = (slot * heads + head) * m * m
                                    for j in 0..<m {
                                        let row = ys + (segment.lowerBound + j) * h
                                        var sum: Double = 0
                                        for i in 0..<h { sum += Double(row[i]) * Double(row[i]) }
                                        let length = Float(sum.squareRoot())
                                        for q in 0..<m { nb[base + q * m + j] = ab[base + q * m + j] * length }
                                    }
                                }}
                            }
                        }
                    }}}
                }
                project(cp, h, layer.attentionOutput, layer.attentionOutputBias, h, pp)
                // x = LayerNorm(attention_output + x)
                addLayerNorm(pp, residual: xp, rows: n, width: h, weight: layer.attentionNormWeight,
                             bias: layer.attentionNormBias, eps: eps)
                project(pp, h, layer.intermediate, layer.intermediateBias, inner, ip)
                activate(ip, count: n * inner, config.hiddenAct, compute: compute)
                project(ip, inner, layer.output, layer.outputBias, h, xp)
                addLayerNorm(xp, residual: pp, rows: n, width: h, weight: layer.outputNormWeight,
                             bias: layer.outputNormBias, eps: eps)
            }}}}}}}}
            if capture.hiddenStates { hiddenStates.append(contentsOf: x) }
        }
        return PackedEncoderOutput(lastHiddenState: x, segments: segments, attention: attention, norms: norms,
                                   hiddenStates: capture.hiddenStates ? hiddenStates : nil,
                                   layers: layerCount, heads: heads, hidden: h)
    }

    /// LM head logits [rows.count, vocab] for the given rows of the final hidden states only.
    /// `groups` are the runs of `rows` that belong to one sequence (see `linear`'s `segments`).
    func lmLogits(hidden: [Float], rows: [Int], compute: Compute, groups: [Range<Int>]? = nil) -> [Float] {
        let h = config.hiddenSize, vocab = config.vocabSize, m = rows.count
        guard m > 0 else { return [] }
        var t = [Float](repeating: 0, count: m * h)
        var dense = [Float](repeating: 0, count: m * h)
        var logits = [Float](repeating: 0, count: m * vocab)
        hidden.withUnsafeBufferPointer { hb in
        t.withUnsafeMutableBufferPointer { tb in
        dense.withUnsafeMutableBufferPointer { db in
        logits.withUnsafeMutableBufferPointer { lb in
            let tp = tb.baseAddress!, dp = db.baseAddress!, lp = lb.baseAddress!
            for (i, row) in rows.enumerated() { (tp + i * h).update(from: hb.baseAddress! + row * h, count: h) }
            // dense -> exact GELU (the LM head always uses erf GELU) -> LayerNorm -> decoder + bias
            let groups = groups ?? [0..<m]
            linear(tp, rows: m, inFeatures: h, weight: lmDense, bias: lmDenseBias, outFeatures: h, into: dp, compute: compute, segments: groups)
            activate(dp, count: m * h, .gelu, compute: compute)
            addLayerNorm(dp, residual: nil, rows: m, width: h, weight: lmNormWeight, bias: lmNormBias, eps: config.layerNormEps)
            linear(dp, rows: m, inFeatures: h, weight: decoder, bias: decoderBias, outFeatures: vocab, into: lp, compute: compute, segments: groups)
        }}}}
        return logits
    }
}
