import Foundation
import RoBERTa

/// A sentence's pseudo-log-likelihood (Salazar et al. 2020, "Masked Language Model Scoring"): every token but
/// <s> and </s> masked in turn, the log-probability the model gives the original token there, summed.
public struct SentenceScore: Sendable {
    public let text: String
    /// The token ids with <s> and </s>.
    public let ids: [Int]
    /// The scored tokens (the vocabulary's byte-level strings, "Ġ" for a space), without <s> and </s>.
    public let tokens: [String]
    /// Natural log of each scored token's probability with it masked, in the order of `tokens`.
    public let tokenLogProbs: [Double]

    /// The sum of `tokenLogProbs`.
    public var pll: Double { tokenLogProbs.reduce(0, +) }
    /// exp(-pll / count of scored tokens).
    public var pseudoPerplexity: Double { exp(-pll / Double(tokenLogProbs.count)) }
}

/// Problems with what was asked to be scored.
public enum ScoringError: Error, CustomStringConvertible, Equatable {
    /// The text has no token between <s> and </s>.
    case nothingToScore(text: String)

    public var description: String {
        switch self {
        case .nothingToScore(let text):
            let shown = text.count > 40 ? String(text.prefix(40)) + "…" : text
            return "\"\(shown)\" has no token to score (only <s> and </s>); give a text with at least one word"
        }
    }
}

extension RobertaModel {
    /// The pseudo-log-likelihood of `text`: one packed pass over its copies with one token masked each.
    public func pseudoLogLikelihood(_ text: String, batchTokens: Int = RobertaModel.defaultBatchTokens,
                                    cancellation: Cancellation? = nil) throws -> SentenceScore {
        try pseudoLogLikelihoods([text], batchTokens: batchTokens, cancellation: cancellation)[0]
    }

    /// Pseudo-log-likelihoods of several texts, their masked copies packed together.
    public func pseudoLogLikelihoods(_ texts: [String], batchTokens: Int = RobertaModel.defaultBatchTokens,
                                     cancellation: Cancellation? = nil) throws -> [SentenceScore] {
        let encoded = try texts.map { text -> [Int] in
            let ids = try inputIDs(for: text)
            guard ids.count > 2 else { throw ScoringError.nothingToScore(text: text) }
            return ids
        }
        var sequences: [[Int]] = []
        var rows: [[Int]] = []
        for ids in encoded {
            for position in 1..<(ids.count - 1) {
                var masked = ids
                masked[position] = tokenizer.maskID
                sequences.append(masked)
                rows.append([position])
            }
        }
        let logits = try self.logits(batch: sequences, at: rows, batchTokens: batchTokens, cancellation: cancellation)
        var next = 0
        return zip(texts, encoded).map { text, ids in
            var logProbs: [Double] = []
            for position in 1..<(ids.count - 1) {
                logProbs.append(LogDistribution(logits: logits[next]).logProbabilities[ids[position]])
                next += 1
            }
            let tokens = ids[1..<(ids.count - 1)].map { tokenizer.token(of: $0) ?? "" }
            return SentenceScore(text: text, ids: ids, tokens: tokens, tokenLogProbs: logProbs)
        }
    }
}
