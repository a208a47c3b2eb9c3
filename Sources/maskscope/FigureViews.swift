import Figures
import Foundation
import RoBERTa
import Workbench

/// Turns the engine's results for one text into Figures' view data (layers and heads counted from 1 there).
struct FigureViews {
    let text: String
    let topK: Int
    let truncate: Bool

    private func run(_ model: RobertaModel, attention: Bool, norms: Bool = false) throws -> FillMaskResult {
        try OptionBounds.checkTopK(topK, source: "--top-k", model: model)
        let result = try model.fillMask(text, options: FillMaskOptions(
            topK: topK, truncate: truncate, capture: CaptureOptions(attention: attention, norms: norms)))
        for message in result.warnings { warn(message) }
        return result
    }

    /// The tokens as the tokenizer has them ("Ġthe"), as `inspect --json` prints them.
    private func tokens(_ model: RobertaModel, _ ids: [Int]) -> [String] {
        ids.map { model.tokenizer.token(of: $0) ?? "" }
    }

    /// The tokens as a reader reads them: decoded, without the leading space every word has.
    private func labels(_ model: RobertaModel, _ ids: [Int]) -> [String] {
        ids.map { id in
            let decoded = model.tokenizer.decode([id])
            let trimmed = decoded.hasPrefix(" ") && decoded.count > 1 ? String(decoded.dropFirst()) : decoded
            return trimmed.isEmpty ? (model.tokenizer.token(of: id) ?? "") : trimmed
        }
    }

    /// One head's map: weights, norms, or the rollout up to `layer` (counted from 0).
    func attention(_ model: RobertaModel, name: String, layer: Int, head: Int, values: AttentionValues) throws -> Figure {
        let result = try run(model, attention: true, norms: values == .norms)
        let maps: AttentionMaps?
        switch values {
        case .weights: maps = result.attention
        case .norms: maps = result.encoder.norms
        case .rollout: maps = result.attention.map(attentionRollout)
        }
        guard let maps else { throw CommandFailure("the engine returned no attention maps for this text") }
        let shownHead = values == .rollout ? 0 : head
        let flat = Array(maps.matrix(layer: layer, head: shownHead))
        let n = maps.tokens
        let matrix = (0..<n).map { q in (0..<n).map { k in Double(flat[q * n + k]) } }
        return .attention(HeatmapFigure(model: name, layer: layer + 1, head: head + 1, mode: values.rawValue,
                                        tokens: tokens(model, result.ids), labels: labels(model, result.ids), matrix: matrix, text: text))
    }

    /// Every head's statistic, [layer][head].
    func overview(_ model: RobertaModel, name: String, statistic: OverviewStatistic, selected: (Int, Int)) throws -> Figure {
        let result = try run(model, attention: true)
        guard let maps = result.attention else { throw CommandFailure("the engine returned no attention maps for this text") }
        let stats = model.headStatistics(maps, ids: result.ids)
        let kind = statistic.headStatistic
        let title = kind == .entropy ? "entropy / max" : "mean weight \(kind.title)"
        return .overview(OverviewFigure(model: name, statistic: statistic.rawValue.replacingOccurrences(of: "-", with: "_"),
                                        statisticTitle: title, values: stats.map { $0.map(kind.value) },
                                        selected: (layer: selected.0, head: selected.1), text: text))
    }

    private func masks(_ result: FillMaskResult) -> [MaskCandidates] {
        result.masks.map { mask in
            MaskCandidates(position: mask.position, candidates: mask.candidates.map {
                FigureCandidate(token: $0.token, tokenStr: $0.tokenStr, score: Double($0.score))
            })
        }
    }

    func candidates(_ model: RobertaModel, name: String) throws -> Figure {
        .candidates(CandidatesFigure(model: name, text: text, masks: masks(try run(model, attention: false))))
    }

    /// Both models' candidates, and per mask the measures the workbench's compare mode shows (KL and JS from the
    /// first model's distribution to the second's, top-k overlap).
    func compare(_ first: RobertaModel, name firstName: String, _ second: RobertaModel, name secondName: String) throws -> Figure {
        let a = try run(first, attention: false), b = try run(second, attention: false)
        if a.masks.count != b.masks.count {
            warn("the two models see \(a.masks.count) and \(b.masks.count) masks in the text; masks are paired in order")
        }
        let measures = VocabularyPair(teacher: first, student: second).measure(teacher: a.maskLogits, student: b.maskLogits, k: topK)
        return .compare(CompareFigure(
            text: text, left: CandidatesFigure(model: firstName, text: text, masks: masks(a)),
            right: CandidatesFigure(model: secondName, text: text, masks: masks(b)),
            measures: measures.map { m in
                [("KL", m.kl), ("JS", m.js), ("top-\(m.k) overlap", m.overlap)] + (m.spearman.map { [("Spearman", $0)] } ?? [])
            }))
    }

    func lens(_ model: RobertaModel, name: String) throws -> Figure {
        let result = try run(model, attention: false)
        let lenses = try model.logitLens(ids: result.ids, topK: topK)
        return .lens(LensFigure(model: name, text: text, masks: lenses.map { lens in
            MaskLensRows(position: lens.position, rows: lens.layers.map { row in
                LensRow(top: row.candidates.map { FigureCandidate(token: $0.token, tokenStr: $0.tokenStr, score: Double($0.score)) },
                        finalTopRank: row.finalTopRank, finalTopScore: Double(row.finalTopScore))
            })
        }))
    }

    func headStats(_ model: RobertaModel, name: String) throws -> Figure {
        let result = try run(model, attention: true)
        guard let maps = result.attention else { throw CommandFailure("the engine returned no attention maps for this text") }
        let stats = model.headStatistics(maps, ids: result.ids)
        return .headStats(HeadStatsFigure(model: name, text: text, stats: stats.map { row in
            row.map { s in
                HeadStat(entropy: s.entropy, entropyMax: s.entropyMax, toBOS: s.toBOS, toEOS: s.toEOS, toPrev: s.toPrev, toSelf: s.toSelf,
                         toNext: s.toNext, toPunct: s.toPunct, label: s.label)
            }
        }))
    }
}
