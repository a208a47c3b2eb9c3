import Dispatch
import Foundation
import RoBERTa
import Tokenizer

/// What to run: one text through one loaded model.
public struct InferenceRequest: Equatable, Sendable {
    /// Grows with every request; a finished run whose id is not the latest for its model is stale.
    public var id: Int
    /// Index of the model in `WorkbenchState.models`.
    public var model: Int
    public var text: String
    public var topK: Int
    /// Keep the logits over the whole vocabulary at each mask (`Analysis.maskLogits`), for compare mode's measures.
    public var maskLogits: Bool
    /// Heads to knock out (their context zeroed) while filling the masks.
    public var knockout: Set<HeadRef>
    /// Which attention values besides the weights to produce: norms need a capture in the forward pass, the
    /// rollout is computed from the weights afterwards (both on the inference thread).
    public var values: AttentionValues
    /// Run the logit lens at each mask too (only while the lens view is open: it costs a second pass).
    public var lens: Bool

    public init(id: Int, model: Int, text: String, topK: Int, maskLogits: Bool = false, knockout: Set<HeadRef> = [],
                values: AttentionValues = .weights, lens: Bool = false) {
        self.lens = lens
        self.id = id
        self.model = model
        self.text = text
        self.topK = topK
        self.maskLogits = maskLogits
        self.knockout = knockout
        self.values = values
    }
}

extension RobertaModel {
    /// Tokenizes `text` with merge traces and, when it holds a mask, runs fill-mask with attention capture.
    /// A `cancellation` set during the run ends it early with `error` saying so. With `maskLogits`, the logits
    /// over the whole vocabulary at each mask are kept too (those the candidates were ranked from).
    ///
    /// `knockout` heads are zeroed in the forward pass; `values` asks for the attention norms (captured in the pass) or
    /// the rollout (computed from the weights). The head statistics are always computed from the weights.
    public func analyse(_ text: String, topK: Int, maskLogits: Bool = false, knockout: Set<HeadRef> = [],
                        values: AttentionValues = .weights, lens: Bool = false, cancellation: Cancellation? = nil) -> Analysis {
        let start = DispatchTime.now()
        let encoding = tokenizer.encode(text, trace: true)
        // The text's tokens are the words' tokens in order; <s> and </s> belong to no word.
        var wordOfToken = [Int?](repeating: nil, count: encoding.count)
        var next = 0
        for (w, word) in encoding.words.enumerated() {
            for _ in word.tokens {
                while next < encoding.count, encoding.specialTokensMask[next] == 1 { next += 1 }
                guard next < encoding.count else { break }
                wordOfToken[next] = w
                next += 1
            }
        }
        let tokens = encoding.ids.indices.map { i -> TokenRow in
            let id = encoding.ids[i]
            return TokenRow(id: id, byteLevel: encoding.tokens[i], readable: visibleWhitespace(tokenizer.decode([id])),
                            span: encoding.offsets[i], word: wordOfToken[i])
        }
        var analysis = Analysis(text: text, tokens: tokens, words: encoding.words)
        analysis.knockout = knockout
        do {
            // The ids of the traced encoding: the text is tokenized once per keystroke, not twice.
            let options = FillMaskOptions(topK: topK, capture: CaptureOptions(attention: true, norms: values == .norms), knockout: knockout)
            let result = try fillMask(ids: encoding.ids, options: options, text: text, cancellation: cancellation)
            analysis.masks = result.masks.map { mask in
                let word = tokens[mask.position].word.map { encoding.words[$0].range }
                return MaskRow(mask, span: word ?? tokens[mask.position].span)
            }
            analysis.attention = result.attention
            if let maps = result.attention {
                analysis.headStats = headStatistics(maps, ids: encoding.ids)
                if values == .rollout { analysis.rollout = attentionRollout(maps) }
            }
            if values == .norms { analysis.norms = result.encoder.norms }
            // The lens is a view, not the answer: if it fails the candidates still show, and the view says it is missing.
            if lens { analysis.lens = try? logitLens(ids: encoding.ids, topK: topK, knockout: knockout, cancellation: cancellation) }
            // fillMask keeps only the top-k of each mask; the measures need whole distributions. Without them the
            // candidates still show, and the measures are absent.
            if maskLogits { analysis.maskLogits = result.maskLogits }
        } catch InferenceError.noMaskToken {
            analysis.error = "no <mask> yet: type <mask> (or press Ctrl-O) where the model should fill in a word"
        } catch InferenceError.inputTooLong(let count, let maximum) {
            // The engine's message offers --truncate, which is the command line's; here the text must shrink.
            analysis.error = "the text is \(count) tokens (with <s> and </s>) but this model takes at most \(maximum); "
                + "shorten it by \(count - maximum) tokens (Ctrl-W deletes a word)"
        } catch {
            analysis.error = String(describing: error)
        }
        analysis.latency = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        return analysis
    }
}

