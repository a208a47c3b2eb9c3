import RoBERTa
import Workbench

/// The logit lens of the selected mask, in place of the candidates (F8 / l): per layer what the LM head makes
/// of the hidden state at the mask (row "emb" is the embeddings' output, the last row is fill-mask's answer),
/// and where the final top candidate stands after each layer, with a sparkline of its probability.
public enum LensView {
    /// Rows the view wants for a model with `layers` layers: two header rows, one per layer and the embeddings.
    static func rows(layers: Int) -> Int { layers + 3 }

    static func render(_ state: WorkbenchState, analysis: Analysis, theme: Theme, in body: Rect, into buffer: inout CellBuffer) {
        guard body.height >= 1 else { return }
        guard let lenses = analysis.lens, !lenses.isEmpty else {
            let text = state.isUpdating(state.activeModel) || analysis.text != state.text || analysis.lens == nil
                ? "running the lens… (each layer's hidden state at the mask through the LM head)" : "no lens for this text"
            PaneTitle.wrap(text, style: theme.dimmed, in: body, into: &buffer)
            return
        }
        let m = min(state.selectedMask, lenses.count - 1)
        let lens = lenses[m]
        guard let final = lens.layers.last?.candidates.first else { return }
        let finalText = visibleWhitespace(final.tokenStr)
        let peak = max(lens.layers.map(\.finalTopScore).max() ?? 1, 1e-9)
        let spark = lens.layers.map { sparkBlock($0.finalTopScore / peak) }.joined()
        var used = buffer.put("mask \(m + 1)" + (lenses.count > 1 ? " of \(lenses.count)" : "") + " · final top ", x: body.x, y: body.y,
                              style: theme.dimmed, maxWidth: body.width)
        used += buffer.put(truncated(finalText, 16), x: body.x + used, y: body.y, style: theme.accented, maxWidth: body.width - used)
        used += buffer.put(" · its probability by layer ", x: body.x + used, y: body.y, style: theme.dimmed, maxWidth: body.width - used)
        buffer.put(spark, x: body.x + used, y: body.y, style: theme.accented, maxWidth: body.width - used)
        guard body.height >= 2 else { return }
        // Right: the final top candidate's rank and probability and a bar; left: the layer's own top candidates.
        let rightWidth = 22
        let leftWidth = max(10, body.width - 6 - rightWidth)
        let header = padded("layer", 6) + padded("top candidates", leftWidth) + rightAligned("rank", 7) + "  prob"
        buffer.put(header, x: body.x, y: body.y + 1, style: theme.dimmed, maxWidth: body.width)
        let visible = body.height - 2
        // The last layers matter most: when rows are short, drop the first ones.
        let first = max(0, lens.layers.count - visible)
        for (row, l) in (first..<lens.layers.count).enumerated() {
            let layer = lens.layers[l]
            let y = body.y + 2 + row
            let isLast = l == lens.layers.count - 1
            buffer.put(l == 0 ? "emb" : "L\(l)", x: body.x, y: y, style: isLast ? theme.accented : theme.dimmed)
            var x = body.x + 6
            for candidate in layer.candidates {
                let text = truncated(visibleWhitespace(candidate.tokenStr), 10) + " " + shortProbability(candidate.score)
                guard x + columnWidth(text) <= body.x + 6 + leftWidth - 1 else { break }
                let style = candidate.token == final.token ? theme.accented : theme.plain
                x += buffer.put(text, x: x, y: y, style: style) + 2
            }
            let rank = rightAligned("#\(layer.finalTopRank)", 7) + "  " + formatProbability(layer.finalTopScore) + " "
            let rx = body.x + 6 + leftWidth
            let rused = buffer.put(rank, x: rx, y: y, style: layer.finalTopRank == 1 ? theme.accented : theme.plain, maxWidth: body.maxX - rx)
            buffer.put(sparkBlock(layer.finalTopScore / peak), x: rx + rused, y: y, style: theme.accented, maxWidth: body.maxX - rx - rused)
        }
    }

    /// One of ▁▂▃▄▅▆▇█ for a value in 0…1 (a blank below the first step would hide small values).
    static func sparkBlock(_ value: Float) -> String {
        let blocks = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]
        return blocks[max(0, min(7, Int((value * 8).rounded(.down))))]
    }

    /// ".12", ".05", "1.0": two digits for the lens rows.
    static func shortProbability(_ p: Float) -> String {
        p >= 0.995 ? "1.0" : "." + String(format: "%02d", Int((p * 100).rounded()))
    }
}
