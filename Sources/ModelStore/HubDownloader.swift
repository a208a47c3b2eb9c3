import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where to download from: HF_ENDPOINT (default https://huggingface.co) and the token, as huggingface_hub
/// finds them (HF_TOKEN, else the file `huggingface-cli login` writes).
public struct HubEndpoint: Sendable, Equatable {
    public let base: URL
    public let token: String?
    /// Where the token came from ("HF_TOKEN", or the token file's path), for error messages.
    public let tokenSource: String?

    public init(base: URL, token: String?, tokenSource: String? = nil) {
        self.base = base
        self.token = token
        self.tokenSource = token == nil ? nil : (tokenSource ?? "HF_TOKEN")
    }

    public static let defaultBase = "https://huggingface.co"

    /// HF_ENDPOINT, and HF_TOKEN (or its older name HUGGING_FACE_HUB_TOKEN), else the token file:
    /// HF_TOKEN_PATH, else HF_HOME/token, else $XDG_CACHE_HOME/huggingface/token, else
    /// ~/.cache/huggingface/token (where `huggingface-cli login` saves it).
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> HubEndpoint {
        var text = environment["HF_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 } ?? defaultBase
        while text.hasSuffix("/") { text.removeLast() }
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme), url.host != nil else {
            throw PullError.badResponse(url: text, detail: "HF_ENDPOINT is not an http(s) URL")
        }
        let token = [environment["HF_TOKEN"], environment["HUGGING_FACE_HUB_TOKEN"]].compactMap { $0 }
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.first { !$0.isEmpty }
        if let token { return HubEndpoint(base: url, token: token, tokenSource: "HF_TOKEN") }
        let file = tokenFile(environment)
        if let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) {
            let saved = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if !saved.isEmpty { return HubEndpoint(base: url, token: saved, tokenSource: file) }
        }
        return HubEndpoint(base: url, token: nil)
    }

    /// The token file huggingface_hub reads when HF_TOKEN is not set.
    static func tokenFile(_ environment: [String: String]) -> String {
        environmentPath("HF_TOKEN_PATH", environment) ?? huggingFaceHome(environment) + "/token"
    }

    /// `{base}/{repo}/resolve/{revision}/{file}`.
    public func resolveURL(repoID: String, revision: String, file: String) -> URL {
        var url = base
        let parts: [String] = repoID.split(separator: "/").map(String.init) + ["resolve", revision] + file.split(separator: "/").map(String.init)
        for part in parts { url.appendPathComponent(part) }
        return url
    }

    /// The token goes to the hub only, never to the CDN a download is redirected to.
    func sendsToken(to url: URL) -> Bool {
        url.host?.lowercased() == base.host?.lowercased() && url.port == base.port && url.scheme == base.scheme
    }
}

/// How one file of a pull ended.
public enum PulledFileOutcome: String, Sendable, Equatable {
    case downloaded, resumed, alreadyPresent
}

/// One file placed in the snapshot.
public struct PulledFile: Sendable, Equatable {
    public let name: String
    public let bytes: Int64
    public let outcome: PulledFileOutcome
}

/// What a pull left in the cache.
public struct PullReport: Sendable, Equatable {
    public let repoID: String
    public let commit: String
    /// `models--ORG--NAME/snapshots/<commit>`, loadable by MaskScope and by transformers.
    public let snapshot: URL
    public let files: [PulledFile]
    /// Optional files the repository does not have (404), e.g. tokenizer.json on older repositories.
    public let absentOptional: [String]
}

/// Receives a pull's progress; called on the thread that runs the transfer, never concurrently.
public protocol PullProgress: AnyObject {
    /// A download starts (`resumedAt` bytes are already on disk from an interrupted run).
    func started(file: String, total: Int64?, resumedAt: Int64)
    /// More bytes arrived: `done` counts from the start of the file.
    func advanced(file: String, done: Int64, total: Int64?)
    /// The file is in place (or was already).
    func finished(file: String, bytes: Int64, outcome: PulledFileOutcome)
    /// A remark worth a line: a restart, a fallback, an optional file the repository lacks.
    func note(_ text: String)
}

/// Downloads a model repository's files into the hub cache the way huggingface_hub does: a HEAD on the resolve
/// URL for the commit, ETag and size; the bytes into `blobs/<etag>.incomplete` (resumed with a Range request
/// after an interruption), checked (size, and SHA-256 for LFS files whose ETag is one), then renamed to
/// `blobs/<etag>` (under an exclusive lock on `.locks/models--ORG--NAME/<etag>.lock`, as huggingface_hub
/// takes it); `snapshots/<commit>/<file>` symlinked to `../../blobs/<etag>`; `refs/main` written last.
public final class HubDownloader {
    public let cache: HubCache
    public let endpoint: HubEndpoint
    let client: HTTPClient
    let progress: PullProgress?

