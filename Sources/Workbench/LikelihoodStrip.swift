import Dispatch
import RoBERTa
import Scoring

/// Work for one model on one text, off the UI thread: scoring a sentence (`ScoreRequest`), measuring head
/// importance (`ImportanceRequest`).
public struct ModelTextRequest: Equatable, Sendable {
    /// An answer whose id is not the current request's for that model is stale and dropped.
    public var id: Int
    /// Index in `WorkbenchState.models`.
    public var model: Int
    /// The text (for scoring: no <mask>, the masks are filled in before).
    public var text: String

    public init(id: Int, model: Int, text: String) {
        self.id = id
        self.model = model
        self.text = text
    }
}

/// Score a sentence by pseudo-log-likelihood with one model.
public typealias ScoreRequest = ModelTextRequest

/// One model's pseudo-log-likelihood of the scored text (Salazar et al. 2020): every token but <s> and </s>
/// masked in turn, the natural log of the probability the model gives the original token there.
public struct ModelScore: Equatable, Sendable {
    /// The scored tokens as the vocabulary writes them ("Ġcapital"), to tell whether two models tokenized alike.
    public var byteLevel: [String]
    /// The same, decoded with whitespace visible ("␣capital"), as the strip shows them.
    public var tokens: [String]
    /// ln p(token | the rest of the sentence), one per token.
    public var logProbs: [Double]
    /// Σ logProbs.
    public var pll: Double
    /// exp(-pll / token count).
    public var pseudoPerplexity: Double
    /// Wall time of the run, in seconds.
    public var latency: Double
    /// Why the text could not be scored (too long, nothing to score); the numbers are empty then.
    public var error: String?

    public init(byteLevel: [String], tokens: [String], logProbs: [Double], pll: Double, pseudoPerplexity: Double,
                latency: Double = 0, error: String? = nil) {
        self.byteLevel = byteLevel
        self.tokens = tokens
        self.logProbs = logProbs
        self.pll = pll
        self.pseudoPerplexity = pseudoPerplexity
        self.latency = latency
        self.error = error
    }

    /// A score that could not be computed.
    public static func failed(_ message: String) -> ModelScore {
        ModelScore(byteLevel: [], tokens: [], logProbs: [], pll: 0, pseudoPerplexity: 0, error: message)
    }
}

/// The pseudo-log-likelihood strip under the sentence (F7): what was scored, for which models, and their
/// scores as they come back. It is computed on demand only; an edit of the sentence leaves it standing for the
/// sentence it was asked for (marked as such), and cancels a scoring still under way.
public struct LikelihoodStrip: Equatable, Sendable {
    /// The sentence as it was in the editor when F7 was pressed.
    public var source: String
    /// What was scored: `source` with each <mask> replaced by the teacher's top-1 candidate.
    public var text: String
    /// The model whose top-1 candidates filled the masks (the teacher), when the sentence had masks.
    public var filledBy: String?
    /// How many masks were filled.
    public var filled: Int
    /// The models scored, teacher first, as indices in `WorkbenchState.models`.
    public var models: [Int]
    /// The request id per model (same order).
    public var requests: [Int]
    /// The score per model (same order), nil until it came back.
    public var scores: [ModelScore?]
    /// The scoring was cancelled before every model answered because the sentence changed.
    public var cancelled = false

    public init(source: String, text: String, filledBy: String?, filled: Int, models: [Int], requests: [Int]) {
        self.source = source
        self.text = text
        self.filledBy = filledBy
        self.filled = filled
        self.models = models
        self.requests = requests
        self.scores = Array(repeating: nil, count: models.count)
    }

    /// Whether a model's score is still on its way.
    public var isPending: Bool { !cancelled && scores.contains(nil) }

    /// Whether the two models scored the same tokens (then their numbers can be compared token by token).
    public var sameTokens: Bool {
        guard scores.count == 2, let t = scores[0], let s = scores[1], t.error == nil, s.error == nil else { return false }
        return t.byteLevel == s.byteLevel
    }

    /// ln p(student) - ln p(teacher) per token, when both scored the same tokens; else empty.
    public var differences: [Double] {
        guard sameTokens, let t = scores[0], let s = scores[1] else { return [] }
        return zip(s.logProbs, t.logProbs).map { $0 - $1 }
    }

    /// The tokens where the models differ most: the (at most) three largest |difference|s of at least
    /// `LikelihoodStrip.notableDifference` nats, largest first.
    public var largestDifferences: [Int] {
        let d = differences
        return d.indices.filter { abs(d[$0]) >= Self.notableDifference }
            .sorted { abs(d[$0]) > abs(d[$1]) || (abs(d[$0]) == abs(d[$1]) && $0 < $1) }
            .prefix(3).map { $0 }
    }

