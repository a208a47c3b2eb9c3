import Foundation
import RoBERTa

/// Downloads a model repository's files into the hub cache the way huggingface_hub does: a HEAD on the resolve
/// URL for the commit, ETag and size; the bytes into `blobs/<etag>.incomplete` (resumed with a Range request
/// after an interruption), checked (size, and SHA-256 for LFS files whose ETag is one), then renamed to
/// `blobs/<etag>` (under an exclusive lock on `.locks/models--ORG--NAME/<etag>.lock`, as huggingface_hub
/// takes it); `snapshots/<commit>/<file>` symlinked to `../../blobs/<etag>`; `refs/main` written last.
/// This file is the plan (which files, in which order, what is required); one file's round is `PullJob`, the
/// transfer `BlobDownload.swift`, the writes into the cache's layout `HubCacheLayout.swift`.
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
        // Weights: the first kind the repository has, in the engine's order of preference (`CheckpointFiles.Kind`:
        // model.safetensors; else the shards of model.safetensors.index.json; else pytorch_model.bin).
        var weights: (kind: CheckpointFiles.Kind, file: URL)?
        for kind in CheckpointFiles.Kind.allCases {
            if let file = try job.fetch(kind.fileName, required: false) {
                weights = (kind, file)
                break
            }
        }
        guard let weights else {
            throw PullError.noWeights(repo: repoID, tried: CheckpointFiles.Kind.allCases.map(\.fileName))
        }
        if weights.kind == .shardedSafetensors {
            let shards: [String]
            do { shards = try shardNames(weights.file) } catch {
                throw PullError.badResponse(url: endpoint.resolveURL(repoID: repoID, revision: revision, file: weights.kind.fileName).absoluteString,
                                            detail: "\(weights.kind.fileName) has no usable weight_map")
            }
            for shard in shards { _ = try job.fetch(shard, required: true) }
        }
        guard let commit = job.commit else { throw PullError.noWeights(repo: repoID, tried: ["config.json"]) }
        if !Self.isCommitHash(revision) { try writeRef(revision, commit: commit, repoID: repoID) }
        return PullReport(repoID: repoID, commit: commit, snapshot: cache.folder(for: repoID).appendingPathComponent("snapshots/\(commit)", isDirectory: true),
                          files: job.files, absentOptional: job.absent)
    }

    /// The shards a downloaded index names (`CheckpointFiles.shardNames`), sorted; each must be safe as a file name.
    func shardNames(_ url: URL) throws -> [String] {
        let names = try CheckpointFiles.shardNames(index: url).sorted()
        guard names.allSatisfy(Self.isSafeName) else { throw CocoaError(.fileReadCorruptFile) }
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
