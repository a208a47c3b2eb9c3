import RoBERTa

/// Measure how much each head matters at the first mask of a text, with one model, off the UI thread
/// (the same fields as a pseudo-log-likelihood request: an id that tells stale answers, the model, the text).
public typealias ImportanceRequest = ModelTextRequest

/// What a head-importance run found: for every layer and head, Δ ln p(top) — the change in the natural log of
/// the probability of the unablated top candidate at the first mask when that head alone is knocked out (Michel et
/// al. 2019, "Are Sixteen Heads Really Better than One?", one head at a time). Negative: the head helps that guess.
public struct ImportanceResult: Equatable, Sendable {
    /// Token index of the mask measured, and the top candidate as decoded (" capital").
    public var position: Int
    public var token: String
    /// [layer][head], natural log.
    public var deltas: [[Double]]
    /// Why it could not be measured (no mask, too long); the numbers are empty then.
    public var error: String?

    public init(position: Int, token: String, deltas: [[Double]], error: String? = nil) {
        self.position = position
        self.token = token
        self.deltas = deltas
        self.error = error
    }

    /// A result that could not be computed.
    public static func failed(_ message: String) -> ImportanceResult {
        ImportanceResult(position: 0, token: "", deltas: [], error: message)
    }
}

/// The head-importance grid drawn over the attention overview (g): what was asked, how far the run is, and its
/// result. An edit of the sentence cancels a run still under way; the grid then says so.
public struct ImportanceGrid: Equatable, Sendable {
    public var id: Int
    public var model: Int
    /// The sentence as it was when g was pressed.
    public var source: String
    /// Layers measured so far, of `layers`.
    public var layersDone = 0
    public var layers: Int
    public var result: ImportanceResult?
    /// The run was stopped because the sentence changed.
    public var cancelled = false

    public init(id: Int, model: Int, source: String, layers: Int) {
        self.id = id
        self.model = model
        self.source = source
        self.layers = layers
    }

    /// Whether the run is still going.
    public var isPending: Bool { result == nil && !cancelled }
}

extension RobertaModel {
    /// The head-importance grid for `text` (see `ImportanceResult`); nil when `cancellation` stopped it.
    /// `progress(layers done, layers)` is called after each layer, on the calling thread.
    public func measureImportance(_ text: String, cancellation: Cancellation? = nil,
                                  progress: (Int, Int) -> Void = { _, _ in }) -> ImportanceResult? {
        do {
            let ids = try inputIDs(for: text)
            let (position, token, deltas) = try headImportance(ids: ids, cancellation: cancellation, progress: progress)
            return ImportanceResult(position: position, token: tokenizer.decode([token]), deltas: deltas)
        } catch InferenceError.cancelled {
            return nil
        } catch InferenceError.noMaskToken {
            return .failed("no <mask> in the sentence: the grid measures the first mask's top candidate")
        } catch {
            return .failed(String(describing: error))
        }
    }
}

/// g on the attention pane: measure the grid for the sentence with the active model and show it in the overview;
/// on a grid already shown for this sentence and model, close it (stopping its run).
func importanceToggled(_ state: inout WorkbenchState) -> [Effect] {
    if let grid = state.importance, grid.source == state.text, grid.model == state.activeModel, !grid.cancelled {
        state.importance = nil
        state.notice = Notice("head importance closed")
        return grid.isPending ? [.cancelImportance] : []
    }
    guard let model = state.model else { return [] }
    guard state.text.contains("<mask>") else {
        state.notice = Notice("head importance needs a <mask> in the sentence (Ctrl-O inserts one)", isError: true)
        return []
    }
    let cancel: [Effect] = state.importance?.isPending == true ? [.cancelImportance] : []
    let id = state.nextRequestID
    state.nextRequestID += 1
    state.importance = ImportanceGrid(id: id, model: state.activeModel, source: state.text, layers: model.layers)
    state.attentionMode = .overview
    state.headStatistic = nil
    state.notice = Notice("measuring head importance: each head knocked out alone (an edit stops it; g closes)")
    return cancel + [.measureImportance(ImportanceRequest(id: id, model: state.activeModel, text: state.text))]
}
