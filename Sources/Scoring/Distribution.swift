import Foundation
import RoBERTa

/// A model's distribution over its vocabulary at one position, as natural-log probabilities in double:
/// log_softmax of the float32 logits, the normaliser summed in double.
public struct LogDistribution: Sendable {
    public let logProbabilities: [Double]

    public init(logits: ArraySlice<Float>) {
        logProbabilities = logSoftmax(logits)
    }

    public init(logits: [Float]) { self.init(logits: logits[...]) }

    init(logProbabilities: [Double]) { self.logProbabilities = logProbabilities }

    public var count: Int { logProbabilities.count }

    /// The `k` ids with the highest probability, best first; ties go to the lower id.
    public func top(_ k: Int) -> [Int] { topK(logProbabilities, among: logProbabilities.indices, k: k) }

    /// The 1-based rank of `id` over the whole vocabulary (ties go to the lower id, as `top` orders them).
    public func rank(of id: Int) -> Int { RoBERTa.rank(of: id, in: logProbabilities) }

    /// The distribution restricted to `ids` (in that order) and renormalised over them.
    func restricted(to ids: [Int]) -> LogDistribution {
        let values = ids.map { logProbabilities[$0] }
        let maxValue = values.max() ?? 0
        let logSum = maxValue + log(values.reduce(0) { $0 + exp($1 - maxValue) })
        return LogDistribution(logProbabilities: values.map { $0 - logSum })
    }
}

/// How far apart two distributions over the same ids are at one position: p is the first model's (the teacher),
/// q the second's (the student). Natural logs.
public struct DistributionComparison: Sendable, Equatable {
    /// KL(p || q) = sum p (log p - log q).
    public let kl: Double
    /// Jensen-Shannon divergence: (KL(p || m) + KL(q || m)) / 2 with m = (p + q) / 2; at most ln 2.
    public let js: Double
    /// Whether both put the same id first.
    public let top1Agree: Bool
    /// |top-k(p) ∩ top-k(q)| / k.
    public let overlap: Double
    /// Spearman's rho between the two models' rankings of the union of their top-k lists (average ranks for
    /// ties); nil when the union has fewer than two ids or a ranking is constant.
    public let spearman: Double?
    /// The k of the overlap and the rank correlation.
    public let k: Int
    /// How many ids were compared: the whole vocabulary, or the token strings the two vocabularies share.
    public let compared: Int

    /// Compares p and q over the same ids.
    public init(_ p: LogDistribution, _ q: LogDistribution, k: Int = 5) {
        precondition(p.count == q.count && p.count > 0, "distributions over the same ids")
        let lp = p.logProbabilities, lq = q.logProbabilities
        var kl = 0.0, js = 0.0
        for i in lp.indices {
            let pi = exp(lp[i]), qi = exp(lq[i])
            if pi > 0 { kl += pi * (lp[i] - lq[i]) }
            let mi = 0.5 * (pi + qi)
            guard mi > 0 else { continue }
            let logM = log(mi)
            if pi > 0 { js += 0.5 * pi * (lp[i] - logM) }
            if qi > 0 { js += 0.5 * qi * (lq[i] - logM) }
        }
        let k = min(k, lp.count)
        let topP = p.top(k), topQ = q.top(k)
        self.kl = max(0, kl)
        self.js = max(0, js)
        top1Agree = topP.first == topQ.first
        overlap = Double(Set(topP).intersection(topQ).count) / Double(k)
        var union = topP
        for id in topQ where !union.contains(id) { union.append(id) }
        spearman = spearmanRho(union.map { lp[$0] }, union.map { lq[$0] })
        self.k = k
        compared = lp.count
    }
}

/// Two vocabularies matched by token string, for models that do not share a tokenizer: the ids of each model
/// whose strings the other has too, in the first model's id order.
public struct VocabularyAlignment: Sendable {
    public let first: [Int]
    public let second: [Int]
    /// Whether the two vocabularies are the same strings under the same ids (then nothing is restricted).
    public let identical: Bool

    /// - Parameters: `firstTokens[i]` is the first model's string for id i (likewise the second).
    public init(firstTokens: [String], secondTokens: [String]) {
        if firstTokens == secondTokens {
            first = Array(firstTokens.indices)
            second = first
            identical = true
            return
        }
        var index: [String: Int] = [:]
        for (id, token) in secondTokens.enumerated() where index[token] == nil { index[token] = id }
        var a: [Int] = [], b: [Int] = []
        var seen = Set<String>()
        for (id, token) in firstTokens.enumerated() where !seen.contains(token) {
            seen.insert(token)
            if let other = index[token] { a.append(id); b.append(other) }
        }
        first = a
        second = b
        identical = false
    }

    /// Compares two distributions: over every id when the vocabularies are identical, else over the shared
    /// strings, each distribution renormalised over them (the ids in the result are positions in `first`).
    public func compare(_ p: LogDistribution, _ q: LogDistribution, k: Int = 5) -> DistributionComparison {
        if identical { return DistributionComparison(p, q, k: k) }
        return DistributionComparison(p.restricted(to: first), q.restricted(to: second), k: k)
    }
}

/// Ranks 1...n, 1 for the largest value, ties sharing their average rank.
func averageRanks(_ values: [Double]) -> [Double] {
    let order = values.indices.sorted { values[$0] > values[$1] }
    var ranks = [Double](repeating: 0, count: values.count)
    var i = 0
    while i < order.count {
        var j = i
        while j + 1 < order.count, values[order[j + 1]] == values[order[i]] { j += 1 }
        let rank = Double(i + j) / 2 + 1
        for t in i...j { ranks[order[t]] = rank }
        i = j + 1
    }
    return ranks
}

/// Spearman's rho: the Pearson correlation of the average ranks; nil below two values or for a constant ranking.
func spearmanRho(_ a: [Double], _ b: [Double]) -> Double? {
    guard a.count >= 2, a.count == b.count else { return nil }
    let ra = averageRanks(a), rb = averageRanks(b)
    let n = Double(ra.count)
    let ma = ra.reduce(0, +) / n, mb = rb.reduce(0, +) / n
    var cov = 0.0, va = 0.0, vb = 0.0
    for i in ra.indices {
        cov += (ra[i] - ma) * (rb[i] - mb)
        va += (ra[i] - ma) * (ra[i] - ma)
        vb += (rb[i] - mb) * (rb[i] - mb)
    }
    guard va > 0, vb > 0 else { return nil }
    return cov / (va * vb).squareRoot()
}
