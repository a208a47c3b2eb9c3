import CCairo
import Foundation

/// Paints a `Drawing` with cairo: PDF (vector, text kept as text with the font embedded) and PNG (at a scale).
enum CairoRenderer {
    /// PNG scales we draw (a 256-token heatmap at 4 is about 14,000 pixels wide already).
    static let scales: ClosedRange<Double> = 0.25...8

    static func pdf(_ drawing: Drawing) throws -> Data {
        let sink = ByteSink()
        let surface = cairo_pdf_surface_create_for_stream(ByteSink.write, Unmanaged.passUnretained(sink).toOpaque(),
                                                          drawing.width, drawing.height)
        defer { cairo_surface_destroy(surface) }
        try check(cairo_surface_status(surface))
        cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_TITLE, drawing.title)
        cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATOR, "MaskScope")
        try paint(drawing, on: surface, scale: 1)
        cairo_surface_finish(surface)
        try check(cairo_surface_status(surface))
        return sink.data
    }

    static func png(_ drawing: Drawing, scale: Double) throws -> Data {
        guard scale.isFinite, scales.contains(scale) else { throw FigureError.badScale(scale, allowed: scales) }
        let w = Int32(max(1, (drawing.width * scale).rounded(.up))), h = Int32(max(1, (drawing.height * scale).rounded(.up)))
        guard Int(w) * Int(h) <= 400_000_000 else {
            throw FigureError.cairo("the image would be \(w) x \(h) pixels; use a smaller --scale, or PDF or SVG")
        }
        let surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h)
        defer { cairo_surface_destroy(surface) }
        try check(cairo_surface_status(surface))
        try paint(drawing, on: surface, scale: scale)
        cairo_surface_flush(surface)
        let sink = ByteSink()
        try check(cairo_surface_write_to_png_stream(surface, ByteSink.write, Unmanaged.passUnretained(sink).toOpaque()))
        return sink.data
    }

    private static func paint(_ drawing: Drawing, on surface: OpaquePointer?, scale: Double) throws {
        let cr = cairo_create(surface)
        defer { cairo_destroy(cr) }
        cairo_scale(cr, scale, scale)
        set(cr, drawing.background)
        cairo_paint(cr)
        for item in drawing.items {
            switch item {
            case .rect(let r):
                if let fill = r.fill {
                    // Cells are painted without antialiasing at their edges so neighbours do not leave hairline seams.
                    cairo_set_antialias(cr, CAIRO_ANTIALIAS_NONE)
                    cairo_rectangle(cr, r.x, r.y, r.width, r.height)
                    set(cr, fill)
                    cairo_fill(cr)
                    cairo_set_antialias(cr, CAIRO_ANTIALIAS_DEFAULT)
                }
                if let stroke = r.stroke {
                    cairo_rectangle(cr, r.x, r.y, r.width, r.height)
                    set(cr, stroke)
                    cairo_set_line_width(cr, r.strokeWidth)
                    cairo_stroke(cr)
                }
            case .line(let l):
                cairo_move_to(cr, l.x1, l.y1)
                cairo_line_to(cr, l.x2, l.y2)
                set(cr, l.color)
                cairo_set_line_width(cr, l.width)
                cairo_stroke(cr)
            case .text(let t):
                cairo_select_font_face(cr, TextMeasure.family, CAIRO_FONT_SLANT_NORMAL,
                                       t.bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL)
                cairo_set_font_size(cr, t.size)
                var extents = cairo_text_extents_t()
                cairo_text_extents(cr, t.string, &extents)
                let shift = t.anchor == .start ? 0 : t.anchor == .middle ? extents.x_advance / 2 : extents.x_advance
                cairo_save(cr)
                cairo_translate(cr, t.x, t.y)
                cairo_rotate(cr, -t.rotation * .pi / 180)
                cairo_move_to(cr, -shift, 0)
                set(cr, t.color)
                cairo_show_text(cr, t.string)
                cairo_restore(cr)
            }
        }
        try check(cairo_status(cr))
    }

    private static func set(_ cr: OpaquePointer?, _ c: FigureColor) {
        cairo_set_source_rgb(cr, Double(c.r) / 255, Double(c.g) / 255, Double(c.b) / 255)
    }

    private static func check(_ status: cairo_status_t) throws {
        guard status != CAIRO_STATUS_SUCCESS else { return }
        throw FigureError.cairo(String(cString: cairo_status_to_string(status)))
    }
}

/// Collects what cairo writes through a stream callback.
private final class ByteSink {
    var data = Data()

    static let write: cairo_write_func_t = { closure, bytes, length in
        guard let closure, let bytes else { return CAIRO_STATUS_WRITE_ERROR }
        Unmanaged<ByteSink>.fromOpaque(closure).takeUnretainedValue().data.append(bytes, count: Int(length))
        return CAIRO_STATUS_SUCCESS
    }
}
