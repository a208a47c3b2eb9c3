/// The plain view data a figure is drawn from: numbers and strings only, no model, no terminal.
/// Layers and heads are counted from 1 here, as on screen, in flags and in the JSON/CSV written.

/// One figure: which view, with its data.
public enum Figure: Sendable, Equatable {
    case attention(HeatmapFigure)
    case overview(OverviewFigure)
    case candidates(CandidatesFigure)
    case compare(CompareFigure)
    case lens(LensFigure)
    case headStats(HeadStatsFigure)

    /// The view's name as `--view` spells it and the JSON's "view" says.
    public var viewName: String {
        switch self {
        case .attention: return "attention"
        case .overview: return "overview"
        case .candidates: return "candidates"
        case .compare: return "compare"
        case .lens: return "lens"
        case .headStats: return "head-stats"
        }
    }
}

/// The attention of one layer and head: [query][key] over the tokens.
public struct HeatmapFigure: Sendable, Equatable {
    public var model: String
    /// Counted from 1.
    public var layer: Int
    /// Counted from 1; 0 is the mean over the layer's heads. Not shown (and null in the JSON) for "rollout", which is
    /// over all heads, nor (null) for the mean.
    public var head: Int
    /// What the values are: "weights", "norms", "rollout" (layers 1 to `layer`).
    public var mode: String
    /// The tokens as the tokenizer has them ("Ġthe"); what the JSON and CSV carry.
    public var tokens: [String]
    /// The tokens as a reader reads them ("the"), for the axis labels; `tokens` when empty.
    public var labels: [String]
    /// [query][key], each row of `tokens.count` values.
    public var matrix: [[Double]]
    /// The text the figure is about (shown under the title); may be empty.
    public var text: String

    public init(model: String, layer: Int, head: Int, mode: String = "weights", tokens: [String], labels: [String] = [],
                matrix: [[Double]], text: String = "") {
        self.model = model
        self.layer = layer
        self.head = head
        self.mode = mode
        self.tokens = tokens
        self.labels = labels
        self.matrix = matrix
        self.text = text
    }
}

/// One number per layer and head (a head statistic), the layers x heads overview.
public struct OverviewFigure: Sendable, Equatable {
    public var model: String
    /// The statistic's name as the data carries it ("entropy", "to_bos", ...).
    public var statistic: String
    /// What a reader is told the value is ("mean row entropy / ln(tokens)").
    public var statisticTitle: String
    /// [layer][head]; nil where the statistic does not exist (punctuation in a text without any).
    public var values: [[Double?]]
    /// The head to outline, counted from 1 (layer, head); nil for none.
    public var selected: (layer: Int, head: Int)?
    public var text: String

    public init(model: String, statistic: String, statisticTitle: String, values: [[Double?]],
                selected: (layer: Int, head: Int)? = nil, text: String = "") {
        self.model = model
        self.statistic = statistic
        self.statisticTitle = statisticTitle
        self.values = values
        self.selected = selected
        self.text = text
    }

    public static func == (a: OverviewFigure, b: OverviewFigure) -> Bool {
        a.model == b.model && a.statistic == b.statistic && a.statisticTitle == b.statisticTitle && a.values == b.values
            && a.selected?.layer == b.selected?.layer && a.selected?.head == b.selected?.head && a.text == b.text
    }
}

/// One ranked candidate token.
public struct FigureCandidate: Sendable, Equatable {
    /// The vocabulary id.
    public var token: Int
    /// The decoded token (" Paris", with its leading space).
    public var tokenStr: String
    public var score: Double

    public init(token: Int, tokenStr: String, score: Double) {
        self.token = token
        self.tokenStr = tokenStr
        self.score = score
    }
}

/// The candidates at one mask.
public struct MaskCandidates: Sendable, Equatable {
    /// The mask's token position in the sequence (counted from 0, as the engine's JSON has it).
    public var position: Int
    public var candidates: [FigureCandidate]

    public init(position: Int, candidates: [FigureCandidate]) {
        self.position = position
        self.candidates = candidates
    }
}

