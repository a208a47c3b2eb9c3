import Figures
import Foundation
import XCTest

/// Long sentences, the token cap, the styles' ramps and the titles.
final class LayoutTests: XCTestCase {
    func testMoreTokensThanTheCapIsAnErrorNamingBoth() {
        let tokens = (0..<300).map { "t\($0)" }
        XCTAssertThrowsError(try FigureExport.render(.attention(Samples.heatmap(tokens: tokens, labels: [])), as: .svg, style: .viridis)) { error in
            XCTAssertEqual(error as? FigureError, .tooManyTokens(count: 300, cap: 256))
            let text = String(describing: error)
            XCTAssertTrue(text.contains("300 tokens") && text.contains("at most 256"), text)
            XCTAssertTrue(text.contains("json or csv"), "says what to do: \(text)")
        }
        // The numbers have no cap.
        XCTAssertNoThrow(try FigureExport.render(.attention(Samples.heatmap(tokens: tokens, labels: [])), as: .csv, style: .viridis))
    }

    func testLongSentenceKeepsKeyLabelsApartAndRotated() throws {
        for n in [9, 40, 120, 256] {
            let tokens = (0..<n).map { "Ġword\($0)" }
            let drawing = try Layout.drawing(for: .attention(Samples.heatmap(tokens: tokens, labels: [])), style: .viridis)
            let keyLabels = drawing.texts.filter { $0.rotation == 90 && $0.string.hasPrefix("Ġword") }
            XCTAssertEqual(keyLabels.count, n, "every key labelled at \(n) tokens")
            let gaps = zip(keyLabels, keyLabels.dropFirst()).map { $1.x - $0.x }
            XCTAssertGreaterThanOrEqual(gaps.min() ?? 100, keyLabels[0].size, "key labels overlap at \(n) tokens")
            XCTAssertGreaterThanOrEqual(keyLabels[0].size, 8, "labels too small to read at \(n) tokens")
            let queryLabels = drawing.texts.filter { $0.rotation == 0 && $0.anchor == .end && $0.string.hasPrefix("Ġword") }
            let rowGaps = zip(queryLabels, queryLabels.dropFirst()).map { $1.y - $0.y }
            XCTAssertGreaterThanOrEqual(rowGaps.min() ?? 100, queryLabels[0].size, "query labels overlap at \(n) tokens")
            XCTAssertTrue(drawing.texts.allSatisfy { $0.x >= 0 && $0.y <= drawing.height }, "text outside the figure at \(n) tokens")
        }
        let small = try Layout.drawing(for: .attention(Samples.heatmap()), style: .viridis)
        let large = try Layout.drawing(for: .attention(Samples.heatmap(tokens: (0..<120).map { "w\($0)" }, labels: [])), style: .viridis)
        XCTAssertGreaterThan(large.width, small.width, "the figure grows with the tokens")
    }

    func testOverlongLabelIsCutWithAnEllipsis() throws {
        var tokens = Samples.tokens
        tokens[1] = String(repeating: "x", count: 200)
        let drawing = try Layout.drawing(for: .attention(Samples.heatmap(tokens: tokens, labels: tokens)), style: .viridis)
        XCTAssertTrue(drawing.texts.contains { $0.string.hasPrefix("xxx") && $0.string.hasSuffix("…") })
        XCTAssertFalse(drawing.texts.contains { $0.string == tokens[1] })
    }

    /// An all-zero map (the norms of a knocked-out head) gets one "0" tick on its colour bar, not six equal labels.
    func testAnAllZeroMapHasOneTick() throws {
        let zeros = Array(repeating: Array(repeating: 0.0, count: Samples.tokens.count), count: Samples.tokens.count)
        let figure = HeatmapFigure(model: "tiny", layer: 1, head: 1, mode: "norms", tokens: Samples.tokens, labels: Samples.labels,
                                   matrix: zeros, text: "Paris is the <mask> of France.")
        let drawing = try Layout.drawing(for: .attention(figure), style: .viridis)
        let ticks = drawing.texts.filter { $0.string.allSatisfy { $0.isNumber || $0 == "." } && $0.string.contains("0") && $0.size == 9 }
        XCTAssertEqual(ticks.map(\.string), ["0"], "\(drawing.texts.map(\.string))")
    }

    /// A text of 20,000 characters is cut to fit (by halving: a logarithmic number of measurements; it took 9 s when
    /// it was cut one character at a time).
    func testAVeryLongTitleIsCut() throws {
        let long = String(repeating: "word ", count: 4000) + "<mask>"
        let drawing = try Layout.drawing(for: .candidates(CandidatesFigure(model: "tiny", text: long, masks: [
            MaskCandidates(position: 4000, candidates: [FigureCandidate(token: 5, tokenStr: " word", score: 0.5)])])), style: .viridis)
        XCTAssertTrue(drawing.texts.contains { $0.string.hasPrefix("word word") && $0.string.hasSuffix("…") })
    }

