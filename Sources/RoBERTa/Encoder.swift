import CKernels
import COpenBLAS
import Foundation

/// What a forward pass should keep besides the final hidden states.
public struct CaptureOptions: Sendable, Equatable {
    public var attention: Bool
    public var hiddenStates: Bool
    public init(attention: Bool = false, hiddenStates: Bool = false) {
        self.attention = attention
        self.hiddenStates = hiddenStates
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
        let n = ids.count, h = config.hiddenSize, heads = config.numAttentionHeads, d = config.headSize
        let inner = config.intermediateSize, eps = config.layerNormEps
        let positions = positionIDs(for: ids)

        var x = [Float](repeating: 0, count: n * h)            // x: [n, h]
        var q = [Float](repeating: 0, count: n * h)            // q, k, v, context: [n, h]
        var k = [Float](repeating: 0, count: n * h)
        var v = [Float](repeating: 0, count: n * h)
        var context = [Float](repeating: 0, count: n * h)
        var projected = [Float](repeating: 0, count: n * h)
        // scores: [heads, n, n], the maps when they are not kept (the kernels write kept ones straight into
        // `attention`); the OpenBLAS path uses the first head's [n, n] for every head
        var scores = [Float](repeating: 0, count: capture.attention && compute.useKernels ? 1 : heads * n * n)
        var intermediate = [Float](repeating: 0, count: n * inner)
        var attention: [Float] = capture.attention ? [Float](repeating: 0, count: config.numHiddenLayers * heads * n * n) : []
        var hiddenStates: [Float] = []
        if capture.hiddenStates { hiddenStates.reserveCapacity((config.numHiddenLayers + 1) * n * h) }

        // Embeddings: word + position + token type 0, then LayerNorm.
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
        if capture.hiddenStates { hiddenStates.append(contentsOf: x) }

        let scale = 1 / Float(d).squareRoot()
        for (layerIndex, layer) in layers.enumerated() {
            if cancellation?.isCancelled == true { throw InferenceError.cancelled }
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
                linear(xp, rows: n, inFeatures: h, weight: layer.query, bias: layer.queryBias, outFeatures: h, into: qp, compute: compute)
                linear(xp, rows: n, inFeatures: h, weight: layer.key, bias: layer.keyBias, outFeatures: h, into: kp, compute: compute)
                linear(xp, rows: n, inFeatures: h, weight: layer.value, bias: layer.valueBias, outFeatures: h, into: vp, compute: compute)
                if compute.useKernels {
                    // Fused scores, softmax and context, the heads shared by the pool's threads; the maps go
                    // straight into the capture when kept.
                    let attend = { (maps: UnsafeMutablePointer<Float>) in
                        ms_pool_attention(compute.pool?.pointer, qp, kp, vp, Int32(n), Int32(heads), Int32(d), Int32(h),
                                          scale, maps, cp, Int32(h))
                    }
                    if capture.attention {
                        attention.withUnsafeMutableBufferPointer { attend($0.baseAddress! + layerIndex * heads * n * n) }
                    } else {
                        attend(sp)
                    }
                } else {
                    for head in 0..<heads {
                        let offset = head * d
                        // scores[n, n] = q_h[n, d] · k_h[n, d]^T / sqrt(d)
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(n), Int32(d),
                                    scale, qp + offset, Int32(h), kp + offset, Int32(h), 0, sp, Int32(n))
                        for r in 0..<n { softmaxRow(sp + r * n, count: n) }
                        if capture.attention {
                            let start = (layerIndex * heads + head) * n * n
                            attention.withUnsafeMutableBufferPointer { ab in
                                (ab.baseAddress! + start).update(from: sp, count: n * n)
                            }
                        }
                        // context_h[n, d] = scores[n, n] · v_h[n, d]
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(d), Int32(n),
                                    1, sp, Int32(n), vp + offset, Int32(h), 0, cp + offset, Int32(h))
                    }
                }
                linear(cp, rows: n, inFeatures: h, weight: layer.attentionOutput, bias: layer.attentionOutputBias,
                       outFeatures: h, into: pp, compute: compute)
                // x = LayerNorm(attention_output + x)
                addLayerNorm(pp, residual: xp, rows: n, width: h, weight: layer.attentionNormWeight,
                             bias: layer.attentionNormBias, eps: eps)
                linear(pp, rows: n, inFeatures: h, weight: layer.intermediate, bias: layer.intermediateBias,
                       outFeatures: inner, into: ip, compute: compute)
                activate(ip, count: n * inner, config.hiddenAct, compute: compute)
                linear(ip, rows: n, inFeatures: inner, weight: layer.output, bias: layer.outputBias, outFeatures: h, into: xp, compute: compute)
                addLayerNorm(xp, residual: pp, rows: n, width: h, weight: layer.outputNormWeight,
                             bias: layer.outputNormBias, eps: eps)
            }}}}}}}}
            if capture.hiddenStates { hiddenStates.append(contentsOf: x) }
        }
        return EncoderOutput(
            lastHiddenState: x,
            attention: capture.attention
                ? AttentionMaps(layers: config.numHiddenLayers, heads: heads, tokens: n, values: attention) : nil,
            hiddenStates: capture.hiddenStates ? hiddenStates : nil)
    }

    /// LM head logits [rows.count, vocab] for the given rows of the final hidden states only.
    func lmLogits(hidden: [Float], rows: [Int], compute: Compute) -> [Float] {
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
            linear(tp, rows: m, inFeatures: h, weight: lmDense, bias: lmDenseBias, outFeatures: h, into: dp, compute: compute)
            activate(dp, count: m * h, .gelu, compute: compute)
            addLayerNorm(dp, residual: nil, rows: m, width: h, weight: lmNormWeight, bias: lmNormBias, eps: config.layerNormEps)
            linear(dp, rows: m, inFeatures: h, weight: decoder, bias: decoderBias, outFeatures: vocab, into: lp, compute: compute)
        }}}}
        return logits
    }
}
