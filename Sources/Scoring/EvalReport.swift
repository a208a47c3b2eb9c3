import Foundation

/// What an evaluation measured, kept as sums so that the reports of shards merge exactly into the report of the
/// whole corpus (`merge`); the rates and means are derived from the sums.
public struct EvalReport: Codable, Sendable, Equatable {
    public struct ModelTotals: Codable, Sendable, Equatable {
        public var model: String
        /// Units (sentences or windows) scored.
        public var sentences = 0
        public var maskedTokens = 0
        public var top1Hits = 0
        public var top5Hits = 0
        /// Sum of the natural log of each masked token's probability.
        public var logLikelihoodSum = 0.0

        public init(model: String) { self.model = model }

        public var top1Accuracy: Double { ratio(top1Hits, maskedTokens) }
        public var top5Accuracy: Double { ratio(top5Hits, maskedTokens) }
        public var meanLogLikelihood: Double { maskedTokens > 0 ? logLikelihoodSum / Double(maskedTokens) : .nan }
        /// exp(-sum of log-likelihoods / masked tokens): in mode pll the corpus's pseudo-perplexity,
        /// exp(-(sum of the sentences' pll) / (their token count)); in modes one and all the same formula over the
        /// masked sample.
        public var pseudoPerplexity: Double { maskedTokens > 0 ? exp(-logLikelihoodSum / Double(maskedTokens)) : .nan }

        enum CodingKeys: String, CodingKey {
            case model, sentences
            case maskedTokens = "masked_tokens", top1Hits = "top1_hits", top5Hits = "top5_hits"
            case logLikelihoodSum = "log_likelihood_sum"
        }
    }

    public struct AgreementTotals: Codable, Sendable, Equatable {
        /// The models compared: the second (student) against the first (teacher).
        public var teacher: String
        public var student: String
        public var masks = 0
        public var top1Agreements = 0
        public var klSum = 0.0
        public var jsSum = 0.0
        public var overlapSum = 0.0
        public var spearmanSum = 0.0
        /// Masks where Spearman's rho is defined.
        public var spearmanCount = 0

        public init(teacher: String, student: String) {
            self.teacher = teacher
            self.student = student
        }

        public var top1Agreement: Double { ratio(top1Agreements, masks) }
        public var meanKL: Double { masks > 0 ? klSum / Double(masks) : .nan }
        public var meanJS: Double { masks > 0 ? jsSum / Double(masks) : .nan }
        public var meanOverlap: Double { masks > 0 ? overlapSum / Double(masks) : .nan }
        public var meanSpearman: Double? { spearmanCount > 0 ? spearmanSum / Double(spearmanCount) : nil }

        enum CodingKeys: String, CodingKey {
            case teacher, student, masks
            case top1Agreements = "top1_agreements", klSum = "kl_sum", jsSum = "js_sum", overlapSum = "top5_overlap_sum"
            case spearmanSum = "spearman_sum", spearmanCount = "spearman_count"
        }
    }

    /// A sentence where the student parts most from the teacher (by the mean KL over its masks).
    public struct Disagreement: Codable, Sendable, Equatable {
        public var document: Int
        public var window: Int
        public var text: String
        public var meanKL: Double
        /// At the mask with the largest KL: the original token, and each model's first choice.
        public var token: String
        public var teacherTop: String
        public var studentTop: String
        public var kl: Double

        enum CodingKeys: String, CodingKey {
            case document, window, text, token, kl
            case meanKL = "mean_kl", teacherTop = "teacher_top", studentTop = "student_top"
        }
    }

    public var mode: EvalMode
    public var seed: UInt64
    public var fraction: Double
    /// Documents whose units were run (after --limit and --shard).
    public var documents = 0
    /// Units with no token to mask (no word-initial token).
    public var skippedUnits = 0
    public var models: [ModelTotals]
    public var agreement: AgreementTotals?
    public var worst: [Disagreement] = []
    /// How many of `worst` to keep.
    public var worstKept: Int
    /// Wall-clock seconds of the forward passes and scoring (summed over merged parts).
    public var seconds = 0.0
    /// False when the run was interrupted: the figures cover the units done so far.
    public var complete = true
    /// The shards merged into this report ("1/4", ...), or the shard it is.
    public var shards: [String] = []

    enum CodingKeys: String, CodingKey {
        case mode, seed, fraction, documents, models, agreement, worst, seconds, complete, shards
        case skippedUnits = "skipped_units", worstKept = "worst_kept"
    }

    public init(options: EvalOptions, models: [String], compared: Bool) {
        mode = options.mode
        seed = options.seed
        fraction = options.fraction
        self.models = models.map(ModelTotals.init(model:))
        agreement = compared && models.count == 2 ? AgreementTotals(teacher: models[0], student: models[1]) : nil
        worstKept = options.worst
    }

