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

    public init(id: Int, model: Int, text: String, topK: Int) {
        self.id = id
        self.model = model
        self.text = text
        self.topK = topK
    }
}

extension RobertaModel {
    /// Tokenizes `text` with merge traces and, when it holds a mask, runs fill-mask with attention capture.
    /// A `cancellation` set during the run ends it early with `error` saying so.
    public func analyse(_ text: String, topK: Int, cancellation: Cancellation? = nil) -> Analysis {
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
        do {
            // The ids of the traced encoding: the text is tokenized once per keystroke, not twice.
            let result = try fillMask(ids: encoding.ids, options: FillMaskOptions(topK: topK, capture: CaptureOptions(attention: true)),
                                      text: text, cancellation: cancellation)
            analysis.masks = result.masks.map { mask in
                let word = tokens[mask.position].word.map { encoding.words[$0].range }
                return MaskRow(position: mask.position, span: word ?? tokens[mask.position].span,
                               candidates: mask.candidates.map { CandidateRow(id: $0.token, text: $0.tokenStr, probability: $0.score) })
            }
            analysis.attention = result.attention
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
public final class InferenceScheduler: @unchecked Sendable {
    private var models: [RobertaModel]
    private let queue = DispatchQueue(label: "maskscope.inference", qos: .userInitiated)
    private let lock = NSLock()
    private var running = false
    private var pending: [Int: InferenceRequest] = [:]
    /// The run going now: its model and how to stop it.
    private var current: (model: Int, cancellation: Cancellation)?
    /// The model of the last run started.
    private var lastModel = -1
    private let deliver: @Sendable (InferenceRequest, Analysis) -> Void

    /// - Parameter deliver: called on the background thread with each finished run.
    public init(models: [RobertaModel], deliver: @escaping @Sendable (InferenceRequest, Analysis) -> Void) {
        self.models = models
        self.deliver = deliver
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
        if let current, current.model == request.model { current.cancellation.cancel() }
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

    private func drain() {
        while true {
            lock.lock()
            guard let key = Self.nextModel(waiting: Array(pending.keys), after: lastModel),
                  let request = pending.removeValue(forKey: key) else {
                running = false
                lock.unlock()
                return
            }
            guard models.indices.contains(request.model) else {
                lock.unlock()
                continue
            }
            let model = models[request.model]
            lastModel = request.model
            let cancellation = Cancellation()
            current = (request.model, cancellation)
            lock.unlock()
            let analysis = model.analyse(request.text, topK: request.topK, cancellation: cancellation)
            lock.lock()
            current = nil
            lock.unlock()
            if !cancellation.isCancelled { deliver(request, analysis) }
        }
    }
}