/// Runs inference on one background thread, coalescing: while a run is going, only the latest request per
/// model waits; older waiting ones are dropped, as their answers would be stale anyway, and a running one
/// for the same model is cancelled (it stops before its next layer and delivers nothing).
///
/// The same thread measures compare mode's distributions (`submitComparison`) and scores sentences for the
/// pseudo-log-likelihood strip (`submitScore`), after the waiting inference runs, so the candidates of the
/// last key come first and two cores are never shared by two forward passes.
public final class InferenceScheduler: @unchecked Sendable {
    private var models: [RobertaModel]
    private let queue = DispatchQueue(label: "maskscope.inference", qos: .userInitiated)
    private let lock = NSLock()
    private var running = false
    private var pending: [Int: InferenceRequest] = [:]
    /// The latest comparison asked for and not started.
    private var pendingComparison: ComparisonRequest?
    /// Scorings not started, oldest first, at most one per model.
    private var pendingScores: [ScoreRequest] = []
    /// The head-importance run asked for and not started.
    private var pendingImportance: ImportanceRequest?
    /// The work going now: what it is, for which model, and how to stop it.
    private var current: (kind: WorkKind, model: Int, cancellation: Cancellation)?
    /// The model of the last run started.
    private var lastModel = -1
    /// The vocabularies of each compared pair, matched once (only the queue's thread touches it).
    private var pairs: [[Int]: VocabularyPair] = [:]
    private let deliver: @Sendable (InferenceRequest, Analysis) -> Void
    private let finished: @Sendable (Action) -> Void

    private enum WorkKind { case inference, score, importance }

    /// - Parameters:
    ///   - deliver: called on the background thread with each finished run.
    ///   - finished: called on the background thread with each finished comparison and scoring
    ///     (`.comparisonFinished`, `.scoreFinished`).
    public init(models: [RobertaModel], deliver: @escaping @Sendable (InferenceRequest, Analysis) -> Void,
                finished: @escaping @Sendable (Action) -> Void = { _ in }) {
        self.models = models
        self.deliver = deliver
        self.finished = finished
    }

    /// Adds a model loaded later (the model picker) and returns its index, the next after the loaded ones.
    public func add(_ model: RobertaModel) -> Int {
        lock.lock()
        defer { lock.unlock() }
        models.append(model)
        return models.count - 1
    }

    /// Queues a request, replacing any not yet started one for the same model.
    public func submit(_ request: InferenceRequest) {
        lock.lock()
        pending[request.model] = request
        if let current, current.kind == .inference, current.model == request.model { current.cancellation.cancel() }
        startIfIdle()
    }

    /// Queues a comparison, replacing one not yet started (a comparison takes milliseconds: none is cancelled).
    public func submitComparison(_ request: ComparisonRequest) {
        lock.lock()
        pendingComparison = request
        startIfIdle()
    }

    /// Queues a scoring, replacing one not yet started for the same model and stopping one running for it.
    public func submitScore(_ request: ScoreRequest) {
        lock.lock()
        pendingScores.removeAll { $0.model == request.model }
        pendingScores.append(request)
        if let current, current.kind == .score, current.model == request.model { current.cancellation.cancel() }
        startIfIdle()
    }

    /// Drops the scorings not started and stops the running one; they deliver nothing.
    public func cancelScores() {
        lock.lock()
        pendingScores.removeAll()
        if let current, current.kind == .score { current.cancellation.cancel() }
        lock.unlock()
    }

