import FileSupport
import Foundation
import XCTest

/// Whole files or nothing, no temporary file left behind, and write failures said in words with what to do.
final class AtomicFileTests: XCTestCase {
    var scratch = URL(fileURLWithPath: "/nonexistent")

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("maskscope-atomic-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: scratch)
    }

    func contents(_ folder: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
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
        XCTAssertEqual(try contents(scratch.appendingPathComponent("deep/er")), ["file.json"])
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber
        XCTAssertEqual(mode?.intValue, 0o600)
    }

    func testAnExistingTargetIsReplacedWithoutDurability() throws {
        let path = scratch.appendingPathComponent("file").path
        try Data("a longer old text".utf8).write(to: URL(fileURLWithPath: path))
        try AtomicFile.write(Data("new".utf8), to: path, durable: false)
        XCTAssertEqual(String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self), "new")
        XCTAssertEqual(try contents(scratch), ["file"])
    }

    func testAMissingFolderIsCreatedWithTheFolderPermissions() throws {
        let path = scratch.appendingPathComponent("new/folder/file").path
        try AtomicFile.write(Data("x".utf8), to: path, folderPermissions: 0o700)
        let mode = try FileManager.default.attributesOfItem(atPath: scratch.appendingPathComponent("new/folder").path)[.posixPermissions] as? NSNumber
        XCTAssertEqual(mode?.intValue, 0o700)
    }

    func testAMissingFolderIsAnErrorNamingThePathWhenItIsNotToBeCreated() throws {
        let path = scratch.appendingPathComponent("missing/file").path
        XCTAssertThrowsError(try AtomicFile.write(Data("x".utf8), to: path, createFolder: false)) { error in
            XCTAssertEqual((error as? FileWriteError)?.code, ENOENT)
            XCTAssertEqual(String(describing: error),
                           "cannot write \(path): the folder \(scratch.path)/missing does not exist (was it moved or deleted?); create it, then save again")
        }
        XCTAssertEqual(try contents(scratch), [], "nothing is created")
    }

    func testAFolderThatCannotBeWrittenInIsAnErrorAndLeavesNothing() throws {
        // The tests run as root, who may write in any folder: a path under a regular file fails for everyone.
        let file = scratch.appendingPathComponent("plain")
        try Data("keep".utf8).write(to: file)
        for createFolder in [true, false] {
            let path = file.appendingPathComponent("sub/file.json").path
            XCTAssertThrowsError(try AtomicFile.write(Data("x".utf8), to: path, createFolder: createFolder)) { error in
                XCTAssertEqual((error as? FileWriteError)?.code, ENOTDIR)
                XCTAssertTrue(String(describing: error).hasPrefix("cannot write \(path): a part of \(file.path)/sub is a file, not a folder"), "\(error)")
            }
        }
        XCTAssertEqual(try contents(scratch), ["plain"])
        XCTAssertEqual(try Data(contentsOf: file), Data("keep".utf8))
    }

    func testAFailedRenameLeavesTheOldTargetAndNoTemporaryFile() throws {
        // A non-empty folder where the file should go: rename(2) cannot replace it.
        let target = scratch.appendingPathComponent("taken")
        try FileManager.default.createDirectory(at: target.appendingPathComponent("inside"), withIntermediateDirectories: true)
        XCTAssertThrowsError(try AtomicFile.write(Data("x".utf8), to: target.path)) { error in
            XCTAssertEqual((error as? FileWriteError)?.code, EISDIR)
            XCTAssertTrue(String(describing: error).contains("\(target.path) is a folder"), "\(error)")
        }
        XCTAssertEqual(try contents(scratch), ["taken"], "the temporary file is removed")
        XCTAssertEqual(try contents(target), ["inside"])
    }

    func testATemporaryFileLeftByAKilledWriteIsWrittenOver() throws {
        let path = scratch.appendingPathComponent("file").path
        try Data("stale and longer".utf8).write(to: URL(fileURLWithPath: AtomicFile.temporaryPath(for: path)))
        try AtomicFile.write(Data("new".utf8), to: path)
        XCTAssertEqual(String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self), "new")
        XCTAssertEqual(try contents(scratch), ["file"])
    }

    func testTheTemporaryNameIsHiddenBesideTheTargetWithThePid() {
        XCTAssertEqual(AtomicFile.temporaryPath(for: "/a/b/autosave.json", suffix: "crash"), "/a/b/.autosave.json.\(getpid()).crash")
        XCTAssertEqual(AtomicFile.temporaryPath(for: "/a/b/file"), "/a/b/.file.\(getpid()).tmp")
    }

    func testASymlinkIsReplacedAtOnceAndLeavesNoTemporaryFile() throws {
        let link = scratch.appendingPathComponent("link").path
        try AtomicFile.symlink(to: "one", at: link)
        try AtomicFile.symlink(to: "../two", at: link)
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: link), "../two")
        XCTAssertEqual(try contents(scratch), ["link"])
    }

    func testASymlinkInAMissingFolderIsAnErrorNamingThePath() throws {
        let link = scratch.appendingPathComponent("missing/link").path
        XCTAssertThrowsError(try AtomicFile.symlink(to: "x", at: link)) { error in
            XCTAssertEqual((error as? FileWriteError)?.code, ENOENT)
            XCTAssertTrue(String(describing: error).hasPrefix("cannot write \(link): "), "\(error)")
        }
        XCTAssertEqual(try contents(scratch), [])
    }

    func testWriteFailuresSayWhatWentWrongAndWhatToDo() {
        func reason(_ code: Int32) -> String { FileWriteError(path: "/data/sessions/a.json", code: code).reason }
        XCTAssertTrue(reason(EACCES).hasPrefix("permission denied: you cannot write in /data/sessions; fix its permissions"), reason(EACCES))
        XCTAssertTrue(reason(ENOSPC).hasPrefix("no space left on the disk holding /data/sessions; free some space"), reason(ENOSPC))
        XCTAssertTrue(reason(EDQUOT).contains("quota"), reason(EDQUOT))
        XCTAssertTrue(reason(ENOENT).hasPrefix("the folder /data/sessions does not exist"), reason(ENOENT))
        XCTAssertTrue(reason(EROFS).contains("read-only file system"), reason(EROFS))
        XCTAssertEqual(reason(EXDEV), String(cString: strerror(EXDEV)), "others: the system's words")
        XCTAssertEqual(FileWriteError(path: "/x", code: EACCES).systemReason, String(cString: strerror(EACCES)))
    }
}
