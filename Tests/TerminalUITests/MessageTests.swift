import Foundation
import XCTest
@testable import TerminalUI
@testable import Workbench

/// What the workbench says when something is wrong: what exactly, and what to do, on the screen.
final class MessageTests: XCTestCase {
    var scratch = URL(fileURLWithPath: "/nonexistent")

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ms-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: scratch)
    }

    /// An app on an 80x24 test terminal whose inference is answered at once by the tiny fixture model.
    func app(_ state: WorkbenchState, script: [[TerminalEvent]], autosaver: Autosaver? = nil,
             save: @escaping (Session, String?) throws -> String = { _, _ in "unused" }) throws -> (WorkbenchApp, TestBackend) {
        let backend = TestBackend(80, 24, script: script)
        let model = try Fixture.model.get()
        let mailbox = Mailbox()
        let app = WorkbenchApp(
            state: state, backend: backend, themes: [Fixture.mono],
            runInference: { request in
                mailbox.post(.inferenceFinished(id: request.id, model: request.model, analysis: model.analyse(request.text, topK: request.topK)))
            },
            saveSession: save, autosaver: autosaver, mailbox: mailbox)
        return (app, backend)
    }

    func testABrokenThemeFileSaysWhatIsWrongWithItNotThatThereIsNoSuchTheme() throws {
        let themes = scratch.appendingPathComponent("themes")
        try FileManager.default.createDirectory(at: themes, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Fixture.themesDirectory.appendingPathComponent("mono.json"), to: themes.appendingPathComponent("mono.json"))
        try Data("{\"heatmap\": [\"#000000\",\n \"#ffffff\"".utf8).write(to: themes.appendingPathComponent("cut.json"))
        try Data(##"{"accent": "#12345", "heatmap": ["#000000", "#ffffff"]}"##.utf8).write(to: themes.appendingPathComponent("neon.json"))
        try Data(##"{"heatmap": "#000000"}"##.utf8).write(to: themes.appendingPathComponent("flat.json"))
        let (loaded, broken) = Theme.loadAll(from: themes)
        XCTAssertEqual(loaded.map(\.name), ["mono"])
        XCTAssertEqual(broken.keys.sorted(), ["cut", "flat", "neon"])

        func message(_ name: String) -> String {
            do {
                return try Theme.choose(requested: name, saved: nil, available: loaded.map(\.name), broken: broken, noColor: false)
            } catch {
                return String(describing: error)
            }
        }
        let file = { (name: String) in themes.appendingPathComponent(name + ".json").path }
        XCTAssertEqual(message("cut"), "theme file \(file("cut")): not valid JSON (Unexpected end of file during JSON parse)")
        XCTAssertEqual(message("neon"), ##"theme file \##(file("neon")): accent is "#12345"; use "#rrggbb" or "default""##)
        XCTAssertEqual(message("flat"), "theme file \(file("flat")): at heatmap: Expected to decode Array<Any> but found a string instead.")
        XCTAssertEqual(message("none"), "no theme named none; available: mono", "only a theme without a file is unknown")
        // A session's broken theme is passed over, and the status line says why.
        XCTAssertEqual(try Theme.choose(requested: nil, saved: "neon", available: ["dark", "mono"], broken: broken, noColor: false), "dark")
        XCTAssertEqual(Theme.passedOver(saved: "neon", chosen: "dark", broken: broken),
                       ##"the session's theme neon cannot be used (theme file \##(file("neon")): accent is "#12345"; use "#rrggbb" or "default"); using dark"##)
        XCTAssertNil(Theme.passedOver(saved: "gone", chosen: "dark", broken: broken))
    }

    func testASessionSaveFailureOnTheStatusLineSaysWhyAndWhatToDo() throws {
        let file = scratch.appendingPathComponent("f")
        try Data().write(to: file)
        let target = file.appendingPathComponent("s.json").path
        var state = WorkbenchState(models: [Fixture.tiny], text: "Paris is the <mask> of France.", themes: ["mono"], theme: "mono")
        state.sessionPath = target
        let (app, backend) = try app(state, script: [[.key(.ctrl("s"))]]) { session, path in
            try session.save(to: path ?? "unused")
            return path ?? "unused"
        }
        app.run(maxPolls: 3)
        let shown = backend.lines.suffix(4).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
        XCTAssertTrue(shown.contains("cannot save session \(target): a part of \(file.path) is a file, not a folder; move that file away"), shown)
    }

    func testATextLongerThanTheModelTakesSaysToShortenItNotToAskForTruncation() throws {
        let long = String(repeating: "word ", count: 600) + "<mask>"
        let (app, backend) = try app(WorkbenchState(models: [Fixture.tiny], text: long, themes: ["mono"], theme: "mono"), script: [[], []])
        app.run(maxPolls: 3)
        let shown = backend.lines.joined(separator: "\n")
        XCTAssertFalse(shown.contains("--truncate"), "the workbench has no --truncate:\n\(shown)")
        XCTAssertTrue(shown.contains("the text is 1204 tokens (with <s> and </s>) but this model takes at most 512"), shown)
        XCTAssertTrue(shown.contains("shorten it by 692 tokens (Ctrl-W deletes a word)"), shown)
    }

    func testASignalEndsTheLoopWithTheWorkAutosavedAndSaysWhichSignal() throws {
        let path = scratch.appendingPathComponent("state/autosave.json").path
        let autosaver = Autosaver(path: path)
        let (app, _) = try app(WorkbenchState(models: [Fixture.tiny], text: "", themes: ["mono"], theme: "mono"),
                               script: [[.paste("Kept after <mask>")], [.signal(SIGTERM)], [.key(.char("x"))]], autosaver: autosaver)
        app.run(maxPolls: 10)
        XCTAssertEqual(app.endedBySignal, SIGTERM)
        XCTAssertEqual(app.state.text, "Kept after <mask>", "nothing after the signal is read")
        let saved = try XCTUnwrap(try Autosave.load(from: path))
        XCTAssertEqual(saved.session.text, "Kept after <mask>")
        XCTAssertEqual(saved.endedBy, "SIGTERM")
    }

    func testQuittingWritesTheAutosaveAsAQuit() throws {
        let path = scratch.appendingPathComponent("autosave.json").path
        let (app, _) = try app(WorkbenchState(models: [Fixture.tiny], text: "", themes: ["mono"], theme: "mono"),
                               script: [[.paste("a <mask>")], [.key(.ctrl("c"))]], autosaver: Autosaver(path: path))
        app.run(maxPolls: 10)
        XCTAssertNil(app.endedBySignal)
        XCTAssertEqual(try Autosave.load(from: path)?.endedBy, "quit")
        XCTAssertEqual(try Autosave.load(from: path)?.session.text, "a <mask>")
    }
}