    /// Queues a head-importance run, replacing one not started and stopping one running.
    public func submitImportance(_ request: ImportanceRequest) {
        lock.lock()
        pendingImportance = request
        if let current, current.kind == .importance { current.cancellation.cancel() }
        startIfIdle()
    }

    /// Drops the head-importance run not started and stops the running one; they deliver nothing.
    public func cancelImportance() {
        lock.lock()
        pendingImportance = nil
        if let current, current.kind == .importance { current.cancellation.cancel() }
        lock.unlock()
    }

    /// Starts the drain unless it is going; called with the lock held, releases it.
    private func startIfIdle() {
        let start = !running
        if start { running = true }
        lock.unlock()
        if start { queue.async { self.drain() } }
    }

    /// Whether a run is going or waiting.
    public var isBusy: Bool {
        lock.lock()
        defer { lock.unlock() }
        return running
    }

    /// Which model's waiting request runs next: the models take turns (the first after the last one run, in
    /// index order), so comparing two while typing does not starve the second.
    static func nextModel(waiting: [Int], after last: Int) -> Int? {
        waiting.filter { $0 > last }.min() ?? waiting.min()
    }

    private enum Work {
        case inference(InferenceRequest, RobertaModel)
        case comparison(ComparisonRequest, teacher: RobertaModel, student: RobertaModel)
        case score(ScoreRequest, RobertaModel)
        case importance(ImportanceRequest, RobertaModel)
    }

    /// The next work, in order: inference (the models in turn), then a comparison, then scorings, then head importance. Nil when
    /// nothing waits (then `running` is cleared). Called with the lock held.
    private func next() -> Work? {
        while true {
            if let key = Self.nextModel(waiting: Array(pending.keys), after: lastModel), let request = pending.removeValue(forKey: key) {
                guard models.indices.contains(request.model) else { continue }
                lastModel = request.model
                return .inference(request, models[request.model])
            }
            if let request = pendingComparison {
                pendingComparison = nil
                guard models.indices.contains(request.teacher), models.indices.contains(request.student) else { continue }
                return .comparison(request, teacher: models[request.teacher], student: models[request.student])
            }
            if !pendingScores.isEmpty {
                let request = pendingScores.removeFirst()
                guard models.indices.contains(request.model) else { continue }
                return .score(request, models[request.model])
            }
            if let request = pendingImportance {
                pendingImportance = nil
                guard models.indices.contains(request.model) else { continue }
                return .importance(request, models[request.model])
            }
            running = false
            return nil
        }
    }

    private func drain() {
        while true {
            lock.lock()
            guard let work = next() else {
                lock.unlock()
                return
            }
            let cancellation = Cancellation()
            switch work {
            case .inference(let request, _): current = (.inference, request.model, cancellation)
            case .score(let request, _): current = (.score, request.model, cancellation)
            case .importance(let request, _): current = (.importance, request.model, cancellation)
            case .comparison: current = nil
            }
            lock.unlock()
            switch work {
            case .inference(let request, let model):
                let analysis = model.analyse(request.text, topK: request.topK, maskLogits: request.maskLogits,
                                             knockout: request.knockout, values: request.values, lens: request.lens,
                                             cancellation: cancellation)
                finish()
                if !cancellation.isCancelled { deliver(request, analysis) }
            case .comparison(let request, let teacher, let student):
                let key = [request.teacher, request.student]
                let pair = pairs[key] ?? VocabularyPair(teacher: teacher, student: student)
                pairs[key] = pair
                finished(.comparisonFinished(ComparisonResult(request, pair: pair)))
            case .score(let request, let model):
                let score = model.scoreSentence(request.text, cancellation: cancellation)
                finish()
                if let score, !cancellation.isCancelled { finished(.scoreFinished(id: request.id, model: request.model, score: score)) }
            case .importance(let request, let model):
                let result = model.measureImportance(request.text, cancellation: cancellation) { done, _ in
                    if !cancellation.isCancelled { self.finished(.importanceProgress(id: request.id, layersDone: done)) }
                }
                finish()
                if let result, !cancellation.isCancelled { finished(.importanceFinished(id: request.id, result: result)) }
            }
        }
    }

    private func finish() {
        lock.lock()
        current = nil
        lock.unlock()
    }
}
