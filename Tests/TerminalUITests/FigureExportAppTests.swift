import Figures
import Foundation
import XCTest
@testable import TerminalUI
@testable import Workbench

/// F9 through the app: the effect is run by the app's `FigureExporter` off the loop's thread, in the theme's colours,
/// and its answer comes back through the mailbox to the status line.
final class FigureExportAppTests: XCTestCase {
    func testF9WritesTheFileAndTheStatusLineNamesIt() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ms-export-\(UUID().uuidString.prefix(8))")
        addTeardownBlock { try? FileManager.default.removeItem(at: folder) }
        var state = try Fixture.state(focus: .attention)
        state.layer = 1
        state.head = 3
        let backend = TestBackend(80, 24)
        let mailbox = Mailbox()
        let app = WorkbenchApp(state: state, backend: backend, themes: [Fixture.mono], runInference: { _ in },
                               saveSession: { _, _ in "unused" }, mailbox: mailbox, exporter: FigureExporter(folder: folder.path))
        guard let action = Keymap.action(for: .function(9), in: app.state) else { return XCTFail("F9 does nothing") }
        app.send(action)
        XCTAssertEqual(app.state.notice?.text, "writing the attention figure as svg…")

        var answers: [Action] = []
        let deadline = Date().addingTimeInterval(10)
        while answers.isEmpty, Date() < deadline {
            answers = mailbox.drain()
            if answers.isEmpty { usleep(5_000) }
        }
        XCTAssertEqual(answers.count, 1)
        guard case .figureExported(let path)? = answers.first else { return XCTFail("not written: \(answers)") }
        for answer in answers { app.send(answer) }
        XCTAssertTrue(URL(fileURLWithPath: path).lastPathComponent.hasPrefix("attention-tiny-L2H4-"), path)
        XCTAssertTrue(path.hasSuffix(".svg"), path)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path))
        XCTAssertEqual(app.state.notice, Notice("wrote \(path)"))
        XCTAssertTrue(app.frame().lines.joined(separator: "\n").contains("wrote "), "the status line names the file")
        // The mono theme draws in grey scale: white to black.
        let svg = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertTrue(svg.contains("Attention · tiny · layer 2, head 4 · weights"), "the title says what it is")
    }

    func testAThemesFigureStyleTakesItsRamp() throws {
        let themes = Theme.loadAll(from: Fixture.themesDirectory).themes
        let dark = try XCTUnwrap(themes.first { $0.name == "dark" })
        XCTAssertEqual(dark.figureStyle.ramp, dark.heatmap.map(FigureColor.init))
        XCTAssertEqual(dark.figureStyle.name, "theme dark")
        XCTAssertEqual(Fixture.mono.figureStyle, FigureStyle.mono)
    }
}
