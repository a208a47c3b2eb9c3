import Foundation

/// What a figure is written as.
public enum FigureFormat: String, CaseIterable, Sendable {
    case svg, pdf, png, html, json, csv

    /// The format a file name's extension stands for (".htm" is HTML), nil for any other.
    public init?(pathExtension: String) {
        let ext = pathExtension.lowercased()
        if ext == "htm" { self = .html; return }
        self.init(rawValue: ext)
    }
}

/// The one entry point: a figure's data, a style and a format in, the file's bytes out.
public enum FigureExport {
    /// The bytes of `figure` as `format`. `scale` is the PNG's pixels per point (ignored by other formats).
    /// Throws `FigureError` (too many tokens for a heatmap, nothing to draw, a bad scale, cairo failing).
    public static func render(_ figure: Figure, as format: FigureFormat, style: FigureStyle, scale: Double = 2) throws -> Data {
        switch format {
        case .json: return Data(DataWriters.json(figure).utf8)
        case .csv: return Data(DataWriters.csv(figure).utf8)
        case .svg: return Data(SVGWriter.svg(try Layout.drawing(for: figure, style: style), standalone: true).utf8)
        case .html: return Data(HTMLWriter.page(try Layout.drawing(for: figure, style: style)).utf8)
        case .pdf: return try CairoRenderer.pdf(try Layout.drawing(for: figure, style: style))
        case .png:
            guard scale.isFinite, CairoRenderer.scales.contains(scale) else { throw FigureError.badScale(scale, allowed: CairoRenderer.scales) }
            return try CairoRenderer.png(try Layout.drawing(for: figure, style: style), scale: scale)
        }
    }

    /// The PNG scales `render` accepts.
    public static var pngScales: ClosedRange<Double> { CairoRenderer.scales }
}
