import CCairo
import Figures
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest

/// Every view in every format, checked by what a program can check: XML that parses, a PNG of the right size
/// with the right colours at known cells, a PDF with a page and its text, HTML that fetches nothing, the numbers.
final class FigureFormatTests: XCTestCase {
    let style = FigureStyle.print(ramp: Ramps.viridis)

    func testEveryViewRendersInEveryFormat() throws {
        for figure in Samples.all {
            for format in FigureFormat.allCases {
                let data = try FigureExport.render(figure, as: format, style: style, scale: 1)
                XCTAssertFalse(data.isEmpty, "\(figure.viewName) as \(format)")
                switch format {
                case .svg: try assertWellFormedXML(data, "\(figure.viewName).svg")
                case .pdf: assertPDF(data, "\(figure.viewName).pdf")
                case .png: XCTAssertEqual(Array(data.prefix(8)), [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], "\(figure.viewName).png")
                case .html: assertSelfContained(String(decoding: data, as: UTF8.self), "\(figure.viewName).html")
                case .json: XCTAssertNoThrow(try JSONSerialization.jsonObject(with: data), "\(figure.viewName).json")
                case .csv: XCTAssertTrue(String(decoding: data, as: UTF8.self).hasSuffix("\n"))
                }
            }
        }
    }

    func testSVGKeepsTextAsTextElements() throws {
        let svg = String(decoding: try FigureExport.render(.attention(Samples.heatmap()), as: .svg, style: style), as: UTF8.self)
        for label in ["France", "&lt;mask&gt;", "Attention · tiny · layer 2, head 3 · weights", "query", "key (attended to)"] {
            XCTAssertTrue(svg.contains(">\(label)</text>"), "no <text> \(label)")
        }
        XCTAssertTrue(svg.contains("font-family=\"DejaVu Sans, sans-serif\""))
        XCTAssertFalse(svg.contains("<path"), "text drawn as glyph outlines")
        XCTAssertTrue(svg.contains("<title>query 3 the → key 4 &lt;mask&gt;: 0.8000</title>"), "hover value of cell 3 4")
    }

    func testSVGEscapesMarkupInTokens() throws {
        let tokens = ["<s>", "a&b", "\"q\"", "</svg>", "\u{1}"]
        let figure = Figure.attention(Samples.heatmap(tokens: tokens, labels: tokens))
        try assertWellFormedXML(try FigureExport.render(figure, as: .svg, style: style), "escaped.svg")
    }

    func testPNGHasScaledSizeAndCellColoursOfTheirValues() throws {
        let figure = Samples.heatmap()
        let drawing = try Layout.drawing(for: .attention(figure), style: style)
        for scale in [1.0, 2.0] {
            let png = try FigureExport.render(.attention(figure), as: .png, style: style, scale: scale)
            let image = try PNGImage(png)
            XCTAssertEqual(image.width, Int((drawing.width * scale).rounded(.up)))
            XCTAssertEqual(image.height, Int((drawing.height * scale).rounded(.up)))
            // The peak (0.8) is the top of the ramp; the rest (0.025) sits near the bottom.
            for (q, k) in [(0, 1), (3, 4), (8, 0), (0, 0), (5, 2)] {
                let cell = try XCTUnwrap(drawing.rects(tagged: "cell \(q) \(k)").first)
                let pixel = image.pixel(x: Int((cell.x + cell.width / 2) * scale), y: Int((cell.y + cell.height / 2) * scale))
                let expected = style.color(at: figure.matrix[q][k] / 0.8)
                XCTAssertEqual(pixel, expected, "cell \(q) \(k) at scale \(scale)")
            }
            XCTAssertEqual(image.pixel(x: 2, y: 2), .white, "print background")
        }
    }

    func testOverviewCellsAndMissingValuesInPNG() throws {
        let drawing = try Layout.drawing(for: .overview(Samples.overview), style: .mono)
        let image = try PNGImage(try FigureExport.render(.overview(Samples.overview), as: .png, style: .mono, scale: 1))
        // Mono: 0 is white, 1 is black; sample a corner of each cell, away from the value printed in its middle.
        for (layer, head, expected) in [(1, 1, FigureColor.white), (1, 4, .black), (1, 3, FigureColor(128, 128, 128))] {
            let cell = try XCTUnwrap(drawing.rects(tagged: "cell \(layer) \(head)").first)
            XCTAssertEqual(image.pixel(x: Int(cell.x + 4), y: Int(cell.y + 4)), expected, "layer \(layer) head \(head)")
        }
        XCTAssertTrue(drawing.texts.contains { $0.string == "–" }, "a missing value is shown as –")
    }

