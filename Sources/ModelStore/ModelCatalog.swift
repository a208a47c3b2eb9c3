import Foundation
import RoBERTa

/// One line of `maskscope models`: a model found on disk, or a known one that is not there yet.
public struct ModelEntry: Sendable, Equatable {
    /// Short name for known models (`roberta-base`), else the hub id or the directory.
    public var name: String
    public var repoID: String?
    /// The snapshot directory; nil when not present.
    public var directory: URL?
    public var revision: String?
    public var present: Bool
    /// Bytes of the files the snapshot holds (symlinks followed into blobs).
    public var sizeBytes: Int64?
    /// Weight dtypes, e.g. ["F32"].
    public var dtypes: [String]
    public var modelType: String?
    public var layers: Int?
    public var hiddenSize: Int?
    /// Fallbacks and problems worth showing (no refs/main, not a RoBERTa, unreadable weights).
    public var notes: [String]
    /// The command that fetches it, for known models not present.
    public var pullCommand: String?
    /// Whether MaskScope can load it (a RoBERTa with config, tokenizer and weights).
    public var loadable: Bool
}

/// What the hub cache holds, and what MaskScope could fetch.
public struct ModelCatalog: Sendable {
    public let cache: HubCache

    public init(cache: HubCache = .locate()) { self.cache = cache }

    /// Every model in the cache (known ones under their short names, found under the current id or an old one),
    /// then the known models that are not present, each with the command that fetches it.
    public func entries() -> [ModelEntry] {
        let ids = cache.cachedRepoIDs()
        var consumed = Set<String>()
        var present: [ModelEntry] = []
        var absent: [ModelEntry] = []
        for known in KnownModels.all {
            let cachedIDs = known.cacheIDs.compactMap { wanted in ids.first { $0.lowercased() == wanted.lowercased() } }
            consumed.formUnion(cachedIDs)
            var chosen: ModelEntry?
            var problems: [String] = []
            for id in cachedIDs {
                let choice = cache.snapshot(inFolder: cache.folder(for: id))
                guard let directory = choice.directory else { problems += choice.notes; continue }
                var entry = blank(name: known.name, repoID: id, choice: choice)
                if id != known.repoID { entry.notes.append("found under its old id \(id) (now \(known.repoID))") }
                Self.describe(&entry, directory: directory)
                chosen = entry
                break
            }
            if let chosen {
                present.append(chosen)
            } else {
                var entry = blank(name: known.name, repoID: known.repoID, choice: nil)
                entry.sizeBytes = known.downloadBytes
                entry.dtypes = ["F32"]
                entry.modelType = "roberta"
                entry.layers = known.layers
                entry.hiddenSize = known.hiddenSize
                entry.notes = problems
                entry.pullCommand = known.pullCommand
                absent.append(entry)
            }
        }
        for id in ids where !consumed.contains(id) {
            let choice = cache.snapshot(inFolder: cache.folder(for: id))
            var entry = blank(name: id, repoID: id, choice: choice)
            if let directory = choice.directory {
                Self.describe(&entry, directory: directory)
                present.append(entry)
            } else {
                entry.pullCommand = "maskscope pull \(id)"
                absent.append(entry)
            }
        }
        return present + absent
    }

    private func blank(name: String, repoID: String?, choice: SnapshotChoice?) -> ModelEntry {
        ModelEntry(name: name, repoID: repoID, directory: choice?.directory, revision: choice?.revision,
                   present: choice?.directory != nil, sizeBytes: nil, dtypes: [], modelType: nil, layers: nil,
                   hiddenSize: nil, notes: choice?.notes ?? [], pullCommand: nil, loadable: false)
    }

    /// Describes a model directory that is not in the cache (`--model DIR`), the same way.
    public static func entry(forDirectory directory: URL, name: String) -> ModelEntry {
        var entry = ModelEntry(name: name, repoID: nil, directory: directory, revision: nil, present: true, sizeBytes: nil,
                               dtypes: [], modelType: nil, layers: nil, hiddenSize: nil, notes: [], pullCommand: nil, loadable: false)
        describe(&entry, directory: directory)
        return entry
    }

    /// Fills size, dtype, layers and hidden size from the files (config.json and the weights' headers only).
    static func describe(_ entry: inout ModelEntry, directory: URL) {
        entry.sizeBytes = directorySize(directory)
        let configURL = directory.appendingPathComponent("config.json")
        if let data = FileManager.default.contents(atPath: configURL.path),
           let config = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] {
            entry.modelType = config["model_type"] as? String
            entry.layers = (config["num_hidden_layers"] as? NSNumber)?.intValue
            entry.hiddenSize = (config["hidden_size"] as? NSNumber)?.intValue
        } else {
            entry.notes.append("config.json is missing or not JSON")
        }
        do {
            entry.dtypes = try checkpointDTypes(inModelDirectory: directory)
        } catch {
            entry.notes.append("weights unreadable: \(error)")
        }
        let problem = ModelFiles.problem(in: directory)
        if let problem { entry.notes.append("the snapshot \(problem)") }
        if let type = entry.modelType, type != "roberta" { entry.notes.append("model_type \(type): MaskScope runs RoBERTa models only") }
        entry.loadable = problem == nil && entry.modelType == "roberta" && !entry.dtypes.isEmpty
    }

    /// Sum of the sizes of the files in a directory, following symlinks (a snapshot's files point into blobs).
    static func directorySize(_ directory: URL) -> Int64 {
        let fm = FileManager.default
        var total: Int64 = 0
        var seen = Set<String>()
        for name in (try? fm.contentsOfDirectory(atPath: directory.path)) ?? [] {
            let path = directory.appendingPathComponent(name).resolvingSymlinksInPath().path
            guard seen.insert(path).inserted,
                  let attributes = try? fm.attributesOfItem(atPath: path),
                  (attributes[.type] as? FileAttributeType) == .typeRegular,
                  let size = attributes[.size] as? NSNumber else { continue }
            total += size.int64Value
        }
        return total
    }
}

/// "498.8 MB", "1.42 GB", "275.6 KB": decimal units, as the hub shows sizes.
public func formatBytes(_ bytes: Int64) -> String {
    let units = ["B", "KB", "MB", "GB", "TB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1000, unit < units.count - 1 {
        value /= 1000
        unit += 1
    }
    if unit == 0 { return "\(bytes) B" }
    return String(format: value >= 100 ? "%.0f" : (value >= 10 ? "%.1f" : "%.2f"), value) + " " + units[unit]
}