    /// Files MaskScope needs.
    public static let requiredFiles = ["config.json"]
    /// The vocabulary and merges: needed unless tokenizer.json (which also holds them) is there.
    public static let vocabularyFiles = ["vocab.json", "merges.txt"]
    /// Files that refine the tokenizer or describe the model; a 404 for them is fine.
    public static let optionalFiles = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]

    public init(cache: HubCache, endpoint: HubEndpoint, client: HTTPClient = HTTPClient(), progress: PullProgress? = nil) {
        self.cache = cache
        self.endpoint = endpoint
        self.client = client
        self.progress = progress
    }

    /// Pulls `repoID` at `revision` (a branch such as main, or a commit) and returns where it landed.
    public func pull(repoID: String, revision: String = "main") throws -> PullReport {
        guard ModelResolver.isValidRepoID(repoID) else { throw PullError.invalidName(repoID) }
        guard Self.isSafeName(revision) else { throw PullError.invalidName(revision) }
        var job = PullJob(downloader: self, repoID: repoID, revision: revision)
        for file in Self.requiredFiles { _ = try job.fetch(file, required: true) }
        for file in Self.vocabularyFiles { _ = try job.fetch(file, required: false) }
        for file in Self.optionalFiles { _ = try job.fetch(file, required: false) }
        // The engine reads the vocabulary and merges from tokenizer.json when vocab.json/merges.txt are absent.
        if let missing = Self.vocabularyFiles.first(where: job.absent.contains), job.absent.contains("tokenizer.json") {
            throw PullError.fileNotFound(repo: repoID, file: missing,
                                         url: endpoint.resolveURL(repoID: repoID, revision: job.commit ?? revision, file: missing).absoluteString)
        }
        // Weights: model.safetensors; else the shards of model.safetensors.index.json; else pytorch_model.bin.
        if try job.fetch("model.safetensors", required: false) == nil {
            if let index = try job.fetch("model.safetensors.index.json", required: false) {
                let shards: [String]
                do { shards = try shardNames(index) } catch {
                    throw PullError.badResponse(url: endpoint.resolveURL(repoID: repoID, revision: revision, file: "model.safetensors.index.json").absoluteString,
                                                detail: "model.safetensors.index.json has no usable weight_map")
                }
                for shard in shards { _ = try job.fetch(shard, required: true) }
            } else if try job.fetch("pytorch_model.bin", required: false) == nil {
                throw PullError.noWeights(repo: repoID, tried: ["model.safetensors", "model.safetensors.index.json", "pytorch_model.bin"])
            }
        }
        guard let commit = job.commit else { throw PullError.noWeights(repo: repoID, tried: ["config.json"]) }
        let folder = cache.folder(for: repoID)
        if !Self.isCommitHash(revision) {
            let refs = folder.appendingPathComponent("refs", isDirectory: true)
            try createDirectory(refs)
            try writeAtomically(Data(commit.utf8), to: refs.appendingPathComponent(revision))
        }
        return PullReport(repoID: repoID, commit: commit, snapshot: folder.appendingPathComponent("snapshots/\(commit)", isDirectory: true),
                          files: job.files, absentOptional: job.absent)
    }

    func shardNames(_ url: URL) throws -> [String] {
        let data = try Data(contentsOf: url)
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let map = object["weight_map"] as? [String: String] else { throw CocoaError(.fileReadCorruptFile) }
        var names: [String] = []
        for name in map.values.sorted() where !names.contains(name) {
            guard Self.isSafeName(name) else { throw CocoaError(.fileReadCorruptFile) }
            names.append(name)
        }
        return names
    }

    /// A single path component safe to use as a file name: no '/', not '.' or '..', printable ASCII.
    static func isSafeName(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 200 && s != "." && s != ".." && !s.contains("/") && !s.hasPrefix(".")
            && s.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0)) }
    }

    static func isCommitHash(_ s: String) -> Bool { isLowercaseHex(s, count: 40) }

    /// A git object id (SHA-1): what the hub sends as the ETag of a file kept in git.
    static func isGitBlobID(_ s: String) -> Bool { isLowercaseHex(s, count: 40) }

    static func isSHA256(_ s: String) -> Bool { isLowercaseHex(s, count: 64) }

    static func isLowercaseHex(_ s: String, count: Int) -> Bool {
        s.count == count && s.unicodeScalars.allSatisfy { ("0"..."9").contains($0) || ("a"..."f").contains($0) }
    }

    /// `"abc"` / `W/"abc"` -> `abc`.
    static func normalizeETag(_ raw: String) -> String {
        var s = raw.trimmingCharacters(in: .whitespaces)
        if s.hasPrefix("W/") { s.removeFirst(2) }
        return s.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
    }
}

