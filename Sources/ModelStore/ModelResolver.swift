import Foundation

/// A model name turned into a directory the engine can load.
public struct ResolvedModel: Sendable, Equatable {
    /// Where the model came from.
    public enum Source: String, Sendable {
        case directory, cache, pocket
    }

    /// What to call it in listings and titles (`roberta-base`, `ORG/NAME`, or the path given).
    public let name: String
    /// The hub id it was found under, for cached models.
    public let repoID: String?
    /// The directory holding config.json, the tokenizer files and the weights (a cache snapshot, possibly of symlinks).
    public let directory: URL
    /// The snapshot (commit) used, for cached models.
    public let revision: String?
    public let source: Source
    /// Fallbacks taken while resolving (no refs/main, an alias folder), worth a warning line.
    public let notes: [String]

    public init(name: String, repoID: String?, directory: URL, revision: String?, source: Source, notes: [String]) {
        self.name = name
        self.repoID = repoID
        self.directory = directory
        self.revision = revision
        self.source = source
        self.notes = notes
    }

    /// What a status line calls it: the short name, or the folder's name for a directory given by path.
    public var title: String { source == .directory ? directory.standardizedFileURL.lastPathComponent : name }
}

/// Turns what users type after `--model` into a model directory: a directory, a known short name, or a hub id.
public struct ModelResolver: Sendable {
    public let cache: HubCache
    /// The directory relative paths are taken from.
    public let workingDirectory: URL
    let environment: [String: String]
    /// Where `pocket-teacher` and `pocket-student` are looked for (`PocketModels.candidateFolders`).
    let pocketFolders: [URL]

    public init(cache: HubCache = .locate(), workingDirectory: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath),
                environment: [String: String] = ProcessInfo.processInfo.environment, executable: URL? = Bundle.main.executableURL) {
        self.cache = cache
        self.workingDirectory = workingDirectory
        self.environment = environment
        self.pocketFolders = PocketModels.candidateFolders(environment: environment, executable: executable, workingDirectory: workingDirectory)
    }

    /// `distilroberta-base | roberta-base | roberta-large | ORG/NAME | DIR | pocket-teacher | pocket-student`: an
    /// existing directory wins (as in transformers); a pocket model's name is looked for where `PocketModels`
    /// says; otherwise the name is looked up in the hub cache under its current id, then its old ones.
    public func resolve(_ name: String) throws -> ResolvedModel {
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        let expanded = expandTilde(trimmed, environment: environment)
        let path = expanded.hasPrefix("/") ? URL(fileURLWithPath: expanded, isDirectory: true)
            : workingDirectory.appendingPathComponent(expanded, isDirectory: true)
        if !trimmed.isEmpty, isDirectory(path) {
            return ResolvedModel(name: trimmed, repoID: nil, directory: path.standardizedFileURL, revision: nil, source: .directory, notes: [])
        }
        if Self.looksLikePath(trimmed) { throw ModelStoreError.directoryNotFound(path.standardizedFileURL.path) }
        if PocketModels.names.contains(trimmed) {
            guard let folder = pocketFolders.first(where: { isDirectory($0.appendingPathComponent(trimmed, isDirectory: true)) }) else {
                throw ModelStoreError.pocketNotFound(name: trimmed, looked: pocketFolders.map(\.path), pullCommand: KnownModels.pullAllCommand)
            }
            return PocketModels.resolved(trimmed, in: folder)
        }
        guard Self.isValidRepoID(trimmed) else { throw ModelStoreError.invalidName(trimmed) }

        let known = KnownModels.find(trimmed)
        let ids = known?.cacheIDs ?? [trimmed]
        let pull = "maskscope pull \(known?.name ?? trimmed)"
        var looked: [String] = []
        var firstProblem: (folder: URL, detail: String)?
        for id in ids {
            let folder = cache.folder(for: id)
            looked.append(folder.path)
            guard isDirectory(folder) else { continue }
            let choice = cache.snapshot(inFolder: folder)
            if let directory = choice.directory {
                var notes = choice.notes
                if id != ids[0] { notes.append("found under its old id \(id) (now \(ids[0]))") }
                return ResolvedModel(name: known?.name ?? trimmed, repoID: id, directory: directory,
                                     revision: choice.revision, source: .cache, notes: notes)
            }
            if firstProblem == nil { firstProblem = (folder, choice.notes.joined(separator: "; ")) }
        }
        if let firstProblem {
            throw ModelStoreError.incompleteCache(name: trimmed, folder: firstProblem.folder.path, detail: firstProblem.detail, pullCommand: pull)
        }
        looked.append("\(path.standardizedFileURL.path) (as a directory)")
        throw ModelStoreError.notFound(name: trimmed, looked: looked, pullCommand: pull)
    }

    /// Starts like a path rather than a name: absolute, ./, ../, ~, or ends in /.
    static func looksLikePath(_ s: String) -> Bool {
        s.hasPrefix("/") || s.hasPrefix("./") || s.hasPrefix("../") || s.hasPrefix("~") || s.hasSuffix("/") || s == "." || s == ".."
    }

    /// NAME or ORG/NAME made of letters, digits, '-', '_' and '.', neither part starting with '.' nor containing "--".
    public static func isValidRepoID(_ s: String) -> Bool {
        let parts = s.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count) else { return false }
        return parts.allSatisfy { part in
            !part.isEmpty && part.count <= 96 && !part.hasPrefix(".") && !part.contains("--") && !part.contains("..")
                && part.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) && $0.isASCII || "-_.".unicodeScalars.contains($0) }
        }
    }
}
