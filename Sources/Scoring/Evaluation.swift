import Foundation
import RoBERTa
import Tokenizer

/// How `maskscope eval` masks.
public enum EvalMode: String, CaseIterable, Sendable, Codable {
    /// A share of the word-initial tokens, each masked on its own (one pass per masked token).
    case one
    /// The same tokens, all masked at once (one pass per sentence).
    case all
    /// Every token but <s> and </s>, each masked on its own: the pseudo-log-likelihood.
    case pll
}

public struct EvalOptions: Sendable, Equatable {
    public var mode: EvalMode = .one
    public var seed: UInt64 = 0
    /// The share of word-initial tokens masked in modes one and all (at least one per sentence).
    public var fraction: Double = 0.15
    /// Tokens per packed forward pass.
    public var batchTokens: Int = RobertaModel.defaultBatchTokens
    /// How many of the sentences where the two models part most are kept.
    public var worst: Int = 5

    public init() {}
}

/// One scored sequence: a document, or a window of one too long for the model (cut at token boundaries).
public struct EvalUnit: Sendable, Equatable {
    public let document: Int
    public let window: Int
    public let text: String
    /// With <s> and </s>.
    public let ids: [Int]
}

/// Cuts documents into units the model takes, and picks the tokens to mask.
public enum EvalPlan {
    /// The units of `documents` (index in the corpus, text) for a model that takes `maxTokens` tokens: a document
    /// of more than maxTokens - 2 tokens becomes consecutive windows of that many tokens (the last shorter).
    public static func units(_ documents: [(index: Int, text: String)], tokenizer: BPETokenizer, maxTokens: Int) -> [EvalUnit] {
        let width = max(1, maxTokens - 2)
        var units: [EvalUnit] = []
        for (index, text) in documents {
            let ids = tokenizer.encode(text, addSpecialTokens: false).ids
            if ids.isEmpty { continue }
            var start = 0, window = 0
            while start < ids.count {
                let piece = Array(ids[start..<min(ids.count, start + width)])
                let pieceText = ids.count <= width ? text : tokenizer.decode(piece)
                units.append(EvalUnit(document: index, window: window, text: pieceText, ids: [tokenizer.bosID] + piece + [tokenizer.eosID]))
                start += width
                window += 1
            }
        }
        return units
    }

    /// The positions to mask in `unit`. pll: every token but the first and last. one/all: among the word-initial
    /// tokens (the first after <s>, and every token whose byte-level string starts with "Ġ", a space), not special,
    /// floor(fraction x count + 0.5) of them (at least one), drawn by a generator seeded with (seed, document,
    /// window), so a sentence gets the same positions whatever the shard, limit or batch. Sorted.
    public static func positions(_ unit: EvalUnit, tokenizer: BPETokenizer, mode: EvalMode, fraction: Double, seed: UInt64) -> [Int] {
        let inner = Array(1..<max(1, unit.ids.count - 1))
        if mode == .pll { return inner }
        let candidates = inner.filter { p in
            let id = unit.ids[p]
            guard !tokenizer.isSpecial(id) else { return false }
            return p == 1 || (tokenizer.token(of: id)?.hasPrefix("Ġ") ?? false)
        }
        guard !candidates.isEmpty else { return [] }
        let count = min(candidates.count, max(1, Int((fraction * Double(candidates.count) + 0.5).rounded(.down))))
        var generator = SplitMix64(seed: seed ^ (UInt64(unit.document) &* 0x9E37_79B9_7F4A_7C15) ^ (UInt64(unit.window) &* 0xC2B2_AE3D_27D4_EB4F))
        var pool = candidates
        for i in 0..<count {
            let j = i + Int(generator.next() % UInt64(pool.count - i))
            pool.swapAt(i, j)
        }
        return pool.prefix(count).sorted()
    }

    /// The sequences one unit needs (each with its masked rows): one per position (one, pll) or one in all.
    static func sequences(_ unit: EvalUnit, positions: [Int], mode: EvalMode, maskID: Int) -> [(ids: [Int], rows: [Int])] {
        switch mode {
        case .one, .pll:
            return positions.map { p in
                var ids = unit.ids
                ids[p] = maskID
                return (ids, [p])
            }
        case .all:
            var ids = unit.ids
            for p in positions { ids[p] = maskID }
            return [(ids, positions)]
        }
    }
}

/// A small, fast, well-mixed generator (Steele, Lea & Flood 2014), so that masking does not depend on the
/// platform's random number generator.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// What one model gave at one unit's masked positions.
public struct ModelUnitResult: Sendable {
    /// Natural log of the original token's probability at each position.
    public let logProbs: [Double]
    /// 1-based rank of the original token over the vocabulary (ties to the lower id).
    public let ranks: [Int]
    /// The five most probable ids at each position.
    public let top5: [[Int]]
}

/// One unit's results: per model, and how the two compare at each position.
public struct UnitResult: Sendable {
    public let unit: EvalUnit
    public let positions: [Int]
    public let models: [ModelUnitResult]
    /// With two models sharing a vocabulary: the comparison at each position (teacher = the first model).
    public let agreement: [DistributionComparison]?
}