/// The state of one pull: the commit fixed by the first answer, and the files placed so far.
struct PullJob {
    let downloader: HubDownloader
    let repoID: String
    let revision: String
    var commit: String?
    var files: [PulledFile] = []
    var absent: [String] = []

    init(downloader: HubDownloader, repoID: String, revision: String) {
        self.downloader = downloader
        self.repoID = repoID
        self.revision = revision
    }

    var endpoint: HubEndpoint { downloader.endpoint }
    var folder: URL { downloader.cache.folder(for: repoID) }

    /// Places one file in the snapshot; nil when an optional file is absent (404).
    mutating func fetch(_ file: String, required: Bool) throws -> URL? {
        // After the first answer, ask for the commit itself so every file comes from the same one.
        let url = endpoint.resolveURL(repoID: repoID, revision: commit ?? revision, file: file)
        let head = try metadata(url)
        if head.status == 404 {
            if required { throw PullError.fileNotFound(repo: repoID, file: file, url: url.absoluteString) }
            absent.append(file)
            downloader.progress?.note("\(file): not in \(repoID) (optional, skipped)")
            return nil
        }
        guard let fileCommit = head.header("x-repo-commit"), HubDownloader.isSafeName(fileCommit) else {
            throw PullError.badResponse(url: url.absoluteString, detail: "no X-Repo-Commit header")
        }
        if let commit, commit != fileCommit {
            throw PullError.badResponse(url: url.absoluteString, detail: "answered for commit \(fileCommit), not \(commit)")
        }
        commit = fileCommit
        guard let rawETag = head.header("x-linked-etag") ?? head.header("etag") else {
            throw PullError.badResponse(url: url.absoluteString, detail: "no ETag header")
        }
        let etag = HubDownloader.normalizeETag(rawETag)
        guard HubDownloader.isSafeName(etag) else {
            throw PullError.badResponse(url: url.absoluteString, detail: "ETag \(rawETag) cannot name a blob")
        }
        let isRedirect = (300..<400).contains(head.status)
        let sizeText = head.header("x-linked-size") ?? (isRedirect ? nil : head.header("content-length"))
        let expected = sizeText.flatMap { Int64($0.trimmingCharacters(in: .whitespaces)) }
        var source = head.url
        if isRedirect {
            guard let location = head.header("location"), let target = URL(string: location, relativeTo: head.url)?.absoluteURL else {
                throw PullError.badResponse(url: url.absoluteString, detail: "redirect without a Location")
            }
            source = target
        }

        let blobs = folder.appendingPathComponent("blobs", isDirectory: true)
        try downloader.createDirectory(blobs)
        let blob = blobs.appendingPathComponent(etag)
        // One writer per blob, across processes, with the lock file huggingface_hub uses, so that two pulls
        // (or a pull and transformers) never append to the same .incomplete file.
        let locks = downloader.cache.root.appendingPathComponent(".locks", isDirectory: true)
            .appendingPathComponent(HubCache.folderName(for: repoID), isDirectory: true)
        try downloader.createDirectory(locks)
        let lock = try BlobLock(path: locks.appendingPathComponent(etag + ".lock").path) {
            downloader.progress?.note("\(file): another download of it is running; waiting for it to finish")
        }
        defer { lock.release() }
        let outcome: PulledFileOutcome
        let size: Int64
        if let existing = fileSize(blob), expected == nil || existing == expected {
            outcome = .alreadyPresent
            size = existing
            downloader.progress?.finished(file: file, bytes: existing, outcome: .alreadyPresent)
        } else {
            (outcome, size) = try download(file: file, from: source, to: blob, expected: expected, etag: etag)
        }
        let link = try linkSnapshot(file: file, commit: fileCommit, etag: etag)
        files.append(PulledFile(name: file, bytes: size, outcome: outcome))
        return link
    }