/// The candidates (bars) for each mask of one model's answer.
public struct CandidatesFigure: Sendable, Equatable {
    public var model: String
    public var text: String
    public var masks: [MaskCandidates]

    public init(model: String, text: String, masks: [MaskCandidates]) {
        self.model = model
        self.text = text
        self.masks = masks
    }
}

/// Two models' candidates for the same text, mask by mask (masks taken in order), with optional measures.
public struct CompareFigure: Sendable, Equatable {
    public var text: String
    public var left: CandidatesFigure
    public var right: CandidatesFigure
    /// Per mask (in order), named measures such as ("KL(left || right)", 0.12); may be empty.
    public var measures: [[(name: String, value: Double)]]

    public init(text: String, left: CandidatesFigure, right: CandidatesFigure, measures: [[(name: String, value: Double)]] = []) {
        self.text = text
        self.left = left
        self.right = right
        self.measures = measures
    }

    public static func == (a: CompareFigure, b: CompareFigure) -> Bool {
        a.text == b.text && a.left == b.left && a.right == b.right
            && a.measures.map { $0.map(\.name) } == b.measures.map { $0.map(\.name) }
            && a.measures.map { $0.map(\.value) } == b.measures.map { $0.map(\.value) }
    }
}

/// The logit lens at one mask: the top candidates after the embeddings and after each layer.
public struct MaskLensRows: Sendable, Equatable {
    public var position: Int
    /// Row 0 is the embeddings' output, row i the output of layer i.
    public var rows: [LensRow]

    public init(position: Int, rows: [LensRow]) {
        self.position = position
        self.rows = rows
    }
}

/// One row of the lens.
public struct LensRow: Sendable, Equatable {
    public var top: [FigureCandidate]
    /// The rank (from 1) of the final answer's top token at this layer, and its probability there.
    public var finalTopRank: Int
    public var finalTopScore: Double

    public init(top: [FigureCandidate], finalTopRank: Int, finalTopScore: Double) {
        self.top = top
        self.finalTopRank = finalTopRank
        self.finalTopScore = finalTopScore
    }
}

/// The logit lens for each mask of one model's answer.
public struct LensFigure: Sendable, Equatable {
    public var model: String
    public var text: String
    public var masks: [MaskLensRows]

    public init(model: String, text: String, masks: [MaskLensRows]) {
        self.model = model
        self.text = text
        self.masks = masks
    }
}

/// The statistics of one head (Clark et al. 2019): the mean weight each query puts on kinds of keys.
public struct HeadStat: Sendable, Equatable {
    public var entropy: Double
    public var entropyMax: Double
    public var toBOS: Double, toEOS: Double, toPrev: Double, toSelf: Double, toNext: Double
    /// Nil when the text has no punctuation.
    public var toPunct: Double?
    public var label: String

    public init(entropy: Double, entropyMax: Double, toBOS: Double, toEOS: Double, toPrev: Double, toSelf: Double,
                toNext: Double, toPunct: Double?, label: String) {
        self.entropy = entropy
        self.entropyMax = entropyMax
        self.toBOS = toBOS
        self.toEOS = toEOS
        self.toPrev = toPrev
        self.toSelf = toSelf
        self.toNext = toNext
        self.toPunct = toPunct
        self.label = label
    }

    /// The columns a figure shows, each in 0…1: the entropy over its largest value, then the weights.
    public var shown: [Double?] {
        [entropyMax > 0 ? entropy / entropyMax : 0, toBOS, toEOS, toPrev, toSelf, toNext, toPunct]
    }

    /// The titles of `shown`.
    public static let shownTitles = ["entropy/max", "to <s>", "to </s>", "to prev", "to self", "to next", "to punct"]
}

/// Every head's statistics, [layer][head].
public struct HeadStatsFigure: Sendable, Equatable {
    public var model: String
    public var text: String
    public var stats: [[HeadStat]]

    public init(model: String, text: String, stats: [[HeadStat]]) {
        self.model = model
        self.text = text
        self.stats = stats
    }
}