    func testPDFHasOnePageAndKeepsText() throws {
        let pdf = try FigureExport.render(.attention(Samples.heatmap()), as: .pdf, style: style)
        assertPDF(pdf, "attention.pdf")
        let text = String(decoding: pdf, as: UTF8.self)
        XCTAssertTrue(text.contains("/Type /Page"), "no page object")
        XCTAssertTrue(text.contains("DejaVu"), "the font is not embedded")
        XCTAssertTrue(text.contains("/ToUnicode"), "text cannot be extracted")
    }

    func testHTMLFetchesNothingAndCarriesHoverValues() throws {
        for figure in Samples.all {
            let html = String(decoding: try FigureExport.render(figure, as: .html, style: style), as: UTF8.self)
            assertSelfContained(html, figure.viewName)
            XCTAssertTrue(html.contains("data-tip=\""), "\(figure.viewName): no hover values")
            XCTAssertTrue(html.contains("<script>"))
        }
        let html = String(decoding: try FigureExport.render(.attention(Samples.heatmap()), as: .html, style: style), as: UTF8.self)
        XCTAssertTrue(html.contains("data-tip=\"query 0 &lt;s&gt; → key 1 Paris: 0.8000\""), "hover of cell 0 1")
        // A value printed in a cell must not swallow the pointer (Chromium showed no value over the number).
        XCTAssertTrue(html.contains("svg text { pointer-events: none; }"))
    }

    /// Head 0 is the mean over the layer's heads (the workbench's `a`): the title says so and the JSON's head is null.
    func testTheMeanOverHeadsIsTitledAndHasNoHead() throws {
        var figure = Samples.heatmap()
        figure.head = 0
        let svg = String(decoding: try FigureExport.render(.attention(figure), as: .svg, style: style), as: UTF8.self)
        XCTAssertTrue(svg.contains("layer 2, mean over heads · weights"), "the title")
        XCTAssertFalse(svg.contains("head 0"))
        let json = try FigureExport.render(.attention(figure), as: .json, style: style)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        XCTAssertTrue(object["head"] is NSNull, "head: \(String(describing: object["head"]))")
        XCTAssertEqual(object["mode"] as? String, "weights")
    }

    func testAttentionJSONAndCSVCarryTheMatrix() throws {
        let figure = Samples.heatmap()
        let json = try FigureExport.render(.attention(figure), as: .json, style: style)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        XCTAssertEqual(object["model"] as? String, "tiny")
        XCTAssertEqual(object["view"] as? String, "attention")
        XCTAssertEqual(object["layer"] as? Int, 2)
        XCTAssertEqual(object["head"] as? Int, 3)
        XCTAssertEqual(object["tokens"] as? [String], Samples.tokens)
        XCTAssertEqual(object["matrix"] as? [[Double]], figure.matrix)

        let csv = String(decoding: try FigureExport.render(.attention(figure), as: .csv, style: style), as: UTF8.self)
        let rows = csv.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        XCTAssertEqual(rows.count, 10)
        XCTAssertEqual(rows[0], [""] + Samples.tokens)
        for q in 0..<9 {
            XCTAssertEqual(rows[q + 1].first, Samples.tokens[q])
            XCTAssertEqual(rows[q + 1].dropFirst().map { Double($0) ?? .nan }, figure.matrix[q])
        }
    }

