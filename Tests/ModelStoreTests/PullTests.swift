import Foundation
import RoBERTa
import XCTest
@testable import ModelStore

/// `pull` against a stand-in hub on 127.0.0.1 that answers as huggingface.co does.
final class PullTests: XCTestCase {
    let repo = "test-org/tiny-roberta"
    let commit = "0123456789abcdef0123456789abcdef01234567"

    func downloader(_ hub: FakeHub, cache: URL, token: String? = nil, progress: PullProgress? = nil) -> HubDownloader {
        HubDownloader(cache: HubCache(root: cache), endpoint: HubEndpoint(base: hub.endpoint, token: token),
                      client: HTTPClient(idleTimeout: 20), progress: progress)
    }

    func sha256(_ url: URL) throws -> String { try SHA256.hexDigest(ofFile: url) }

    func incompleteFiles(_ cache: URL) -> [String] {
        let all = FileManager.default.enumerator(atPath: cache.path)?.allObjects as? [String] ?? []
        return all.filter { $0.hasSuffix(".incomplete") }
    }

    func testPullLeavesTheHubCacheLayoutThatTheResolverAndTheEngineUse() throws {
        let hub = try FakeHub(test: self)
        let cache = try scratchDirectory()
        let report = try downloader(hub, cache: cache).pull(repoID: repo)

        let folder = cache.appendingPathComponent("models--test-org--tiny-roberta")
        XCTAssertEqual(report.commit, commit)
        XCTAssertEqual(try String(contentsOf: folder.appendingPathComponent("refs/main"), encoding: .utf8), commit)
        XCTAssertEqual(report.files.map(\.name), ["config.json", "vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json", "model.safetensors"])
        XCTAssertEqual(report.absentOptional, ["special_tokens_map.json"])
        let snapshot = folder.appendingPathComponent("snapshots/\(commit)")
        // LFS files are stored under their SHA-256, small ones under their git blob id, as huggingface_hub does.
        let weightsSHA = try sha256(TestPaths.tiny.appendingPathComponent("model.safetensors"))
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: snapshot.appendingPathComponent("model.safetensors").path),
                       "../../blobs/\(weightsSHA)")
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: snapshot.appendingPathComponent("config.json").path),
                       "../../blobs/1084b754d7d91e3c2e180326ef4413b5f5649750")
        for file in TestPaths.modelFiles {
            XCTAssertEqual(try Data(contentsOf: snapshot.appendingPathComponent(file)), try Data(contentsOf: TestPaths.tiny.appendingPathComponent(file)), file)
        }
        XCTAssertEqual(incompleteFiles(cache), [])

        let resolved = try ModelResolver(cache: HubCache(root: cache)).resolve(repo)
        XCTAssertEqual(resolved.directory.standardizedFileURL, snapshot.standardizedFileURL)
        XCTAssertEqual(resolved.notes, [])
        let pulled = try RobertaModel.load(directory: resolved.directory)
        let original = try RobertaModel.load(directory: TestPaths.tiny)
        XCTAssertEqual(try pulled.fillMask("Paris is the <mask> of France.").masks, try original.fillMask("Paris is the <mask> of France.").masks)
    }

    func testInterruptedPullResumesWithARangeRequest() throws {
        let hub = try FakeHub(test: self, arguments: ["--interrupt", "model.safetensors:100000"])
        let cache = try scratchDirectory()
        let folder = cache.appendingPathComponent("models--test-org--tiny-roberta")
        let weightsSHA = try sha256(TestPaths.tiny.appendingPathComponent("model.safetensors"))
        let partial = folder.appendingPathComponent("blobs/\(weightsSHA).incomplete")

        XCTAssertThrowsError(try downloader(hub, cache: cache).pull(repoID: repo)) { error in
            guard case PullError.interrupted(let file, let received, let path, _) = error else { return XCTFail("got \(error)") }
            XCTAssertEqual(file, "model.safetensors")
            XCTAssertEqual(received, 100_000)
            XCTAssertEqual(path, partial.path)
            XCTAssertTrue("\(error)".contains("run the same pull again to resume"), "\(error)")
        }
        // Nothing half-written under a final name: the part is only in .incomplete, and no ref points at the snapshot.
        XCTAssertEqual(fileSize(partial), 100_000)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent("blobs/\(weightsSHA)").path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent("snapshots/\(commit)/model.safetensors").path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent("refs/main").path))

        let progress = RecordingProgress()
        let report = try downloader(hub, cache: cache, progress: progress).pull(repoID: repo)
        XCTAssertEqual(report.files.first { $0.name == "model.safetensors" }?.outcome, .resumed)
        XCTAssertEqual(report.files.first { $0.name == "config.json" }?.outcome, .alreadyPresent)
        XCTAssertTrue(progress.events.contains("start model.safetensors 100000"), "\(progress.events)")
        let cdnRequests = try hub.requests().filter { ($0["path"] as? String)?.hasPrefix("/cdn/") == true }
        XCTAssertEqual(cdnRequests.count, 2)
        XCTAssertEqual(cdnRequests.last?["range"] as? String, "bytes=100000-")
        XCTAssertEqual(cdnRequests.last?["status"] as? Int, 206)
        XCTAssertEqual(try sha256(folder.appendingPathComponent("snapshots/\(commit)/model.safetensors")), weightsSHA)
        XCTAssertEqual(incompleteFiles(cache), [])
    }

    /// A small file (kept in git, not LFS) is checked against its git blob id, the ETag the hub sends for it.
    func testSmallFileIsCheckedAgainstItsGitBlobID() throws {
        let hub = try FakeHub(test: self, arguments: ["--corrupt", "config.json"])
        let cache = try scratchDirectory()
        XCTAssertThrowsError(try downloader(hub, cache: cache).pull(repoID: repo)) { error in
            guard case PullError.checksumMismatch(let file, _, let expected, let actual) = error else { return XCTFail("got \(error)") }
            XCTAssertEqual(file, "config.json")
            XCTAssertEqual(expected.count, 40)
            XCTAssertNotEqual(actual, expected)
            XCTAssertTrue("\(error)".contains("has git blob id \(actual) but the hub's ETag says \(expected)"), "\(error)")
        }
        XCTAssertEqual(incompleteFiles(cache), [])
    }

    func testChecksumMismatchRemovesTheDownloadAndSaysSo() throws {
        let hub = try FakeHub(test: self, arguments: ["--corrupt", "model.safetensors"])
        let cache = try scratchDirectory()
        let weightsSHA = try sha256(TestPaths.tiny.appendingPathComponent("model.safetensors"))
        XCTAssertThrowsError(try downloader(hub, cache: cache).pull(repoID: repo)) { error in
            guard case PullError.checksumMismatch(let file, _, let expected, let actual) = error else { return XCTFail("got \(error)") }
            XCTAssertEqual(file, "model.safetensors")
            XCTAssertEqual(expected, weightsSHA)
            XCTAssertNotEqual(actual, weightsSHA)
        }
        let blobs = cache.appendingPathComponent("models--test-org--tiny-roberta/blobs")
        XCTAssertFalse(FileManager.default.fileExists(atPath: blobs.appendingPathComponent(weightsSHA).path))
        XCTAssertEqual(incompleteFiles(cache), [])
        XCTAssertFalse(FileManager.default.fileExists(atPath: cache.appendingPathComponent("models--test-org--tiny-roberta/refs/main").path))
    }

    func testPrivateRepositoryWithoutTokenIsA401ThatMentionsHFToken() throws {
        let hub = try FakeHub(test: self, arguments: ["--token", "hf_secret"])
        let cache = try scratchDirectory()
        XCTAssertThrowsError(try downloader(hub, cache: cache).pull(repoID: repo)) { error in
            guard case PullError.unauthorized(let repoID, _, let status, let tokenSource) = error else { return XCTFail("got \(error)") }
            XCTAssertEqual(repoID, repo)
            XCTAssertEqual(status, 401)
            XCTAssertNil(tokenSource)
            XCTAssertTrue("\(error)".contains("HF_TOKEN"))
        }
        XCTAssertThrowsError(try downloader(hub, cache: cache, token: "wrong").pull(repoID: repo)) { error in
            guard case PullError.unauthorized(_, _, _, "HF_TOKEN") = error else { return XCTFail("got \(error)") }
        }
    }

    /// Without HF_TOKEN the token `huggingface-cli login` saved is used (HF_TOKEN_PATH, HF_HOME/token,
    /// ~/.cache/huggingface/token), and an error names the file it came from.
    func testTokenFileIsReadWhenHFTokenIsUnset() throws {
        let home = try scratchDirectory()
        let saved = home.appendingPathComponent(".cache/huggingface/token")
        try FileManager.default.createDirectory(at: saved.deletingLastPathComponent(), withIntermediateDirectories: true)
        try "hf_secret\n".write(to: saved, atomically: false, encoding: .utf8)
        let fromHome = try HubEndpoint.fromEnvironment(["HOME": home.path])
        XCTAssertEqual(fromHome.token, "hf_secret")
        XCTAssertEqual(fromHome.tokenSource, saved.path)
        XCTAssertEqual(try HubEndpoint.fromEnvironment(["HOME": home.path, "HF_TOKEN": "hf_env"]).token, "hf_env", "HF_TOKEN wins")
        XCTAssertNil(try HubEndpoint.fromEnvironment(["HOME": home.path, "HF_HOME": home.appendingPathComponent("elsewhere").path]).token)
        let other = home.appendingPathComponent("my-token")
        try "hf_other".write(to: other, atomically: false, encoding: .utf8)
        XCTAssertEqual(try HubEndpoint.fromEnvironment(["HOME": home.path, "HF_TOKEN_PATH": other.path]).token, "hf_other")

        let hub = try FakeHub(test: self, arguments: ["--token", "hf_secret"])
        let endpoint = HubEndpoint(base: hub.endpoint, token: fromHome.token, tokenSource: fromHome.tokenSource)
        _ = try HubDownloader(cache: HubCache(root: try scratchDirectory()), endpoint: endpoint, client: HTTPClient(idleTimeout: 20))
            .pull(repoID: repo)
        let wrong = HubEndpoint(base: hub.endpoint, token: "hf_other", tokenSource: other.path)
        XCTAssertThrowsError(try HubDownloader(cache: HubCache(root: try scratchDirectory()), endpoint: wrong, client: HTTPClient(idleTimeout: 20))
            .pull(repoID: repo)) { error in
            XCTAssertTrue("\(error)".contains("the token from \(other.path) cannot read"), "\(error)")
        }
    }

    /// A blob another process is writing (its huggingface_hub lock held) is waited for, not written twice.
    func testPullWaitsForTheBlobLockAnotherProcessHolds() throws {
        let hub = try FakeHub(test: self)
        let cache = try scratchDirectory()
        let weightsSHA = try sha256(TestPaths.tiny.appendingPathComponent("model.safetensors"))
        let locks = cache.appendingPathComponent(".locks/models--test-org--tiny-roberta")
        try FileManager.default.createDirectory(at: locks, withIntermediateDirectories: true)
        let fd = open(locks.appendingPathComponent(weightsSHA + ".lock").path, O_RDWR | O_CREAT, 0o644)
        XCTAssertGreaterThanOrEqual(fd, 0)
        XCTAssertEqual(flock(fd, LOCK_EX), 0)
        let progress = RecordingProgress()
        let finished = expectation(description: "pull finished")
        let pull = Unchecked(downloader(hub, cache: cache, progress: progress))
        let repoID = repo
        let failure = Delivered()
        DispatchQueue.global().async {
            do { _ = try pull.value.pull(repoID: repoID) } catch { failure.set("\(error)") }
            finished.fulfill()
        }
        let blob = cache.appendingPathComponent("models--test-org--tiny-roberta/blobs/" + weightsSHA)
        let deadline = Date().addingTimeInterval(10)
        while !progress.events.contains(where: { $0.contains("model.safetensors: another download of it is running") }), Date() < deadline {
            usleep(20_000)
        }
        XCTAssertTrue(progress.events.contains { $0.contains("another download of it is running; waiting") }, "\(progress.events)")
        usleep(300_000)
        XCTAssertFalse(FileManager.default.fileExists(atPath: blob.path), "nothing written while the lock is held")
        flock(fd, LOCK_UN)
        close(fd)
        wait(for: [finished], timeout: 30)
        XCTAssertNil(failure.value)
        XCTAssertEqual(try sha256(blob), weightsSHA)
    }

    func testTokenGoesToTheHubButNotToTheCDN() throws {
        // The CDN redirect names "localhost", another host than the endpoint's 127.0.0.1.
        let hub = try FakeHub(test: self, arguments: ["--token", "hf_secret", "--cdn-host", "localhost"])
        let cache = try scratchDirectory()
        _ = try downloader(hub, cache: cache, token: "hf_secret").pull(repoID: repo)
        let requests = try hub.requests()
        let hubRequests = requests.filter { ($0["path"] as? String)?.contains("/resolve/") == true }
        let cdnRequests = requests.filter { ($0["path"] as? String)?.hasPrefix("/cdn/") == true }
        XCTAssertFalse(hubRequests.isEmpty)
        XCTAssertTrue(hubRequests.allSatisfy { $0["auth"] as? String == "Bearer hf_secret" })
        XCTAssertEqual(cdnRequests.count, 1)
        XCTAssertTrue(cdnRequests.allSatisfy { $0["auth"] is NSNull }, "\(cdnRequests)")
    }

    func testRenamedRepositoryFollowsTheRelativeRedirect() throws {
        let hub = try FakeHub(test: self, arguments: ["--rename", "old-org/tiny"])
        let cache = try scratchDirectory()
        let report = try downloader(hub, cache: cache).pull(repoID: "old-org/tiny")
        XCTAssertEqual(report.commit, commit)
        XCTAssertEqual(report.files.count, 6)
        let statuses = try hub.requests().filter { ($0["path"] as? String)?.hasPrefix("/old-org/") == true }.compactMap { $0["status"] as? Int }
        XCTAssertTrue(!statuses.isEmpty && statuses.allSatisfy { $0 == 307 })
        XCTAssertNoThrow(try ModelResolver(cache: HubCache(root: cache)).resolve("old-org/tiny"))
    }

    func testSecondPullDownloadsNothing() throws {
        let hub = try FakeHub(test: self)
        let cache = try scratchDirectory()
        _ = try downloader(hub, cache: cache).pull(repoID: repo)
        let before = try hub.requests().count
        let report = try downloader(hub, cache: cache).pull(repoID: repo)
        XCTAssertTrue(report.files.allSatisfy { $0.outcome == .alreadyPresent })
        let later = try hub.requests().dropFirst(before)
        XCTAssertTrue(later.allSatisfy { $0["method"] as? String == "HEAD" }, "\(later)")
    }

    func testMissingRequiredFileIsNamed() throws {
        let model = try scratchDirectory()
        for file in ["config.json", "vocab.json", "model.safetensors"] {
            try FileManager.default.copyItem(at: TestPaths.tiny.appendingPathComponent(file), to: model.appendingPathComponent(file))
        }
        let hub = try FakeHub(test: self, model: model)
        XCTAssertThrowsError(try downloader(hub, cache: try scratchDirectory()).pull(repoID: repo)) { error in
            XCTAssertEqual(error as? PullError, .fileNotFound(repo: repo, file: "merges.txt",
                                                             url: "\(hub.endpoint.absoluteString)/\(repo)/resolve/\(commit)/merges.txt"))
        }
    }

    func testTokenizerJSONStandsInForVocabAndMerges() throws {
        let model = try scratchDirectory()
        for file in ["config.json", "tokenizer.json", "tokenizer_config.json", "model.safetensors"] {
            try FileManager.default.copyItem(at: TestPaths.tiny.appendingPathComponent(file), to: model.appendingPathComponent(file))
        }
        let hub = try FakeHub(test: self, model: model)
        let cache = try scratchDirectory()
        let report = try downloader(hub, cache: cache).pull(repoID: repo)
        XCTAssertEqual(report.absentOptional, ["vocab.json", "merges.txt", "special_tokens_map.json"])
        let resolved = try ModelResolver(cache: HubCache(root: cache)).resolve(repo)
        let pulled = try RobertaModel.load(directory: resolved.directory)
        let original = try RobertaModel.load(directory: TestPaths.tiny)
        XCTAssertEqual(try pulled.fillMask("The <mask> sat.").masks, try original.fillMask("The <mask> sat.").masks)
    }

    func testPytorchBinIsPulledWhenThereIsNoSafetensors() throws {
        let hub = try FakeHub(test: self, model: TestPaths.tinyBin)
        let cache = try scratchDirectory()
        let report = try downloader(hub, cache: cache).pull(repoID: repo)
        XCTAssertEqual(report.files.last?.name, "pytorch_model.bin")
        let model = try RobertaModel.load(directory: report.snapshot)
        XCTAssertEqual(model.weightsSummary.files.map { URL(fileURLWithPath: $0).lastPathComponent }, ["pytorch_model.bin"])
    }

    func testShardsOfAnIndexArePulledWhenThereIsNoSingleSafetensors() throws {
        let hub = try FakeHub(test: self, model: TestPaths.tinySharded)
        let cache = try scratchDirectory()
        let report = try downloader(hub, cache: cache).pull(repoID: repo)
        XCTAssertEqual(report.files.suffix(5).map(\.name), ["model.safetensors.index.json"] + (1...4).map { "model-0000\($0)-of-00004.safetensors" })
        let model = try RobertaModel.load(directory: report.snapshot)
        XCTAssertEqual(model.weightsSummary.files.count, 4)
    }

    func testUnreachableEndpointIsAClearOfflineError() throws {
        // Port 9 (discard) on loopback: nothing listens there, the connection is refused at once.
        let offline = HubDownloader(cache: HubCache(root: try scratchDirectory()),
                                    endpoint: HubEndpoint(base: try XCTUnwrap(URL(string: "http://127.0.0.1:9")), token: nil),
                                    client: HTTPClient(idleTimeout: 5))
        XCTAssertThrowsError(try offline.pull(repoID: repo)) { error in
            guard case PullError.offline(let where_, _) = error else { return XCTFail("got \(error)") }
            XCTAssertEqual(where_, "http://127.0.0.1:9")
            XCTAssertTrue("\(error)".contains("cannot reach http://127.0.0.1:9"), "\(error)")
        }
    }

    func testEndpointAndTokenComeFromTheEnvironment() throws {
        let defaults = try HubEndpoint.fromEnvironment(["HOME": try scratchDirectory().path])
        XCTAssertEqual(defaults.base.absoluteString, "https://huggingface.co")
        XCTAssertNil(defaults.token)
        let custom = try HubEndpoint.fromEnvironment(["HF_ENDPOINT": "http://mirror.local:8080/", "HF_TOKEN": " hf_x \n"])
        XCTAssertEqual(custom.base.absoluteString, "http://mirror.local:8080")
        XCTAssertEqual(custom.token, "hf_x")
        XCTAssertEqual(custom.resolveURL(repoID: "FacebookAI/roberta-base", revision: "main", file: "config.json").absoluteString,
                       "http://mirror.local:8080/FacebookAI/roberta-base/resolve/main/config.json")
        XCTAssertThrowsError(try HubEndpoint.fromEnvironment(["HF_ENDPOINT": "ftp://x"]))
    }

    func testHostileETagCannotEscapeTheBlobsFolder() {
        XCTAssertFalse(HubDownloader.isSafeName("../../etc/passwd"))
        XCTAssertFalse(HubDownloader.isSafeName(".."))
        XCTAssertTrue(HubDownloader.isSafeName(HubDownloader.normalizeETag("W/\"1084b754d7d91e3c2e180326ef4413b5f5649750\"")))
        XCTAssertEqual(HubDownloader.normalizeETag("\"abc\""), "abc")
        XCTAssertEqual(PullJob.contentRangeStart("bytes 100000-275575/275576"), 100_000)
        XCTAssertNil(PullJob.contentRangeStart("bytes */275576"))
    }
}

/// A value set on another thread.
final class Delivered: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: String?
    func set(_ text: String) { lock.lock(); stored = text; lock.unlock() }
    var value: String? { lock.lock(); defer { lock.unlock() }; return stored }
}

/// Hands a value used by one thread at a time to another thread.
final class Unchecked<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
