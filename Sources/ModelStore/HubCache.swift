import Foundation
import RoBERTa

/// The Hugging Face hub cache as transformers and huggingface_hub leave it:
/// `models--ORG--NAME/{blobs/<etag>, snapshots/<commit>/<file> -> ../../blobs/<etag>, refs/main}`.
public struct HubCache: Sendable, Equatable {
    /// The cache folder (the one that holds `models--*`).
    public let root: URL

    public init(root: URL) { self.root = root }

    /// Where huggingface_hub puts it: HF_HUB_CACHE, else HF_HOME/hub (see `huggingFaceHome`).
    /// (HUGGINGFACE_HUB_CACHE, the older name of HF_HUB_CACHE, is honoured too.)
    public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment) -> HubCache {
        let root = environmentPath("HF_HUB_CACHE", environment) ?? environmentPath("HUGGINGFACE_HUB_CACHE", environment)
            ?? huggingFaceHome(environment) + "/hub"
        return HubCache(root: URL(fileURLWithPath: root, isDirectory: true))
    }

    /// `models--ORG--NAME` for `ORG/NAME`.
    public static func folderName(for repoID: String) -> String {
        "models--" + repoID.replacingOccurrences(of: "/", with: "--")
    }

    /// `ORG/NAME` for `models--ORG--NAME`, or nil for folders that are not model repositories.
    public static func repoID(forFolder name: String) -> String? {
        guard name.hasPrefix("models--"), name.count > "models--".count else { return nil }
        return String(name.dropFirst("models--".count)).replacingOccurrences(of: "--", with: "/")
    }

    /// The repository folder of a hub id.
    public func folder(for repoID: String) -> URL {
        root.appendingPathComponent(Self.folderName(for: repoID), isDirectory: true)
    }

    /// The ids of every model repository folder in the cache, sorted.
    public func cachedRepoIDs() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return names.compactMap { name in
            guard let id = Self.repoID(forFolder: name) else { return nil }
            return isDirectory(root.appendingPathComponent(name)) ? id : nil
        }.sorted()
    }

    /// The snapshot of a repository folder that a load should use: the one refs/main names, or, when that is
    /// missing or unusable, the newest snapshot that holds a config and weights (with a note saying so).
    public func snapshot(inFolder folder: URL, revision: String = "main") -> SnapshotChoice {
        let snapshots = folder.appendingPathComponent("snapshots", isDirectory: true)
        let refFile = folder.appendingPathComponent("refs", isDirectory: true).appendingPathComponent(revision)
        var notes: [String] = []
        let candidates = ((try? FileManager.default.contentsOfDirectory(atPath: snapshots.path)) ?? [])
            .filter { !$0.hasPrefix(".") }
            .map { snapshots.appendingPathComponent($0, isDirectory: true) }
            .filter(isDirectory)
        if let data = FileManager.default.contents(atPath: refFile.path),
           let text = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty {
            let named = snapshots.appendingPathComponent(text, isDirectory: true)
            let problem = ModelFiles.problem(in: named)
            if problem == nil {
                return SnapshotChoice(directory: named, revision: text, notes: [])
            }
            notes.append("refs/\(revision) in \(folder.path) names snapshot \(text), which \(problem ?? "is unusable")")
        } else {
            notes.append("\(folder.path) has no refs/\(revision)")
        }
        let usable = candidates.filter { ModelFiles.problem(in: $0) == nil }
            .sorted { modificationDate($0) > modificationDate($1) }
        if let newest = usable.first {
            let which = usable.count == 1 ? "the only complete snapshot" : "the newest of \(usable.count) complete snapshots"
            notes.append("using \(which), \(newest.lastPathComponent)")
            return SnapshotChoice(directory: newest, revision: newest.lastPathComponent, notes: notes)
        }
        let detail = candidates.isEmpty
            ? "no snapshot in \(snapshots.path)"
            : "no snapshot holds config.json, vocab.json, merges.txt and weights (" + (candidates.first.flatMap { ModelFiles.problem(in: $0) } ?? "") + ")"
        return SnapshotChoice(directory: nil, revision: nil, notes: notes + [detail])
    }
}

/// The snapshot picked in a repository folder, or nil with the notes saying why none fits.
public struct SnapshotChoice: Sendable, Equatable {
    public let directory: URL?
    public let revision: String?
    /// Fallbacks taken (no refs/main, a ref to a missing snapshot), for a warning line.
    public let notes: [String]
}

/// The files a loadable model directory holds.
public enum ModelFiles {
    /// Weight files MaskScope reads, in the order the engine prefers them (`CheckpointFiles.Kind`).
    public static let weightFiles = CheckpointFiles.Kind.allCases.map(\.fileName)
    /// Files the tokenizer and the config need (tokenizer.json may stand in for vocab.json and merges.txt).
    public static let requiredFiles = ["config.json", "vocab.json", "merges.txt"]

    /// Nil when `directory` holds config, tokenizer files and weights (following symlinks into blobs);
    /// else what is missing, phrased to follow "which ...".
    public static func problem(in directory: URL) -> String? {
        let fm = FileManager.default
        guard isDirectory(directory) else { return "does not exist" }
        let hasTokenizerJSON = fm.fileExists(atPath: directory.appendingPathComponent("tokenizer.json").path)
        let missing = requiredFiles.filter { name in
            !fm.fileExists(atPath: directory.appendingPathComponent(name).path) && !(hasTokenizerJSON && name != "config.json")
        }
        let hasWeights = CheckpointFiles.Kind.present(in: directory) != nil
        if missing.isEmpty && hasWeights { return nil }
        let lacking = missing + (hasWeights ? [] : ["model.safetensors (or pytorch_model.bin)"])
        return "lacks " + lacking.joined(separator: ", ")
    }
}

func isDirectory(_ url: URL) -> Bool {
    var flag: ObjCBool = false
    return FileManager.default.fileExists(atPath: url.path, isDirectory: &flag) && flag.boolValue
}

func modificationDate(_ url: URL) -> Date {
    ((try? FileManager.default.attributesOfItem(atPath: url.path))?[.modificationDate] as? Date) ?? .distantPast
}

/// huggingface_hub's HF_HOME: the variable, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface.
func huggingFaceHome(_ environment: [String: String]) -> String {
    environmentPath("HF_HOME", environment)
        ?? (environmentPath("XDG_CACHE_HOME", environment) ?? homeDirectory(environment) + "/.cache") + "/huggingface"
}

/// A path from the environment, `~` expanded; nil when unset or empty.
func environmentPath(_ key: String, _ environment: [String: String]) -> String? {
    guard let value = environment[key], !value.isEmpty else { return nil }
    return expandTilde(value, environment: environment)
}

func homeDirectory(_ environment: [String: String]) -> String {
    if let home = environment["HOME"], !home.isEmpty { return home }
    return FileManager.default.homeDirectoryForCurrentUser.path
}

/// `~` and `~/x` become the home directory; other paths are returned as given.
func expandTilde(_ path: String, environment: [String: String]) -> String {
    if path == "~" { return homeDirectory(environment) }
    if path.hasPrefix("~/") { return homeDirectory(environment) + String(path.dropFirst(1)) }
    return path
}
