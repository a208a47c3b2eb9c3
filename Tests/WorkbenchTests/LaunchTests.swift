import Foundation
import XCTest
@testable import Workbench

/// How --model/--text/--top-k, a --session file and the defaults combine: flags over the session, the
/// session over the defaults.
final class LaunchTests: XCTestCase {
    let models = [ModelInfo(name: "tiny", path: "tiny", layers: 2, heads: 4, maxTokens: 512),
                  ModelInfo(name: "other", path: "other", layers: 3, heads: 4, maxTokens: 512)]

    func saved() -> Session {
        var session = Session(models: ["Tests/Fixtures/models/tiny", "/abs/model", "roberta-base"], text: "Today is a <mask> day!")
        session.topK = 8
        session.history = ["Paris is the <mask> of France."]
        session.activeModel = 1
        session.layer = 1
        session.theme = "light"
        return session
    }

    func testModelFlagsWinOverTheSessionsModels() {
        let options = LaunchOptions(models: ["roberta-large", "./dir"], sessionFile: "/repo/sessions/a.json")
        XCTAssertEqual(WorkbenchLaunch.models(options, session: saved()) { _ in true },
                       [NamedModel(given: "roberta-large", lookup: "roberta-large"), NamedModel(given: "./dir", lookup: "./dir")])
    }

    func testSessionModelsAreFoundFromHereElseFromTheFolderAboveTheSessionAndKeepTheirSavedNames() {
        let options = LaunchOptions(sessionFile: "/repo/sessions/a.json")
        // Only the repository copy exists: the relative path is taken from /repo; the rest stay as written.
        let fromRepo = WorkbenchLaunch.models(options, session: saved()) { $0 == "/repo/Tests/Fixtures/models/tiny" }
        XCTAssertEqual(fromRepo, [NamedModel(given: "Tests/Fixtures/models/tiny", lookup: "/repo/Tests/Fixtures/models/tiny"),
                                  NamedModel(given: "/abs/model", lookup: "/abs/model"),
                                  NamedModel(given: "roberta-base", lookup: "roberta-base")])
        // It exists from the working directory too: taken as written.
        let fromHere = WorkbenchLaunch.models(options, session: saved()) { _ in true }
        XCTAssertEqual(fromHere.map(\.lookup), ["Tests/Fixtures/models/tiny", "/abs/model", "roberta-base"])
    }

    func testNoFlagsAndNoSessionLeaveTheChoiceToTheStartupPolicy() {
        XCTAssertEqual(WorkbenchLaunch.models(LaunchOptions(), session: nil), [])
        XCTAssertEqual(WorkbenchLaunch.models(LaunchOptions(sessionFile: "s.json"), session: Session(models: [], text: "x")), [])
    }

    func testWithoutSessionTheSampleSentenceOrTheTextFlagOpens() {
        let plain = WorkbenchLaunch.state(models: models, options: LaunchOptions(), session: nil, themes: ["dark", "light"], theme: "dark")
        XCTAssertEqual(plain.text, "Paris is the <mask> of France.")
        XCTAssertEqual(plain.topK, 5)
        XCTAssertNil(plain.sessionPath)
        let flagged = WorkbenchLaunch.state(models: models, options: LaunchOptions(text: "", topK: 3), session: nil,
                                            themes: ["dark"], theme: "dark")
        XCTAssertEqual(flagged.text, "", "--text '' opens an empty editor")
        XCTAssertEqual(flagged.topK, 3)
    }

    func testSessionIsRestoredAndTextTopKAndThemeFlagsWinOverIt() {
        let options = LaunchOptions(sessionFile: "sessions/a.json")
        let restored = WorkbenchLaunch.state(models: models, options: options, session: saved(), themes: ["dark", "light"], theme: "light")
        XCTAssertEqual(restored.text, "Today is a <mask> day!")
        XCTAssertEqual(restored.topK, 8)
        XCTAssertEqual(restored.history, ["Paris is the <mask> of France."])
        XCTAssertEqual(restored.activeModel, 1)
        XCTAssertEqual(restored.layer, 1)
        XCTAssertEqual(restored.theme, "light")
        XCTAssertEqual(restored.sessionPath, "sessions/a.json")

        let overridden = WorkbenchLaunch.state(models: models, options: LaunchOptions(sessionFile: "sessions/a.json", text: "A <mask>.", topK: 2),
                                               session: saved(), themes: ["dark", "light"], theme: "dark")
        XCTAssertEqual(overridden.text, "A <mask>.")
        XCTAssertEqual(overridden.topK, 2)
        XCTAssertEqual(overridden.theme, "dark", "the theme chosen from --theme stays, though the session saved light")
        XCTAssertEqual(overridden.history, ["Paris is the <mask> of France."], "the rest of the session is restored")
    }
}
