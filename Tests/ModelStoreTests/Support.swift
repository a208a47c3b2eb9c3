import Foundation
import XCTest
@testable import ModelStore

/// Paths of the committed fixtures and scratch folders that clean up after the test.
enum TestPaths {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let tiny = repoRoot.appendingPathComponent("Tests/Fixtures/models/tiny")
    static let tinyBin = repoRoot.appendingPathComponent("Tests/Fixtures/models/tiny-bin")
    static let tinySharded = repoRoot.appendingPathComponent("Tests/Fixtures/models/tiny-sharded")
    /// 3 layers, hidden 16, its own decoder: told apart from `tiny` (2 layers) by its layer count.
    static let tinyUntied = repoRoot.appendingPathComponent("Tests/Fixtures/models/tiny-untied")
    static let fakeHubScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("FakeHub/fake_hub.py")
    static let modelFiles = ["config.json", "vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json", "model.safetensors"]
}

extension XCTestCase {
    /// A fresh empty directory, removed when the test ends.
    func scratchDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("maskscope-store-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    /// Lays out `models--ORG--NAME` the way huggingface_hub does: files in blobs/, snapshot symlinks, refs/main.
    @discardableResult
    func makeCachedModel(in cache: URL, repoID: String, commit: String = "c0ffee0000000000000000000000000000000001",
                         source: URL = TestPaths.tiny, files: [String] = TestPaths.modelFiles, writeRef: Bool = true) throws -> URL {
        let fm = FileManager.default
        let folder = cache.appendingPathComponent(HubCache.folderName(for: repoID))
        let blobs = folder.appendingPathComponent("blobs")
        let snapshot = folder.appendingPathComponent("snapshots/\(commit)")
        try fm.createDirectory(at: blobs, withIntermediateDirectories: true)
        try fm.createDirectory(at: snapshot, withIntermediateDirectories: true)
        for file in files {
            let blobName = "\(commit.prefix(8))-\(file)"
            try fm.copyItem(at: source.appendingPathComponent(file), to: blobs.appendingPathComponent(blobName))
            try fm.createSymbolicLink(atPath: snapshot.appendingPathComponent(file).path, withDestinationPath: "../../blobs/\(blobName)")
        }
        if writeRef {
            try fm.createDirectory(at: folder.appendingPathComponent("refs"), withIntermediateDirectories: true)
            try Data(commit.utf8).write(to: folder.appendingPathComponent("refs/main"))
        }
        return snapshot
    }
}

/// The stand-in hub (FakeHub/fake_hub.py) on 127.0.0.1: started per test, stopped when the test ends.
/// It also stops by itself after its lifetime, or when this process goes away (its stdin closes).
final class FakeHub {
    let port: Int
    let log: URL
    let process: Process
    let stdin: Pipe

    var endpoint: URL { URL(string: "http://127.0.0.1:\(port)") ?? URL(fileURLWithPath: "/") }

    init(test: XCTestCase, model: URL = TestPaths.tiny, repo: String = "test-org/tiny-roberta", arguments: [String] = []) throws {
        let directory = try test.scratchDirectory()
        log = directory.appendingPathComponent("requests.jsonl")
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", TestPaths.fakeHubScript.path, "--model", model.path, "--repo", repo,
                             "--log", log.path, "--lifetime", "120"] + arguments
        let stdout = Pipe()
        stdin = Pipe()
        process.standardOutput = stdout
        process.standardInput = stdin
        try process.run()
        // The first line is the port; EOF first means the script failed to start.
        var line = Data()
        while !line.contains(0x0a) {
            let chunk = stdout.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        guard let text = String(data: line, encoding: .utf8), let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            process.terminate()
            throw FakeHubError(detail: "python3 could not start \(TestPaths.fakeHubScript.path)")
        }
        self.port = port
        let process = self.process, stdin = self.stdin
        test.addTeardownBlock {
            try? stdin.fileHandleForWriting.close()
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
        }
    }

    /// The requests the hub saw, in order: method, path, range, auth, status.
    func requests() throws -> [[String: Any]] {
        guard let text = try? String(contentsOf: log, encoding: .utf8) else { return [] }
        return try text.split(separator: "\n").map { line in
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
    }
}

struct FakeHubError: Error, CustomStringConvertible {
    let detail: String
    var description: String { detail }
}

/// Records what a pull reports, for assertions.
final class RecordingProgress: PullProgress, @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [String] = []
    /// Safe to read while a pull runs on another thread.
    var events: [String] { lock.lock(); defer { lock.unlock() }; return recorded }
    private func record(_ event: String) { lock.lock(); recorded.append(event); lock.unlock() }
    func started(file: String, total: Int64?, resumedAt: Int64) { record("start \(file) \(resumedAt)") }
    func advanced(file: String, done: Int64, total: Int64?) {}
    func finished(file: String, bytes: Int64, outcome: PulledFileOutcome) { record("done \(file) \(outcome.rawValue)") }
    func note(_ text: String) { record("note \(text)") }
}
