import Foundation

/// Writes a `Drawing` as SVG by hand (not through cairo, whose SVG surface turns text into glyph outlines): text
/// stays <text> (searchable, selectable, editable), and a cell's hover value is a <title> (standalone) or a
/// `data-tip` attribute (inlined in the HTML page).
enum SVGWriter {
    /// Above this many hover values a standalone SVG carries none: each <title> costs about 60 bytes, and a 256-token
    /// heatmap has 65,536 cells (the HTML page, whose script reads `data-tip`, always has them).
    static let mostTitles = 5_000

    /// The SVG document. `standalone`: with the XML declaration and hover values as <title> elements (which SVG
    /// viewers show); else for the HTML page, hover values as `data-tip` attributes its script shows.
    static func svg(_ drawing: Drawing, standalone: Bool) -> String {
        let hovers = drawing.items.reduce(0) { count, item in
            if case .rect(let r) = item, r.hover != nil { return count + 1 } else { return count }
        }
        let titles = standalone && hovers <= mostTitles
        var out = standalone ? "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" : ""
        let w = number(drawing.width), h = number(drawing.height)
        out += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(w)\" height=\"\(h)\" viewBox=\"0 0 \(w) \(h)\""
        out += " font-family=\"\(TextMeasure.family), sans-serif\">\n"
        // In the page the document's <title> says it; an SVG <title> there would be a tooltip over the whole figure.
        if standalone { out += "<title>\(escape(drawing.title))</title>\n" }
        out += "<rect x=\"0\" y=\"0\" width=\"\(w)\" height=\"\(h)\" fill=\"\(drawing.background)\"/>\n"
        for item in drawing.items {
            switch item {
            case .rect(let r):
                var attributes = "x=\"\(number(r.x))\" y=\"\(number(r.y))\" width=\"\(number(r.width))\" height=\"\(number(r.height))\""
                attributes += " fill=\"\(r.fill.map(\.description) ?? "none")\""
                if let stroke = r.stroke { attributes += " stroke=\"\(stroke)\" stroke-width=\"\(number(r.strokeWidth))\"" }
                if let hover = r.hover, titles {
                    out += "<rect \(attributes)><title>\(escape(hover))</title></rect>\n"
                } else if let hover = r.hover, !standalone {
                    out += "<rect \(attributes) data-tip=\"\(escape(hover))\"/>\n"
                } else {
                    out += "<rect \(attributes)/>\n"
                }
            case .text(let t):
                var attributes = "x=\"\(number(t.x))\" y=\"\(number(t.y))\" font-size=\"\(number(t.size))\" fill=\"\(t.color)\""
                if t.anchor != .start { attributes += " text-anchor=\"\(t.anchor.rawValue)\"" }
                if t.bold { attributes += " font-weight=\"bold\"" }
                if t.rotation != 0 { attributes += " transform=\"rotate(\(number(-t.rotation)) \(number(t.x)) \(number(t.y)))\"" }
                out += "<text \(attributes) xml:space=\"preserve\">\(escape(t.string))</text>\n"
            case .line(let l):
                out += "<line x1=\"\(number(l.x1))\" y1=\"\(number(l.y1))\" x2=\"\(number(l.x2))\" y2=\"\(number(l.y2))\""
                out += " stroke=\"\(l.color)\" stroke-width=\"\(number(l.width))\"/>\n"
            }
        }
        return out + "</svg>\n"
    }

    /// A coordinate with at most two decimals, no trailing zeros.
    static func number(_ v: Double) -> String {
        let rounded = (v * 100).rounded() / 100
        if rounded == rounded.rounded() { return String(Int(rounded)) }
        var s = String(format: "%.2f", rounded)
        while s.hasSuffix("0") { s.removeLast() }
        return s
    }

    /// Text made safe for XML content and attributes; characters XML 1.0 cannot hold become U+FFFD.
    static func escape(_ s: String) -> String {
        var out = ""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default:
                let v = scalar.value
                let allowed = v == 0x9 || v == 0xA || v == 0xD || (v >= 0x20 && v <= 0xD7FF) || (v >= 0xE000 && v <= 0xFFFD) || v >= 0x10000
                out.unicodeScalars.append(allowed ? scalar : "\u{FFFD}")
            }
        }
        return out
    }
}

/// A self-contained HTML page: the SVG inline, a stylesheet and a few lines of script that show the value under
/// the pointer. Nothing is fetched: no link, no src, no URL but the SVG namespace.
enum HTMLWriter {
    static func page(_ drawing: Drawing) -> String {
        let background = drawing.background, text = drawing.background.luminance > 0.4 ? "#111111" : "#eeeeee"
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <title>\(SVGWriter.escape(drawing.title))</title>
            <style>
            body { margin: 0; padding: 16px; background: \(background); color: \(text); font-family: "DejaVu Sans", sans-serif; }
            #tip { position: fixed; display: none; pointer-events: none; padding: 4px 8px; border-radius: 4px; font-size: 12px;
                   background: rgba(20, 20, 20, 0.92); color: #ffffff; white-space: pre; }
            [data-tip]:hover { stroke: \(text); stroke-width: 1.5; }
            svg text { pointer-events: none; }
            </style>
            </head>
            <body>
            \(SVGWriter.svg(drawing, standalone: false))<div id="tip"></div>
            <script>
            (function () {
              // One listener for the page: a heatmap can have 65,536 cells.
              var tip = document.getElementById("tip");
              document.addEventListener("mousemove", function (event) {
                var value = event.target.getAttribute ? event.target.getAttribute("data-tip") : null;
                if (!value) { tip.style.display = "none"; return; }
                tip.textContent = value;
                tip.style.display = "block";
                tip.style.left = (event.clientX + 14) + "px";
                tip.style.top = (event.clientY + 14) + "px";
              });
            })();
            </script>
            </body>
            </html>

            """
    }
}
