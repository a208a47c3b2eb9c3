import Foundation
import XCTest
@testable import Workbench

/// Whole files or nothing, and write failures said in words with what to do.
final class AtomicFileTests: XCTestCase {
    var scratch = URL(fileURLWithPath: "/nonexistent")

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("maskscope-atomic-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: scratch)
    }

    func testAWriteReplacesTheFileWholeAndLeavesNoTemporaryFile() throws {
        let path = scratch.appendingPathComponent("deep/er/file.json").path
        try AtomicFile.write(Data("old".utf8), to: path)
        // The file seen through a descriptor opened before the second write keeps the old bytes: the new
        // ones went to another inode, renamed over the name, never written into the old file in place.
        let before = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        try AtomicFile.write(Data("new contents".utf8), to: path, permissions: 0o600)
        XCTAssertEqual(String(decoding: try before.readToEnd() ?? Data(), as: UTF8.self), "old")
        XCTAssertEqual(String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self), "new contents")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scratch.appendingPathComponent("deep/er").path), ["file.json"])
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber
        XCTAssertEqual(mode?.intValue, 0o600)
    }

    func testAFailedWriteLeavesTheOldFileAndNoTemporaryFile() throws {
        // A non-empty folder where the file should go: rename(2) cannot replace it.
        let target = scratch.appendingPathComponent("taken")
        try FileManager.default.createDirectory(at: target.appendingPathComponent("inside"), withIntermediateDirectories: true)
        XCTAssertThrowsError(try AtomicFile.write(Data("x".utf8), to: target.path)) { error in
            XCTAssertEqual((error as? FileWriteError)?.code, EISDIR)
            XCTAssertTrue(String(describing: error).contains("\(target.path) is a folder"), "\(error)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scratch.path), ["taken"], "the temporary file is removed")
    }

    func testWriteFailuresSayWhatWentWrongAndWhatToDo() {
        func reason(_ code: Int32) -> String { FileWriteError(path: "/data/sessions/a.json", code: code).reason }
        XCTAssertTrue(reason(EACCES).hasPrefix("permission denied: you cannot write in /data/sessions; fix its permissions"), reason(EACCES))
        XCTAssertTrue(reason(ENOSPC).hasPrefix("no space left on the disk holding /data/sessions; free some space"), reason(ENOSPC))
        XCTAssertTrue(reason(EDQUOT).contains("quota"), reason(EDQUOT))
        XCTAssertTrue(reason(ENOENT).hasPrefix("the folder /data/sessions does not exist"), reason(ENOENT))
        XCTAssertTrue(reason(EROFS).contains("read-only file system"), reason(EROFS))
        XCTAssertEqual(reason(EXDEV), String(cString: strerror(EXDEV)), "others: the system's words")
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
