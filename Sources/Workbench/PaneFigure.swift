import Figures
import RoBERTa

/// F9 / w: the figure of what the focused pane shows, to be drawn and written under exports/ off the reducer
/// (`Effect.exportFigure`, run by `FigureExporter`; the result comes back as `.figureExported` or `.figureExportFailed`).
public struct FigureExportRequest: Equatable, Sendable {
    public var figure: Figure
    public var format: FigureFormat
    /// The file's name without the time and the extension: the view, the model, layer and head
    /// ("attention-pocket-teacher-L5H2"); the exporter adds "-YYYYMMDD-HHMMSS" (and "-2", "-3", ... when taken).
    public var name: String
    /// The theme on screen: the figure takes its colours (its heatmap ramp) from it.
    public var theme: String

    public init(figure: Figure, format: FigureFormat, name: String, theme: String) {
        self.figure = figure
        self.format = format
        self.name = name
        self.theme = theme
    }
}

/// What F9 finds in the focused pane: a figure and the start of its file name, or why there is none (in words).
public enum PaneFigure: Equatable, Sendable {
    case figure(Figure, name: String)
    case none(String)
}

extension WorkbenchState {
    /// The figure of what the focused pane shows: the Candidates pane (also while editing, since it is the pane under
    /// the editor) writes the candidates, the compare view in compare mode and the logit lens while it is open (the
    /// active model's); the Attention pane writes the heatmap of the layer and head (or the mean, or the rollout) in
    /// the values shown, and in the overview the statistic that colours it (S), else every head's statistics. The
    /// Tokens pane has no figure. Only a result for the text on screen is written, never one being replaced.
    public var paneFigure: PaneFigure {
        if focus == .tokens {
            return .none("the Tokens pane has no figure; F9 (w) writes one in Candidates (candidates, compare, lens) and Attention (heatmap, overview)")
        }
        guard let model, let analysis else { return .none("nothing to export yet: no result on screen") }
        guard analysis.text == text, !isUpdating(activeModel) else {
            return .none("the view is being updated for the new text; press F9 (w) again in a moment")
        }
        let m = fileNamePart(model.name)
        let text = figureText(models: [activeModel])
        if focus == .attention { return attentionFigure(model: model, analysis: analysis, m: m, text: text) }
        if let error = analysis.error { return .none("no figure: \(error)") }
        if showLens {
            guard let lens = analysis.lens else { return .none("the logit lens is still being computed; press F9 (w) again in a moment") }
            return .figure(FigureViews.lens(lens, model: model.name, text: text), name: "lens-\(m)")
        }
        if let other = comparedModel {
            let second = models[other]
            guard let b = results[other], b.text == text, !isUpdating(other) else {
                return .none("\(second.name)'s candidates are being updated for the new text; press F9 (w) again in a moment")
            }
            if let error = b.error { return .none("no figure: \(second.name): \(error)") }
            return .figure(FigureViews.compare(teacher: analysis.masks, name: model.name, student: b.masks, name: second.name,
                                               measures: measures?.masks ?? [], text: figureText(models: [activeModel, other])),
                           name: "compare-\(m)-vs-\(fileNamePart(second.name))")
        }
        return .figure(FigureViews.candidates(analysis.masks, model: model.name, text: text), name: "candidates-\(m)")
    }

    /// The sentence as a figure's subtitle, with the heads knocked out of the models drawn (their answers are those
    /// of the model without them, so the figure must say so): "… · knocked out: 5.2, 3.1".
    func figureText(models indices: [Int]) -> String {
        let notes = indices.compactMap { index -> String? in
            guard let heads = knockouts[index], !heads.isEmpty else { return nil }
            let list = heads.sorted().map(\.description).joined(separator: ", ")
            return indices.count > 1 ? "\(models[index].name) without heads \(list)" : "heads \(list) knocked out"
        }
        return notes.isEmpty ? text : "\(text) · \(notes.joined(separator: "; "))"
    }

    private func attentionFigure(model: ModelInfo, analysis: Analysis, m: String, text: String) -> PaneFigure {
        guard let weights = analysis.attention else {
            return .none("no attention to export: \(analysis.error ?? "the run captured none")")
        }
        let layer = clamp(self.layer, weights.layers), head = clamp(self.head, weights.heads)
        if attentionMode == .overview {
            if headStatistic == nil, importance?.model == activeModel {
                return .none("the head-importance grid has no figure yet; S colours the overview by a head statistic, which F9 (w) writes")
            }
            guard let stats = analysis.headStats else { return .none("no head statistics for this run") }
            if let statistic = headStatistic {
                return .figure(FigureViews.overview(stats, statistic: statistic, model: model.name, selected: HeadRef(layer: layer, head: head),
                                                    text: text),
                               name: "overview-\(statistic.dataName.replacingOccurrences(of: "_", with: "-"))-\(m)")
            }
            return .figure(FigureViews.headStats(stats, model: model.name, text: text), name: "head-stats-\(m)")
        }
        guard let maps = analysis.maps(attentionValues) else {
            return .none("the \(attentionValues.title) are still being computed; press F9 (w) again in a moment")
        }
        let values = attentionValues == .weights ? "" : "-\(attentionValues.rawValue)"
        let figure = FigureViews.heatmap(maps, model: model.name, layer: layer, head: attentionMode == .mean ? nil : head,
                                         values: attentionValues, tokens: analysis.tokens, text: text)
        let which = attentionValues == .rollout ? "L\(layer + 1)" : attentionMode == .mean ? "L\(layer + 1)-mean" : "L\(layer + 1)H\(head + 1)"
        return .figure(figure, name: "attention\(values)-\(m)-\(which)")
    }
}

/// A model's name as part of a file name: letters, digits, ".", "_" and "-" kept, anything else (a space, "/", "#")
/// one "-".
func fileNamePart(_ name: String) -> String {
    var out = ""
    for c in name {
        let keep = c.isASCII && (c.isLetter || c.isNumber || c == "." || c == "_" || c == "-")
        if keep { out.append(c) } else if !out.hasSuffix("-") { out.append("-") }
    }
    while out.hasPrefix("-") || out.hasPrefix(".") { out.removeFirst() }
    while out.hasSuffix("-") { out.removeLast() }
    return out.isEmpty ? "model" : out
}

/// F9 / w on the reducer's side: the request for the focused pane's figure, or the reason on the status line.
func figureExportRequested(_ state: inout WorkbenchState) -> [Effect] {
    switch state.paneFigure {
    case .none(let reason):
        state.notice = Notice(reason, isError: true)
        return []
    case .figure(let figure, let name):
        state.notice = Notice("writing the \(figure.viewName) figure as \(state.exportFormat.rawValue)…")
        return [.exportFigure(FigureExportRequest(figure: figure, format: state.exportFormat, name: name, theme: state.theme))]
    }
}
