import Figures
import RoBERTa
import Tokenizer

/// The panes that can hold the keyboard focus, in Tab order.
public enum Pane: String, CaseIterable, Codable, Sendable {
    case editor, candidates, tokens, attention
}

/// What the attention pane shows.
public enum AttentionMode: String, CaseIterable, Codable, Sendable {
    /// One layer and head as a query-by-key heatmap.
    case head
    /// The mean over the heads of one layer.
    case mean
    /// Every layer by every head, as small multiples.
    case overview
}

/// A line for the status bar: news or an error, kept until the next one.
public struct Notice: Equatable, Sendable {
    public var text: String
    public var isError: Bool

    public init(_ text: String, isError: Bool = false) {
        self.text = text
        self.isError = isError
    }
}

/// The two starts Ctrl-Z swaps between after the autosave was restored: the content not on screen now
/// (the fresh start, or the restored work) and the notices that say which one is showing.
public struct RestoreSwap: Equatable, Sendable {
    /// The content not on screen, and where Ctrl-S wrote with it.
    public var other: Session
    public var otherSessionPath: String?
    /// Whether the restored work is on screen (else the fresh start).
    public var showingRestored = true
    /// The status lines for the restored work and for the fresh start.
    public var restoredNotice: String
    public var freshNotice: String

    public init(other: Session, otherSessionPath: String?, restoredNotice: String, freshNotice: String) {
        self.other = other
        self.otherSessionPath = otherSessionPath
        self.restoredNotice = restoredNotice
        self.freshNotice = freshNotice
    }
}

/// Everything the workbench shows, in one value; only `reduce` changes it.
public struct WorkbenchState: Equatable, Sendable {
    public var models: [ModelInfo]
    public var activeModel = 0
    /// Both models' candidates side by side (needs two models).
    public var compare = false

    public var editor: LineEditor
    /// Texts the user submitted (Enter) or left by accepting a candidate, oldest first.
    public var history: [String] = []
    /// Position while browsing history with Up/Down; nil while editing the draft.
    public var historyIndex: Int?
    /// The text being edited before history browsing began.
    public var draft = ""

    public var topK = 5
    public var focus: Pane = .editor
    public var selectedMask = 0
    public var selectedCandidate = 0
    public var selectedToken = 0

    public var layer = 0
    public var head = 0
    public var attentionMode: AttentionMode = .head
    /// The heatmap cell under the cursor: query row and key column.
    public var query = 0
    public var key = 0
    /// What the heatmap and overview show: weights, norms or rollout (v cycles).
    public var attentionValues: AttentionValues = .weights
    /// What colours the overview: nil for the heads' maps, else one statistic per head (S cycles).
    public var headStatistic: HeadStatistic?
    /// Whether the candidates pane shows the logit lens of the selected mask instead of the candidates (F8 / l).
    public var showLens = false
    /// The head-importance grid (g); nil while it is closed.
    public var importance: ImportanceGrid?
    /// Heads knocked out per model index (x toggles the selected head, X restores them all).
    public var knockouts: [Int: Set<HeadRef>] = [:]
    /// Heatmap cell width in columns (1...3).
    public var zoom = 2
    /// What F9 writes figures as (`--export-format`, W cycles; saved with the session).
    public var exportFormat: FigureFormat = .svg

    /// Names of the themes the user can cycle through, and the one in use.
    public var themes: [String]
    public var theme: String

    public var showHelp = false
    public var helpScroll = 0
    public var notice: Notice?
    /// Free text saved with the session.
    public var notes = ""
    /// The notes being edited (n / F6); nil while the notes editor is closed.
    public var notesEditor: LineEditor?

    /// The models the picker offers besides the loaded ones (found in the cache, or to pull).
    public var catalog: [CatalogModel] = []
    /// The model picker's selected line (F5 / M); nil while the picker is closed.
    public var pickerSelection: Int?
    /// The model being loaded in the background, by name.
    public var loadingModel: String?
    /// A line kept on top of the screen (a newline in it starts a row), e.g. what the pocket models are.
    public var banner: String?
    /// Where `save` writes; nil until a session was opened or saved.
    public var sessionPath: String?
    /// After the last work was restored at start: what Ctrl-Z swaps in, until the text, history or notes change.
    public var restoreSwap: RestoreSwap?
    public var quitRequested = false

    /// The latest result shown per model index.
    public var results: [Int: Analysis] = [:]
    /// The id of the newest request per model index; a result with another id is stale.
    public var latestRequest: [Int: Int] = [:]
    /// The id of the request whose result is in `results`, per model.
    public var shownRequest: [Int: Int] = [:]
    public var nextRequestID = 1

    /// The latest measures between the compared models (`measures` says whether they are for the results on screen).
    public var comparison: ComparisonResult?
    /// The results the last comparison was asked for, and its id (a result with another id is stale).
    var comparisonKey: ComparisonKey?
    public var latestComparison: Int?
    /// The pseudo-log-likelihood strip (F7); nil while it is closed.
    public var likelihood: LikelihoodStrip?

    public init(models: [ModelInfo], text: String = "", themes: [String] = ["dark"], theme: String = "dark") {
        self.models = models
        self.editor = LineEditor(text)
        self.themes = themes
        self.theme = theme
    }

    /// The current text.
    public var text: String { editor.text }

    /// The active model's description, if any model is loaded.
    public var model: ModelInfo? { models.indices.contains(activeModel) ? models[activeModel] : nil }

    /// The heads knocked out in the active model.
    public var knockout: Set<HeadRef> { knockouts[activeModel] ?? [] }

    /// The active model's latest result.
    public var analysis: Analysis? { results[activeModel] }

    /// The model compared with the active one: the next loaded model.
    public var comparedModel: Int? { compare && models.count > 1 ? (activeModel + 1) % models.count : nil }

    /// Whether a newer run than the one shown is under way for `model`.
    public func isUpdating(_ model: Int) -> Bool {
        guard let latest = latestRequest[model] else { return false }
        return shownRequest[model] != latest
    }
}
