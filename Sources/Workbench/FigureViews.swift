import Figures
import RoBERTa
import Tokenizer

/// The engine's results turned into Figures' plain view data: the one mapping behind both `maskscope export` (which
/// runs the engine itself) and the workbench's F9 (which takes what the state already shows). Layers and heads are
/// counted from 0 in the arguments, as the engine and the state count them, and from 1 in the figures.
public enum FigureViews {
    /// What the heatmap's axes say for each token: the vocabulary form ("Ġthe") the JSON and CSV carry, and the
    /// form a reader reads ("the": the readable form without the space every word starts with).
    public static func tokenLabels(_ rows: [TokenRow]) -> (tokens: [String], labels: [String]) {
        (rows.map(\.byteLevel), rows.map { row in
            let readable = row.readable
            let trimmed = readable.hasPrefix("␣") && readable.count > 1 ? String(readable.dropFirst()) : readable
            return trimmed.isEmpty ? row.byteLevel : trimmed
        })
    }

    /// One layer's map: one head's, the mean over the layer's heads (`head` nil; drawn and written with head 0, "mean
    /// over heads"), or the rollout through layers 1 to `layer` (the maps hold it as their only head).
    public static func heatmap(_ maps: AttentionMaps, model: String, layer: Int, head: Int?, values: AttentionValues,
                               tokens rows: [TokenRow], text: String) -> Figure {
        let n = maps.tokens
        let flat = values == .rollout ? Array(maps.matrix(layer: layer, head: 0))
            : maps.shown(layer: layer, head: head ?? 0, meanOverHeads: head == nil)
        let matrix = (0..<n).map { q in (0..<n).map { k in Double(flat[q * n + k]) } }
        let (tokens, labels) = tokenLabels(rows)
        return .attention(HeatmapFigure(model: model, layer: layer + 1, head: values == .rollout ? 1 : (head.map { $0 + 1 } ?? 0),
                                        mode: values.rawValue, tokens: tokens, labels: labels, matrix: matrix, text: text))
    }

    /// Every head coloured by one statistic, [layer][head]; `selected` is outlined.
    public static func overview(_ stats: [[HeadStatistics]], statistic: HeadStatistic, model: String, selected: HeadRef?,
                                text: String) -> Figure {
        .overview(OverviewFigure(model: model, statistic: statistic.dataName, statisticTitle: statistic.figureTitle,
                                 values: stats.map { $0.map(statistic.value) },
                                 selected: selected.map { (layer: $0.layer + 1, head: $0.head + 1) }, text: text))
    }

    /// Every head's statistics (entropy and where it looks), [layer][head].
    public static func headStats(_ stats: [[HeadStatistics]], model: String, text: String) -> Figure {
        .headStats(HeadStatsFigure(model: model, text: text, stats: stats.map { row in
            row.map { s in
                HeadStat(entropy: s.entropy, entropyMax: s.entropyMax, toBOS: s.toBOS, toEOS: s.toEOS, toPrev: s.toPrev, toSelf: s.toSelf,
                         toNext: s.toNext, toPunct: s.toPunct, label: s.label)
            }
        }))
    }

    /// The candidates at each mask as Figures has them.
    public static func masks(_ rows: [MaskRow]) -> [MaskCandidates] {
        rows.map { mask in
            MaskCandidates(position: mask.position, candidates: mask.candidates.map {
                FigureCandidate(token: $0.id, tokenStr: $0.text, score: Double($0.probability))
            })
        }
    }

    /// One model's candidates.
    public static func candidates(_ masks: [MaskRow], model: String, text: String) -> Figure {
        .candidates(CandidatesFigure(model: model, text: text, masks: Self.masks(masks)))
    }

    /// Two models' candidates side by side (the teacher, the active model, on the left) and per mask the measures
    /// compare mode shows; `measures` may be empty (not measured yet).
    public static func compare(teacher: [MaskRow], name teacherName: String, student: [MaskRow], name studentName: String,
                               measures: [MaskMeasures], text: String) -> Figure {
        .compare(CompareFigure(
            text: text, left: CandidatesFigure(model: teacherName, text: text, masks: masks(teacher)),
            right: CandidatesFigure(model: studentName, text: text, masks: masks(student)),
            measures: measures.map { m in
                [("KL", m.kl), ("JS", m.js), ("top-\(m.k) overlap", m.overlap)] + (m.spearman.map { [("Spearman", $0)] } ?? [])
            }))
    }

    /// The logit lens at each mask: the top candidates after the embeddings and after each layer.
    public static func lens(_ lenses: [MaskLens], model: String, text: String) -> Figure {
        .lens(LensFigure(model: model, text: text, masks: lenses.map { lens in
            MaskLensRows(position: lens.position, rows: lens.layers.map { row in
                LensRow(top: row.candidates.map { FigureCandidate(token: $0.token, tokenStr: $0.tokenStr, score: Double($0.score)) },
                        finalTopRank: row.finalTopRank, finalTopScore: Double(row.finalTopScore))
            })
        }))
    }
}

extension HeadStatistic {
    /// The statistic's name in a figure's data ("entropy", "to_bos", ...), as `export --statistic` spells it with "_".
    public var dataName: String {
        switch self {
        case .entropy: return "entropy"
        case .toBOS: return "to_bos"
        case .toEOS: return "to_eos"
        case .toPrev: return "to_prev"
        case .toSelf: return "to_self"
        case .toNext: return "to_next"
        case .toPunct: return "to_punct"
        }
    }

    /// What a figure's reader is told the value is.
    public var figureTitle: String { self == .entropy ? "entropy / max" : "mean weight \(title)" }
}

extension CandidateRow {
    /// A candidate as the engine ranked it.
    public init(_ candidate: Candidate) {
        self.init(id: candidate.token, text: candidate.tokenStr, probability: candidate.score)
    }
}

extension MaskRow {
    /// A mask's candidates as the engine ranked them; `span` is where the mask lies in the text, when known.
    public init(_ prediction: MaskPrediction, span: Range<Int> = 0..<0) {
        self.init(position: prediction.position, span: span, candidates: prediction.candidates.map(CandidateRow.init))
    }
}

extension TokenRow {
    /// A token of an encoding without its place in the text (the command line's figures need only the forms).
    public init(id: Int, tokenizer: BPETokenizer) {
        self.init(id: id, byteLevel: tokenizer.token(of: id) ?? "", readable: visibleWhitespace(tokenizer.decode([id])),
                  span: 0..<0, word: nil)
    }
}
