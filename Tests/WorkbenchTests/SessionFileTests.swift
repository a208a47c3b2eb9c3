import Foundation
import XCTest
@testable import Workbench

/// A session file that cannot be written or read says why (the atomic write itself: FileSupportTests).
final class SessionFileTests: XCTestCase {
    var scratch = URL(fileURLWithPath: "/nonexistent")

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("maskscope-session-file-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: scratch)
    }

    func testASessionSaveFailureSaysWhy() throws {
        let file = scratch.appendingPathComponent("plain")
        try Data().write(to: file)
        let session = Session(models: ["tiny"], text: "a <mask>")
        let path = file.appendingPathComponent("sessions/s.json").path
        XCTAssertThrowsError(try session.save(to: path)) { error in
            XCTAssertEqual(String(describing: error),
                           "cannot save session \(path): a part of \(file.path)/sessions is a file, not a folder; move that file away or save somewhere else")
        }
    }

    func testABrokenSessionFileSaysWhereTheJSONBreaks() throws {
        let file = scratch.appendingPathComponent("broken.json")
        try Data("{\"text\": \"a\",\n \"history\": [\"x\" \"y\"]}".utf8).write(to: file)
        XCTAssertThrowsError(try Session.load(from: file.path)) { error in
            XCTAssertTrue(String(describing: error).hasSuffix("not valid JSON (Invalid value around character 31, line 2 column 18)"), "\(error)")
        }
        try Data("{\"text\": 3}".utf8).write(to: file)
        XCTAssertThrowsError(try Session.load(from: file.path)) { error in
            XCTAssertTrue(String(describing: error).contains("at text: "), "\(error)")
        }
    }
}