    /// Adds one unit's results; `decode` shows a token id in `worst`.
    mutating func add(_ result: UnitResult, decode: (Int) -> String) {
        for (m, model) in result.models.enumerated() {
            models[m].sentences += 1
            models[m].maskedTokens += model.logProbs.count
            models[m].logLikelihoodSum += model.logProbs.reduce(0, +)
            models[m].top1Hits += model.ranks.filter { $0 == 1 }.count
            models[m].top5Hits += model.ranks.filter { $0 <= 5 }.count
        }
        guard let comparisons = result.agreement, agreement != nil, !comparisons.isEmpty else { return }
        for c in comparisons {
            agreement!.masks += 1
            agreement!.top1Agreements += c.top1Agree ? 1 : 0
            agreement!.klSum += c.kl
            agreement!.jsSum += c.js
            agreement!.overlapSum += c.overlap
            if let rho = c.spearman { agreement!.spearmanSum += rho; agreement!.spearmanCount += 1 }
        }
        let meanKL = comparisons.map(\.kl).reduce(0, +) / Double(comparisons.count)
        if worst.count < worstKept || meanKL > (worst.last?.meanKL ?? -.infinity) {
            let at = comparisons.indices.max { comparisons[$0].kl < comparisons[$1].kl }!
            worst.append(Disagreement(document: result.unit.document, window: result.unit.window, text: result.unit.text,
                                      meanKL: meanKL, token: decode(result.unit.ids[result.positions[at]]),
                                      teacherTop: decode(result.models[0].top5[at].first ?? 0),
                                      studentTop: decode(result.models[1].top5[at].first ?? 0), kl: comparisons[at].kl))
            sortWorst()
        }
    }

    mutating func sortWorst() {
        worst.sort { ($0.meanKL, $1.document, $1.window) > ($1.meanKL, $0.document, $0.window) }
        if worst.count > worstKept { worst.removeLast(worst.count - worstKept) }
    }

    /// Sums the reports of several shards (or any parts of one corpus run with the same models, mode, seed and
    /// fraction) into one.
    public static func merge(_ parts: [EvalReport]) throws -> EvalReport {
        guard var merged = parts.first else { throw EvalMergeError.nothingToMerge }
        merged.shards = parts[0].shards
        for (i, part) in parts.enumerated().dropFirst() {
            guard part.models.map(\.model) == merged.models.map(\.model) else {
                throw EvalMergeError.mismatch(part: i + 1, what: "models", detail: "\(part.models.map(\.model)) vs \(merged.models.map(\.model))")
            }
            guard part.mode == merged.mode, part.seed == merged.seed, part.fraction == merged.fraction else {
                throw EvalMergeError.mismatch(part: i + 1, what: "settings", detail: "mode \(part.mode.rawValue), seed \(part.seed), fraction \(part.fraction) vs mode \(merged.mode.rawValue), seed \(merged.seed), fraction \(merged.fraction)")
            }
            guard (part.agreement == nil) == (merged.agreement == nil) else {
                throw EvalMergeError.mismatch(part: i + 1, what: "agreement", detail: "one part compares the models and another does not")
            }
            if let overlap = Set(part.shards).intersection(merged.shards).first {
                throw EvalMergeError.mismatch(part: i + 1, what: "shards", detail: "shard \(overlap) appears twice")
            }
            merged.documents += part.documents
            merged.skippedUnits += part.skippedUnits
            for m in merged.models.indices {
                merged.models[m].sentences += part.models[m].sentences
                merged.models[m].maskedTokens += part.models[m].maskedTokens
                merged.models[m].top1Hits += part.models[m].top1Hits
                merged.models[m].top5Hits += part.models[m].top5Hits
                merged.models[m].logLikelihoodSum += part.models[m].logLikelihoodSum
            }
            if let a = part.agreement {
                merged.agreement!.masks += a.masks
                merged.agreement!.top1Agreements += a.top1Agreements
                merged.agreement!.klSum += a.klSum
                merged.agreement!.jsSum += a.jsSum
                merged.agreement!.overlapSum += a.overlapSum
                merged.agreement!.spearmanSum += a.spearmanSum
                merged.agreement!.spearmanCount += a.spearmanCount
            }
            merged.worst += part.worst
            merged.seconds += part.seconds
            merged.complete = merged.complete && part.complete
            merged.shards += part.shards
        }
        merged.sortWorst()
        return merged
    }
}

public enum EvalMergeError: Error, CustomStringConvertible, Equatable {
    case nothingToMerge
    case mismatch(part: Int, what: String, detail: String)

    public var description: String {
        switch self {
        case .nothingToMerge: return "no report to merge; give the --json outputs of the shards"
        case .mismatch(let part, let what, let detail):
            return "report \(part) cannot be merged with the first: its \(what) differ (\(detail)); merge only the shards of one run"
        }
    }
}

func ratio(_ a: Int, _ b: Int) -> Double { b > 0 ? Double(a) / Double(b) : .nan }