/// Runs the evaluation: units in packed batches through each model, the measures summed as they come.
public final class Evaluator {
    public let models: [RobertaModel]
    public let names: [String]
    public let options: EvalOptions
    /// One model, or two that share a vocabulary (`sharesVocabulary`): only those are run side by side and
    /// compared; two others are evaluated one after the other, each with its own tokenizer.
    public init(models: [RobertaModel], names: [String], options: EvalOptions) {
        precondition(!models.isEmpty && models.count <= 2 && models.count == names.count)
        precondition(models.count == 1 || Self.sharesVocabulary(models[0], models[1]), "two models must share a vocabulary")
        self.models = models
        self.names = names
        self.options = options
    }

    /// Whether two models have the same token strings under the same ids (and the same special tokens).
    public static func sharesVocabulary(_ a: RobertaModel, _ b: RobertaModel) -> Bool {
        guard a.config.vocabSize == b.config.vocabSize, a.tokenizer.maskID == b.tokenizer.maskID,
              a.tokenizer.bosID == b.tokenizer.bosID, a.tokenizer.eosID == b.tokenizer.eosID else { return false }
        return (0..<a.config.vocabSize).allSatisfy { a.tokenizer.token(of: $0) == b.tokenizer.token(of: $0) }
    }

    /// The units of the selected documents (tokenised by the first model; both take the shorter of the two
    /// models' lengths when they are compared).
    public func units(_ documents: [(index: Int, text: String)]) -> [EvalUnit] {
        let maxTokens = models.map(\.config.maxTokens).min()!
        return EvalPlan.units(documents, tokenizer: models[0].tokenizer, maxTokens: maxTokens)
    }

    /// Evaluates `units` in order; `report` is updated as batches finish (so an interrupted run still has what was
    /// measured). `progress(done units)` is called after each batch; `onUnit` gets each unit's results.
    /// Stops early (without error) when `cancellation` is set; `report.complete` is then false.
    public func run(_ units: [EvalUnit], into report: inout EvalReport, cancellation: Cancellation? = nil,
                    progress: (Int) -> Void = { _ in }, onUnit: (UnitResult) -> Void = { _ in }) throws {
        let start = Date()
        defer { report.seconds += Date().timeIntervalSince(start) }
        report.complete = false
        var next = 0
        while next < units.count {
            if cancellation?.isCancelled == true { return }
            // A batch: whole units, until their sequences hold batchTokens tokens (at least one unit).
            var batchUnits: [(unit: EvalUnit, positions: [Int], first: Int, count: Int)] = []
            var sequences: [[Int]] = []
            var rows: [[Int]] = []
            var tokens = 0
            while next < units.count, batchUnits.isEmpty || tokens < options.batchTokens {
                let unit = units[next]
                next += 1
                let positions = EvalPlan.positions(unit, tokenizer: models[0].tokenizer, mode: options.mode,
                                                   fraction: options.fraction, seed: options.seed)
                guard !positions.isEmpty else { report.skippedUnits += 1; continue }
                let made = EvalPlan.sequences(unit, positions: positions, mode: options.mode, maskID: models[0].tokenizer.maskID)
                batchUnits.append((unit, positions, sequences.count, made.count))
                for (ids, r) in made { sequences.append(ids); rows.append(r); tokens += ids.count }
            }
            if batchUnits.isEmpty { continue }
            let logits: [[[Float]]]
            do {
                logits = try models.map { try $0.logits(batch: sequences, at: rows, batchTokens: options.batchTokens, cancellation: cancellation) }
            } catch InferenceError.cancelled {
                return
            }
            for item in batchUnits {
                // The distributions at each masked position, per model, in position order.
                var perModel: [[LogDistribution]] = []
                for (m, model) in models.enumerated() {
                    let vocab = model.config.vocabSize
                    var distributions: [LogDistribution] = []
                    for s in item.first..<(item.first + item.count) {
                        let flat = logits[m][s]
                        for r in 0..<rows[s].count {
                            distributions.append(LogDistribution(logits: flat[(r * vocab)..<((r + 1) * vocab)]))
                        }
                    }
                    perModel.append(distributions)
                }
                let result = score(item.unit, positions: item.positions, perModel)
                report.add(result) { self.models[0].tokenizer.decode([$0]) }
                onUnit(result)
            }
            progress(next)
        }
        report.complete = true
    }

    func score(_ unit: EvalUnit, positions: [Int], _ perModel: [[LogDistribution]]) -> UnitResult {
        let originals = positions.map { unit.ids[$0] }
        let results = perModel.map { distributions in
            ModelUnitResult(logProbs: zip(distributions, originals).map { $0.logProbabilities[$1] },
                            ranks: zip(distributions, originals).map { $0.rank(of: $1) },
                            top5: distributions.map { $0.top(5) })
        }
        let agreement = perModel.count == 2
            ? zip(perModel[0], perModel[1]).map { DistributionComparison($0, $1, k: 5) } : nil
        return UnitResult(unit: unit, positions: positions, models: results, agreement: agreement)
    }
}
