import Foundation
import XCTest
@testable import Workbench

final class SessionTests: XCTestCase {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func testSessionRoundTripsThroughAnAtomicSave() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("maskscope-session-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        var state = WorkbenchState(models: [ModelInfo(name: "tiny", path: "Tests/Fixtures/models/tiny", layers: 2, heads: 4, maxTokens: 512)],
                                   text: "Paris is the <mask> of France.", themes: ["dark", "light"], theme: "light")
        state.history = ["Today is a <mask> day!"]
        state.layer = 1
        state.head = 3
        state.notes = "look at head 4"
        let path = dir.appendingPathComponent("sessions/demo.json").path
        try state.session.save(to: path)
        try state.session.save(to: path)  // overwriting goes through rename as well
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("sessions").path), ["demo.json"],
                       "no temporary file is left behind")
        let loaded = try Session.load(from: path)
        XCTAssertEqual(loaded, state.session)
        var restored = WorkbenchState(models: state.models, themes: ["dark", "light"])
        restored.restore(loaded)
        XCTAssertEqual(restored.text, state.text)
        XCTAssertEqual(restored.history, state.history)
        XCTAssertEqual([restored.layer, restored.head], [1, 3])
        XCTAssertEqual(restored.theme, "light")
        XCTAssertEqual(restored.notes, "look at head 4")
    }

    func testShippedExampleSessionsReplayTheEndpointSamples() throws {
        let dir = Self.repoRoot.appendingPathComponent("sessions")
        let texts = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".json") }.map {
            try Session.load(from: dir.appendingPathComponent($0).path).text
        }
        XCTAssertEqual(Set(texts), ["Paris is the <mask> of France.", "Today is a <mask> day!"])
    }

    func testABrokenSessionFileIsNamedInTheError() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("broken-\(UUID().uuidString).json")
        try Data("{\"models\": [".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        XCTAssertThrowsError(try Session.load(from: file.path)) { error in
            XCTAssertTrue(String(describing: error).contains(file.path))
        }
    }
}