    /// HEAD on a resolve URL, following relative redirects only (a renamed repository), as huggingface_hub does;
    /// an absolute redirect (to the CDN) is where the hub's own headers are.
    func metadata(_ start: URL) throws -> HTTPHead {
        var url = start
        for _ in 0..<10 {
            let head: HTTPHead
            do {
                head = try downloader.client.send(method: "HEAD", url: url, headers: authorization(for: url))
            } catch let error as TransportError {
                if error.isUnreachable { throw PullError.offline(endpoint: endpoint.base.absoluteString, detail: error.detail) }
                throw PullError.network(url: url.absoluteString, detail: error.detail)
            }
            switch head.status {
            case 200..<300:
                return head
            case 300..<400:
                guard let location = head.header("location") else {
                    throw PullError.badResponse(url: url.absoluteString, detail: "redirect without a Location")
                }
                if URL(string: location)?.host != nil { return head }
                guard let next = URL(string: location, relativeTo: url)?.absoluteURL else {
                    throw PullError.badResponse(url: url.absoluteString, detail: "bad Location \(location)")
                }
                url = next
            case 404:
                return head
            case 401, 403:
                throw PullError.unauthorized(repo: repoID, url: url.absoluteString, status: head.status, tokenSource: endpoint.tokenSource)
            default:
                throw PullError.httpStatus(url: url.absoluteString, status: head.status)
            }
        }
        throw PullError.tooManyRedirects(url: start.absoluteString)
    }

    func authorization(for url: URL) -> [String: String] {
        guard let token = endpoint.token, endpoint.sendsToken(to: url) else { return [:] }
        return ["Authorization": "Bearer \(token)"]
    }

    /// Streams a file into `<blob>.incomplete` (resuming what an earlier run left), checks it, then renames it.
    func download(file: String, from start: URL, to blob: URL, expected: Int64?, etag: String) throws -> (PulledFileOutcome, Int64) {
        let partial = blob.appendingPathExtension("incomplete")
        let partialPath = partial.path
        var offset = fileSize(partial) ?? 0
        if let expected, offset > expected {
            try? FileManager.default.removeItem(at: partial)
            offset = 0
        }
        if fileSize(partial) == nil, !FileManager.default.createFile(atPath: partialPath, contents: nil) {
            throw PullError.writeFailed(path: partialPath, detail: "cannot create the file")
        }
        let resumedAt = offset
        let progress = downloader.progress
        progress?.started(file: file, total: expected, resumedAt: resumedAt)
        var url = start
        var restarted = false
        var hops = 0
        while true {
            hops += 1
            if hops > 10 { throw PullError.tooManyRedirects(url: start.absoluteString) }
            guard let handle = FileHandle(forWritingAtPath: partialPath) else {
                throw PullError.writeFailed(path: partialPath, detail: "cannot open the file")
            }
            defer { try? handle.close() }
            var headers = authorization(for: url)
            let from = offset
            if from > 0 { headers["Range"] = "bytes=\(from)-" }
            var written = from
            let requestURL = url
            let head: HTTPHead
            do {
                head = try downloader.client.send(method: "GET", url: url, headers: headers, response: { head in
                    switch head.status {
                    case 200:
                        // The server ignored the range: start over.
                        if from > 0 {
                            try handle.truncate(atOffset: 0)
                            written = 0
                            progress?.note("\(file): the server does not resume; downloading from the start")
                        }
                    case 206:
                        guard let range = head.header("content-range"), let first = Self.contentRangeStart(range), first == from else {
                            throw PullError.badResponse(url: requestURL.absoluteString,
                                                        detail: "asked for bytes from \(from), got Content-Range \(head.header("content-range") ?? "none")")
                        }
                    default:
                        return
                    }
                    try handle.seek(toOffset: UInt64(written))
                }, body: { data in
                    do { try handle.write(contentsOf: data) } catch {
                        throw PullError.writeFailed(path: partialPath, detail: error.localizedDescription)
                    }
                    written += Int64(data.count)
                    progress?.advanced(file: file, done: written, total: expected)
                })
            } catch let error as TransportError {
                if error.isUnreachable && written == 0 { throw PullError.offline(endpoint: url.host ?? url.absoluteString, detail: error.detail) }
                throw PullError.interrupted(file: file, received: written, partial: partialPath, detail: error.detail)
            }
            switch head.status {
            case 200, 206:
                break
            case 300..<400:
                guard let location = head.header("location"), let next = URL(string: location, relativeTo: url)?.absoluteURL else {
                    throw PullError.badResponse(url: url.absoluteString, detail: "redirect without a Location")
                }
                url = next
                continue
            case 416 where !restarted:
                // Nothing left to send from `offset`: either the part is already whole, or it is wrong; check below
                // when the size matches, else start over once.
                if let expected, offset == expected { break }
                try handle.truncate(atOffset: 0)
                offset = 0
                restarted = true
                continue
            case 401, 403:
                throw PullError.unauthorized(repo: repoID, url: url.absoluteString, status: head.status, tokenSource: endpoint.tokenSource)
            case 404:
                throw PullError.fileNotFound(repo: repoID, file: file, url: url.absoluteString)
            default:
                throw PullError.httpStatus(url: url.absoluteString, status: head.status)
            }
            break
        }
        let actual = fileSize(partial) ?? 0
        if let expected, actual != expected {
            if actual < expected {
                throw PullError.interrupted(file: file, received: actual, partial: partialPath, detail: "the server closed the transfer early")
            }
            try? FileManager.default.removeItem(at: partial)
            throw PullError.sizeMismatch(file: file, url: start.absoluteString, expected: expected, actual: actual)
        }
        // An LFS file's ETag is its SHA-256; a file kept in git has its git blob id (a SHA-1) instead.
        let lfs = HubDownloader.isSHA256(etag), git = HubDownloader.isGitBlobID(etag)
        if lfs || git {
            let digest: String
            do { digest = try lfs ? SHA256.hexDigest(ofFile: partial) : SHA1.gitBlobID(ofFile: partial) } catch {
                throw PullError.writeFailed(path: partialPath, detail: "cannot read it back: \(error.localizedDescription)")
            }
            guard digest == etag else {
                try? FileManager.default.removeItem(at: partial)
                throw PullError.checksumMismatch(file: file, url: start.absoluteString, expected: etag, actual: digest)
            }
        }
        guard rename(partialPath, blob.path) == 0 else {
            throw PullError.writeFailed(path: blob.path, detail: String(cString: strerror(errno)))
        }
        let outcome: PulledFileOutcome = resumedAt > 0 ? .resumed : .downloaded
        progress?.finished(file: file, bytes: actual, outcome: outcome)
        return (outcome, actual)
    }