    /// Below this many nats apart two models count as agreeing on a token.
    public static let notableDifference = 0.1
}

extension WorkbenchState {
    /// The models the strip scores now: the active one (the teacher) and, in compare mode, the compared one.
    public var scoredModels: [Int] { [activeModel] + (comparedModel.map { [$0] } ?? []) }

    /// Whether the strip shows the sentence in the editor with the models on screen.
    public var likelihoodIsCurrent: Bool {
        guard let strip = likelihood else { return false }
        return strip.source == text && strip.models == scoredModels && !strip.cancelled
    }
}

/// `analysis.text` with each mask (and the space it absorbed) replaced by its top-1 candidate, which keeps its
/// leading space, as accepting the candidate in the Candidates pane would put it.
public func textWithTopCandidates(_ analysis: Analysis) -> String {
    var scalars = Array(analysis.text.unicodeScalars)
    for mask in analysis.masks.sorted(by: { $0.span.lowerBound > $1.span.lowerBound }) {
        guard let best = mask.candidates.first else { continue }
        let lower = max(0, min(scalars.count, mask.span.lowerBound))
        let upper = max(lower, min(scalars.count, mask.span.upperBound))
        scalars.replaceSubrange(lower..<upper, with: Array(best.text.unicodeScalars))
    }
    var out = String.UnicodeScalarView()
    out.append(contentsOf: scalars)
    return String(out)
}

extension RobertaModel {
    /// `text`'s pseudo-log-likelihood for the strip: one batched pass over its copies with one token masked each.
    /// Nil when `cancellation` stopped it (its answer would be stale).
    public func scoreSentence(_ text: String, cancellation: Cancellation? = nil) -> ModelScore? {
        let start = DispatchTime.now()
        do {
            // Passes of at most 1,024 tokens: a cancel waits for at most one layer of one of them, while the
            // weights are still streamed for many copies at once.
            let score = try pseudoLogLikelihood(text, batchTokens: 1024, cancellation: cancellation)
            var result = ModelScore(byteLevel: score.tokens,
                                    tokens: score.ids.dropFirst().dropLast().map { visibleWhitespace(tokenizer.decode([$0])) },
                                    logProbs: score.tokenLogProbs, pll: score.pll, pseudoPerplexity: score.pseudoPerplexity)
            result.latency = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
            return result
        } catch InferenceError.cancelled {
            return nil
        } catch InferenceError.inputTooLong(let count, let maximum) {
            return .failed("\(count) tokens, more than the \(maximum) this model takes")
        } catch {
            if cancellation?.isCancelled == true { return nil }
            return .failed(String(describing: error))
        }
    }
}

/// F7: open the strip and score the sentence; again on a current strip: close it.
func likelihoodToggled(_ state: inout WorkbenchState) -> [Effect] {
    var effects: [Effect] = []
    if let strip = state.likelihood {
        if strip.isPending { effects.append(.cancelScoring) }
        if state.likelihoodIsCurrent {
            state.likelihood = nil
            state.notice = Notice("pseudo-log-likelihood strip closed")
            return effects
        }
    }
    guard state.model != nil else { return effects }
    // The shown result must be for this text; a run under way for the same text (compare just turned on asks
    // for the logits) has the same top-1 candidates, so it need not be waited for.
    guard let teacher = state.analysis, teacher.text == state.text else {
        state.notice = Notice("the candidates are on their way; press F7 (p) again in a moment to score the sentence", isError: true)
        return effects
    }
    if teacher.masks.isEmpty, state.text.contains("<mask>") {
        state.notice = Notice("cannot fill the masks to score the sentence: \(teacher.error ?? "no candidates")", isError: true)
        return effects
    }
    let text = teacher.masks.isEmpty ? state.text : textWithTopCandidates(teacher)
    guard text.contains(where: { !$0.isWhitespace }) else {
        state.notice = Notice("nothing to score: type a sentence first", isError: true)
        return effects
    }
    let models = state.scoredModels
    var ids: [Int] = []
    for model in models {
        ids.append(state.nextRequestID)
        state.nextRequestID += 1
        effects.append(.scoreSentence(ScoreRequest(id: ids.last ?? 0, model: model, text: text)))
    }
    state.likelihood = LikelihoodStrip(source: state.text, text: text, filledBy: teacher.masks.isEmpty ? nil : state.models[state.activeModel].name,
                                       filled: teacher.masks.count, models: models, requests: ids)
    return effects
}
