import Figures
import Foundation

/// Small hand-made view data for every view, with values chosen so that cells can be checked by colour.
enum Samples {
    static let tokens = ["<s>", "ĠParis", "Ġis", "Ġthe", "<mask>", "Ġof", "ĠFrance", ".", "</s>"]
    static let labels = ["<s>", "Paris", "is", "the", "<mask>", "of", "France", ".", "</s>"]

    /// Row q puts weight on key (q + 1) mod n mostly, and on <s>; row 0 is all on itself. The peak is 0.8.
    static func matrix(_ n: Int) -> [[Double]] {
        (0..<n).map { q in
            var row = [Double](repeating: 0.2 / Double(max(n - 1, 1)), count: n)
            row[(q + 1) % n] = 0.8
            return row
        }
    }

    static func heatmap(tokens: [String] = tokens, labels: [String] = labels) -> HeatmapFigure {
        HeatmapFigure(model: "tiny", layer: 2, head: 3, mode: "weights", tokens: tokens, labels: labels,
                      matrix: matrix(tokens.count), text: "Paris is the <mask> of France.")
    }

    static let overview = OverviewFigure(
        model: "tiny", statistic: "entropy", statisticTitle: "entropy/max",
        values: [[0.0, 0.25, 0.5, 1.0], [0.75, nil, 0.1, 0.9]], selected: (layer: 2, head: 3), text: "Paris is the <mask> of France.")

    static let masks = [
        MaskCandidates(position: 4, candidates: [
            FigureCandidate(token: 5, tokenStr: " capital", score: 0.5), FigureCandidate(token: 9, tokenStr: " city", score: 0.25),
            FigureCandidate(token: 11, tokenStr: ",", score: 0.125)]),
        MaskCandidates(position: 7, candidates: [
            FigureCandidate(token: 4, tokenStr: ".", score: 0.75), FigureCandidate(token: 12, tokenStr: "\"quoted\"", score: 0.0625)]),
    ]

    static let candidates = CandidatesFigure(model: "tiny", text: "Paris is the <mask> of France<mask>", masks: masks)

    static let compare = CompareFigure(
        text: "Paris is the <mask> of France<mask>", left: candidates,
        right: CandidatesFigure(model: "tiny-f16", text: "Paris is the <mask> of France<mask>", masks: masks.reversed().map {
            MaskCandidates(position: $0.position, candidates: $0.candidates)
        }),
        measures: [[("KL", 0.125), ("JS", 0.03)], [("KL", 0.5), ("JS", 0.1)]])

    static let lens = LensFigure(model: "tiny", text: "Paris is the <mask> of France.", masks: [
        MaskLensRows(position: 4, rows: [
            LensRow(top: [FigureCandidate(token: 1, tokenStr: " the", score: 0.1), FigureCandidate(token: 2, tokenStr: " a", score: 0.05)],
                    finalTopRank: 40, finalTopScore: 0.001),
            LensRow(top: [FigureCandidate(token: 3, tokenStr: " city", score: 0.3), FigureCandidate(token: 5, tokenStr: " capital", score: 0.2)],
                    finalTopRank: 2, finalTopScore: 0.2),
            LensRow(top: [FigureCandidate(token: 5, tokenStr: " capital", score: 0.9), FigureCandidate(token: 3, tokenStr: " city", score: 0.05)],
                    finalTopRank: 1, finalTopScore: 0.9),
        ]),
    ])

    static let headStats = HeadStatsFigure(model: "tiny", text: "Paris is the <mask> of France.", stats: [
        [HeadStat(entropy: 1.0, entropyMax: 2.0, toBOS: 0.6, toEOS: 0.1, toPrev: 0.1, toSelf: 0.1, toNext: 0.05, toPunct: 0.02, label: "<s>"),
         HeadStat(entropy: 0.5, entropyMax: 2.0, toBOS: 0.1, toEOS: 0.1, toPrev: 0.7, toSelf: 0.05, toNext: 0.05, toPunct: nil, label: "previous")],
        [HeadStat(entropy: 1.9, entropyMax: 2.0, toBOS: 0.1, toEOS: 0.1, toPrev: 0.1, toSelf: 0.1, toNext: 0.1, toPunct: 0.1, label: "broad"),
         HeadStat(entropy: 0.2, entropyMax: 2.0, toBOS: 0.0, toEOS: 0.0, toPrev: 0.0, toSelf: 0.0, toNext: 0.95, toPunct: 0.0, label: "next")],
    ])

    static let all: [Figure] = [.attention(heatmap()), .overview(overview), .candidates(candidates), .compare(compare), .lens(lens),
                                .headStats(headStats)]
}