    /// `snapshots/<commit>/<file>` -> `../../blobs/<etag>`, replaced atomically if it exists.
    func linkSnapshot(file: String, commit: String, etag: String) throws -> URL {
        let link = folder.appendingPathComponent("snapshots", isDirectory: true)
            .appendingPathComponent(commit, isDirectory: true).appendingPathComponent(file)
        try downloader.createDirectory(link.deletingLastPathComponent())
        let depth = file.split(separator: "/").count + 1
        let target = String(repeating: "../", count: depth) + "blobs/" + etag
        let temporary = link.deletingLastPathComponent().appendingPathComponent(".\(link.lastPathComponent).\(getpid()).tmp").path
        unlink(temporary)
        guard symlink(target, temporary) == 0, rename(temporary, link.path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw PullError.writeFailed(path: link.path, detail: reason)
        }
        return link
    }

    /// "bytes 100-199/200" -> 100.
    static func contentRangeStart(_ header: String) -> Int64? {
        let parts = header.trimmingCharacters(in: .whitespaces).split(separator: " ")
        guard parts.count == 2, parts[0].lowercased() == "bytes", let dash = parts[1].firstIndex(of: "-") else { return nil }
        return Int64(parts[1][..<dash])
    }
}

func fileSize(_ url: URL) -> Int64? {
    guard let attributes = try? FileManager.default.attributesOfItem(atPath: url.path),
          (attributes[.type] as? FileAttributeType) == .typeRegular else { return nil }
    return (attributes[.size] as? NSNumber)?.int64Value
}

extension HubDownloader {
    func createDirectory(_ url: URL) throws {
        do { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) } catch {
            throw PullError.writeFailed(path: url.path, detail: error.localizedDescription)
        }
    }

    /// Writes a small file under a temporary name and renames it over the final one.
    func writeAtomically(_ data: Data, to url: URL) throws {
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp")
        do {
            try data.write(to: temporary)
        } catch {
            throw PullError.writeFailed(path: temporary.path, detail: error.localizedDescription)
        }
        guard rename(temporary.path, url.path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temporary)
            throw PullError.writeFailed(path: url.path, detail: reason)
        }
    }
}

/// An exclusive flock(2) on a lock file, the kind huggingface_hub's filelock takes on Linux.
final class BlobLock {
    private var fd: Int32

    /// Takes the lock, calling `waiting` once first when another process (or file description) holds it.
    init(path: String, waiting: () -> Void) throws {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw PullError.writeFailed(path: path, detail: String(cString: strerror(errno)))
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            waiting()
            while flock(fd, LOCK_EX) != 0 {
                guard errno == EINTR else {
                    let reason = String(cString: strerror(errno))
                    close(fd)
                    throw PullError.writeFailed(path: path, detail: "cannot lock: \(reason)")
                }
            }
        }
    }

    func release() {
        guard fd >= 0 else { return }
        flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    deinit { release() }
}
