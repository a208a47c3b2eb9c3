import CCairo
import Foundation

/// A figure laid out: shapes and text at positions in points, drawn the same way by every vector and raster
/// backend (the SVG writer, cairo's PDF and PNG surfaces). Layout happens once; backends only paint.
public struct Drawing: Sendable {
    public var width: Double
    public var height: Double
    public var background: FigureColor
    public var title: String
    public var items: [DrawingItem] = []

    public init(width: Double, height: Double, background: FigureColor, title: String) {
        self.width = width
        self.height = height
        self.background = background
        self.title = title
    }

    /// The rectangles with this tag (e.g. "cell 3 5"), for tests and hover.
    public func rects(tagged tag: String) -> [DrawingItem.Rect] {
        items.compactMap { if case .rect(let r) = $0, r.tag == tag { return r } else { return nil } }
    }

    /// Every text drawn, in order.
    public var texts: [DrawingItem.Text] {
        items.compactMap { if case .text(let t) = $0 { return t } else { return nil } }
    }
}

/// One thing drawn.
public enum DrawingItem: Sendable {
    case rect(Rect)
    case text(Text)
    case line(Line)

    /// A filled rectangle, optionally outlined; `hover` is what the HTML page (and an SVG <title>) shows over it.
    public struct Rect: Sendable {
        public var x: Double, y: Double, width: Double, height: Double
        public var fill: FigureColor?
        public var stroke: FigureColor?
        public var strokeWidth: Double = 1
        public var tag: String?
        public var hover: String?
    }

    /// Text at a baseline point; `anchor` says which end (or the middle) is at x; `rotation` in degrees,
    /// counter-clockwise positive (so -90 is not used: 90 reads bottom to top).
    public struct Text: Sendable {
        public var string: String
        public var x: Double, y: Double
        public var size: Double
        public var color: FigureColor
        public var anchor: Anchor = .start
        public var rotation: Double = 0
        public var bold = false
    }

    public struct Line: Sendable {
        public var x1: Double, y1: Double, x2: Double, y2: Double
        public var color: FigureColor
        public var width: Double = 1
    }

    public enum Anchor: String, Sendable { case start, middle, end }
}

/// Text widths in DejaVu Sans as cairo (and so the PDF and PNG) sets them.
final class TextMeasure {
    private let surface: OpaquePointer?
    private let context: OpaquePointer?
    private var cache: [String: Double] = [:]

    static let family = "DejaVu Sans"

    init() {
        surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 1, 1)
        context = cairo_create(surface)
    }

    deinit {
        cairo_destroy(context)
        cairo_surface_destroy(surface)
    }

    /// The advance of `text` at `size` points.
    func width(_ text: String, size: Double, bold: Bool = false) -> Double {
        let key = "\(bold ? 1 : 0)|\(size)|\(text)"
        if let known = cache[key] { return known }
        cairo_select_font_face(context, Self.family, CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL)
        cairo_set_font_size(context, size)
        var extents = cairo_text_extents_t()
        cairo_text_extents(context, text, &extents)
        let width = extents.x_advance.isFinite ? extents.x_advance : Double(text.count) * size * 0.6
        cache[key] = width
        return width
    }

    /// `text` cut with "…" to fit in `width` points.
    func fitted(_ text: String, size: Double, width limit: Double, bold: Bool = false) -> String {
        guard width(text, size: size, bold: bold) > limit else { return text }
        // The longest prefix that fits with "…", found by halving (a prefix's width grows with its length): a
        // log number of measurements, not one per character of a long text.
        let characters = Array(text)
        var fits = 0, tooLong = characters.count
        while tooLong - fits > 1 {
            let middle = (fits + tooLong) / 2
            if width(String(characters[..<middle]) + "…", size: size, bold: bold) <= limit { fits = middle } else { tooLong = middle }
        }
        return String(characters[..<fits]) + "…"
    }
}
