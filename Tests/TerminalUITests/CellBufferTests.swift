import XCTest
@testable import TerminalUI
@testable import Workbench

final class CellBufferTests: XCTestCase {
    func testPutClipsToWidthAndReportsColumns() {
        var buffer = CellBuffer(width: 10, height: 1)
        XCTAssertEqual(buffer.put("Paris is the capital", x: 2, y: 0), 8)
        XCTAssertEqual(buffer.lines, ["  Paris is"])
    }

    func testWideCharactersTakeTwoColumns() {
        var buffer = CellBuffer(width: 6, height: 1)
        XCTAssertEqual(buffer.put("日本x", x: 0, y: 0), 5)
        XCTAssertEqual(buffer.lines, ["日本x"])
        XCTAssertEqual(buffer[1, 0].text, "")
    }

    func testTruncationMarksTheCut() {
        XCTAssertEqual(truncated("capital", 4), "cap…")
        XCTAssertEqual(padded("ab", 4), "ab  ")
        XCTAssertEqual(rightAligned("7", 3), "  7")
    }

    func testVisibleWhitespace() {
        XCTAssertEqual(visibleWhitespace(" capital\n"), "␣capital\\n")
    }
}

final class ThemeTests: XCTestCase {
    func testShippedThemesDecodeAndIncludeDarkLightAndMono() {
        let (themes, problems) = Theme.loadAll(from: Fixture.themesDirectory)
        XCTAssertEqual(problems, [:])
        let names = Set(themes.map(\.name))
        XCTAssertTrue(names.isSuperset(of: ["dark", "light", "mono"]), "\(names)")
        for theme in themes where !theme.monochrome {
            XCTAssertGreaterThanOrEqual(theme.heatmap.count, 2, theme.name)
            XCTAssertNotNil(theme.text, theme.name)
        }
        XCTAssertTrue(themes.first { $0.name == "mono" }?.monochrome ?? false)
    }

    func testBadColourIsNamedWithItsRole() {
        XCTAssertThrowsError(try Theme.decode(Data(##"{"text": "red", "heatmap": ["#000000", "#ffffff"]}"##.utf8), name: "x")) {
            XCTAssertEqual(String(describing: $0), ##"theme x: text is "red"; use "#rrggbb" or "default""##)
        }
    }

    func testRampInterpolatesBetweenStops() throws {
        let theme = try Theme.decode(Data(##"{"heatmap": ["#000000", "#ffffff"]}"##.utf8), name: "t")
        XCTAssertEqual(theme.rampColor(0), RGB(0, 0, 0))
        XCTAssertEqual(theme.rampColor(0.5), RGB(128, 128, 128))
        XCTAssertEqual(theme.rampColor(1), RGB(255, 255, 255))
        XCTAssertEqual(Theme.shade(0), " ")
        XCTAssertEqual(Theme.shade(1), "█")
    }
}

final class AppTests: XCTestCase {
    func testAppDrawsTypesAndQuitsOnTheTestBackend() throws {
        let backend = TestBackend(80, 24, script: [
            [.key(.ctrl("u"))], [.paste("Today is a ")], [.key(.ctrl("o"))], [.paste(" day!")], [], [.key(.tab)], [.key(.char("q"))],
        ])
        let model = try Fixture.model.get()
        let mailbox = Mailbox()
        // Answered at once, as the scheduler would from its thread; the loop picks the results up.
        let app = WorkbenchApp(
            state: WorkbenchState(models: [Fixture.tiny], text: "Paris is the <mask> of France.", themes: ["mono"], theme: "mono"),
            backend: backend, themes: [Fixture.mono],
            runInference: { request in
                mailbox.post(.inferenceFinished(id: request.id, model: request.model, analysis: model.analyse(request.text, topK: request.topK)))
            },
            saveSession: { _, _ in "unused" }, mailbox: mailbox)
        app.run(maxPolls: 20)
        XCTAssertTrue(app.state.quitRequested)
        XCTAssertEqual(app.state.text, "Today is a <mask> day!")
        XCTAssertTrue(backend.frames.contains { $0.lines[1].contains("Today is a <mask> day!") })
        XCTAssertTrue(backend.frames.contains { $0.lines.joined().contains("␣day") })
    }

    /// A result posted from a background thread wakes the loop's poll, so it is drawn at once rather than
    /// at the poll's timeout (up to 50 ms later).
    func testMailboxPostFromAnotherThreadWakesTheBackend() throws {
        let backend = TestBackend(80, 24)
        let mailbox = Mailbox()
        let app = WorkbenchApp(
            state: WorkbenchState(models: [Fixture.tiny], text: "Paris is the <mask> of France.", themes: ["mono"], theme: "mono"),
            backend: backend, themes: [Fixture.mono], runInference: { _ in }, saveSession: { _, _ in "unused" }, mailbox: mailbox)
        XCTAssertEqual(backend.wakes, 0)
        let posted = expectation(description: "posted")
        DispatchQueue.global().async {
            mailbox.post(.quitRequested)
            posted.fulfill()
        }
        wait(for: [posted], timeout: 5)
        XCTAssertEqual(backend.wakes, 1)
        app.run(maxPolls: 2)
        XCTAssertTrue(app.state.quitRequested, "the posted action reached the loop")
    }
}