    func testCandidatesCSVQuotesFieldsThatNeedIt() throws {
        let csv = String(decoding: try FigureExport.render(.candidates(Samples.candidates), as: .csv, style: style), as: UTF8.self)
        let lines = csv.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines[0], "mask,position,rank,token,token_str,score")
        XCTAssertEqual(lines[1], "1,4,1,5,\" capital\",0.5")
        XCTAssertEqual(lines[3], "1,4,3,11,\",\",0.125")
        XCTAssertEqual(lines[5], "2,7,2,12,\"\"\"quoted\"\"\",0.0625")
    }

    func testOtherViewsJSONShapes() throws {
        func object(_ figure: Figure) throws -> [String: Any] {
            try XCTUnwrap(try JSONSerialization.jsonObject(with: FigureExport.render(figure, as: .json, style: style)) as? [String: Any])
        }
        let overview = try object(.overview(Samples.overview))
        let values = try XCTUnwrap(overview["values"] as? [[Any]])
        XCTAssertEqual(values.count, 2)
        XCTAssertTrue(values[1][1] is NSNull)
        XCTAssertEqual(values[0][3] as? Double, 1.0)

        let candidates = try XCTUnwrap(try object(.candidates(Samples.candidates))["masks"] as? [[String: Any]])
        let first = try XCTUnwrap((candidates[0]["candidates"] as? [[String: Any]])?.first)
        XCTAssertEqual(first["rank"] as? Int, 1)
        XCTAssertEqual(first["token_str"] as? String, " capital")
        XCTAssertEqual(first["score"] as? Double, 0.5)

        let compare = try object(.compare(Samples.compare))
        XCTAssertEqual(compare["models"] as? [String], ["tiny", "tiny-f16"])
        let lens = try XCTUnwrap(try object(.lens(Samples.lens))["masks"] as? [[String: Any]])
        XCTAssertEqual((lens[0]["layers"] as? [Any])?.count, 3)
        let heads = try XCTUnwrap(try object(.headStats(Samples.headStats))["heads"] as? [[String: Any]])
        XCTAssertEqual(heads.count, 4)
        XCTAssertEqual(heads[1]["label"] as? String, "previous")
        XCTAssertTrue(heads[1]["to_punct"] is NSNull)
    }

    // MARK: helpers

    func assertWellFormedXML(_ data: Data, _ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let parser = XMLParser(data: data)
        XCTAssertTrue(parser.parse(), "\(name): \(parser.parserError.map(String.init(describing:)) ?? "?")", file: file, line: line)
    }

    func assertPDF(_ data: Data, _ name: String, file: StaticString = #filePath, line: UInt = #line) {
        let text = String(decoding: data, as: UTF8.self)
        XCTAssertTrue(text.hasPrefix("%PDF-"), name, file: file, line: line)
        XCTAssertTrue(text.contains("/Count 1"), "\(name): not one page", file: file, line: line)
        XCTAssertTrue(text.contains("%%EOF"), "\(name): unfinished", file: file, line: line)
    }

    func assertSelfContained(_ html: String, _ name: String, file: StaticString = #filePath, line: UInt = #line) {
        let withoutNamespace = html.replacingOccurrences(of: "xmlns=\"http://www.w3.org/2000/svg\"", with: "")
        for banned in ["http://", "https://", "<link", "src=", "url(", "@import", "//cdn"] {
            XCTAssertFalse(withoutNamespace.lowercased().contains(banned), "\(name) contains \(banned)", file: file, line: line)
        }
        XCTAssertTrue(html.hasPrefix("<!DOCTYPE html>"), name, file: file, line: line)
        XCTAssertTrue(html.contains("<svg"), name, file: file, line: line)
    }
}

/// A PNG read back with cairo, pixel by pixel.
struct PNGImage {
    let width: Int, height: Int
    private let pixels: [UInt32]

    init(_ png: Data) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("figure-\(UUID().uuidString).png").path
        try png.write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let surface = cairo_image_surface_create_from_png(path)
        defer { cairo_surface_destroy(surface) }
        guard cairo_surface_status(surface) == CAIRO_STATUS_SUCCESS, let data = cairo_image_surface_get_data(surface) else {
            throw NSError(domain: "PNGImage", code: 1, userInfo: [NSLocalizedDescriptionKey: "cairo cannot read the PNG"])
        }
        width = Int(cairo_image_surface_get_width(surface))
        height = Int(cairo_image_surface_get_height(surface))
        let stride = Int(cairo_image_surface_get_stride(surface))
        var pixels = [UInt32](repeating: 0, count: width * height)
        for y in 0..<height {
            let row = UnsafeRawPointer(data + y * stride)
            for x in 0..<width { pixels[y * width + x] = row.load(fromByteOffset: x * 4, as: UInt32.self) }
        }
        self.pixels = pixels
    }

    /// The colour at (x, y) (cairo's native 0xAARRGGBB).
    func pixel(x: Int, y: Int) -> FigureColor {
        let v = pixels[y * width + x]
        return FigureColor(UInt8((v >> 16) & 0xff), UInt8((v >> 8) & 0xff), UInt8(v & 0xff))
    }
}