    func testTitleNamesModelLayerHeadAndMode() throws {
        let drawing = try Layout.drawing(for: .attention(Samples.heatmap()), style: .cividis)
        XCTAssertEqual(drawing.title, "Attention · tiny · layer 2, head 3 · weights")
        XCTAssertTrue(drawing.texts.contains { $0.string == "attention weight" && $0.rotation == 90 }, "colour bar label")
    }

    func testRampsRunFromFirstToLastStop() {
        XCTAssertEqual(FigureStyle.viridis.color(at: 0), FigureColor(hex: 0x440154))
        XCTAssertEqual(FigureStyle.viridis.color(at: 1), FigureColor(hex: 0xfde725))
        XCTAssertEqual(FigureStyle.cividis.color(at: 0.5), FigureColor(hex: 0x7d7c78), "stop 16 of 0…32")
        XCTAssertEqual(FigureStyle.mono.color(at: 0.5), FigureColor(128, 128, 128))
        XCTAssertEqual(FigureStyle.mono.color(at: -3), .white)
        XCTAssertEqual(FigureStyle.mono.color(at: .nan), .white)
        let mono = FigureStyle.mono
        for t in stride(from: 0.0, through: 1, by: 0.1) {
            let c = mono.color(at: t)
            XCTAssertTrue(c.r == c.g && c.g == c.b, "mono is grey")
        }
        let theme = FigureStyle.theme(name: "dark", ramp: [FigureColor(hex: 0x0d0887), FigureColor(hex: 0xf0f921)],
                                      background: FigureColor(hex: 0x1d2026), text: nil, dim: nil, bar: nil, secondBar: nil)
        XCTAssertEqual(theme.color(at: 1), FigureColor(hex: 0xf0f921))
        XCTAssertEqual(theme.text, FigureColor(hex: 0xd8dee9), "light text on a dark theme")
    }

    func testEmptyViewsSayWhatIsMissing() {
        let noMasks = CandidatesFigure(model: "tiny", text: "no mask", masks: [])
        XCTAssertThrowsError(try Layout.drawing(for: .candidates(noMasks), style: .viridis)) { error in
            XCTAssertEqual(String(describing: error), "nothing to draw for the candidates view: the text has no <mask>")
        }
        XCTAssertThrowsError(try FigureExport.render(.attention(Samples.heatmap()), as: .png, style: .viridis, scale: 100)) { error in
            XCTAssertEqual(error as? FigureError, .badScale(100, allowed: 0.25...8))
        }
    }

    func testFormatFromExtension() {
        XCTAssertEqual(FigureFormat(pathExtension: "SVG"), .svg)
        XCTAssertEqual(FigureFormat(pathExtension: "htm"), .html)
        XCTAssertNil(FigureFormat(pathExtension: "jpg"))
    }

    /// With MASKSCOPE_FIGURE_PREVIEW=DIR every sample view is written there as PNG, PDF, SVG and HTML in every style.
    func testWritesPreviewsWhenAsked() throws {
        guard let folder = ProcessInfo.processInfo.environment["MASKSCOPE_FIGURE_PREVIEW"] else { return }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let styles: [FigureStyle] = [.theme(name: "dark", ramp: [0x0d0887, 0x6a00a8, 0xb12a90, 0xe16462, 0xfca636, 0xf0f921].map(FigureColor.init(hex:)),
                                            background: FigureColor(hex: 0x1d2026), text: FigureColor(hex: 0xd8dee9),
                                            dim: FigureColor(hex: 0x7b8394), bar: FigureColor(hex: 0xa3be8c), secondBar: FigureColor(hex: 0x88c0d0)),
                                     .print(), .cividis, .mono]
        let long = Figure.attention(Samples.heatmap(tokens: (0..<60).map { "Ġtoken\($0)" }, labels: (0..<60).map { "token\($0)" }))
        for (s, style) in styles.enumerated() {
            for figure in Samples.all + [long] {
                let name = "\(figure.viewName)\(figure == long ? "-long" : "")-\(s)"
                for format in [FigureFormat.png, .pdf, .svg, .html] {
                    try FigureExport.render(figure, as: format, style: style, scale: 1.5)
                        .write(to: URL(fileURLWithPath: folder).appendingPathComponent("\(name).\(format.rawValue)"))
                }
            }
        }
    }
}
