import Foundation

/// The file(s) a model directory's weights are read from. The one place that decides it: the engine
/// (`RobertaWeights`), the dtype listing (`checkpointDTypes`), ModelStore's completeness check
/// (`ModelFiles.problem`) and `pull`'s choice of what to download all follow `Kind`'s order.
public enum CheckpointFiles: Equatable, Sendable {
    /// model.safetensors.
    case safetensors(URL)
    /// model.safetensors.index.json and the shard files its weight_map names, in first-seen order.
    case shardedSafetensors(index: URL, shards: [URL])
    /// pytorch_model.bin (the zip torch.save writes); older caches hold only this.
    case pytorch(URL)

    /// The kinds of checkpoint; `allCases` is the order of preference: when a directory (or a hub repository)
    /// holds several, the first wins (as transformers prefers safetensors, and a single file to an index).
    public enum Kind: String, CaseIterable, Sendable {
        case safetensors = "model.safetensors"
        case shardedSafetensors = "model.safetensors.index.json"
        case pytorch = "pytorch_model.bin"

        /// The name of the file that marks this kind in a model directory (or a hub repository).
        public var fileName: String { rawValue }

        /// The kind `directory` holds, the first in `allCases` (the order of preference) whose file exists
        /// (following symlinks, as a hub snapshot's point into blobs); nil when none does. No file is read.
        public static func present(in directory: URL) -> Kind? {
            allCases.first { FileManager.default.fileExists(atPath: directory.appendingPathComponent($0.fileName).path) }
        }
    }

    /// The weights `directory` is read from; for shards, the index is read (and checked) to name them.
    /// Throws `ModelLoadError.missingFile` naming model.safetensors when the directory holds no weights.
    public static func choose(in directory: URL) throws -> CheckpointFiles {
        guard let kind = Kind.present(in: directory) else {
            throw ModelLoadError.missingFile(directory.appendingPathComponent(Kind.safetensors.fileName).path)
        }
        let file = directory.appendingPathComponent(kind.fileName)
        switch kind {
        case .safetensors:
            return .safetensors(file)
        case .shardedSafetensors:
            return .shardedSafetensors(index: file, shards: try shardNames(index: file).map(directory.appendingPathComponent))
        case .pytorch:
            return .pytorch(file)
        }
    }

    /// The kind of this choice.
    public var kind: Kind {
        switch self {
        case .safetensors: return .safetensors
        case .shardedSafetensors: return .shardedSafetensors
        case .pytorch: return .pytorch
        }
    }

    /// The shard file names of model.safetensors.index.json, in first-seen order (its weight_map's keys sorted).
    /// Each is a plain file name in the index's folder; an index naming none is an error.
    public static func shardNames(index url: URL) throws -> [String] {
        let file = url.path
        let data = try readModelFile(url)
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw ModelLoadError.badJSON(file: file, detail: jsonErrorDetail(error))
        }
        guard let dict = object as? [String: Any], let map = dict["weight_map"] as? [String: Any] else {
            throw ModelLoadError.badShardIndex(file: file, detail: "no \"weight_map\" object mapping tensor names to shard files")
        }
        var shards: [String] = []
        for key in map.keys.sorted() {
            guard let shard = map[key] as? String else {
                throw ModelLoadError.badShardIndex(file: file, detail: "weight_map entry for \(key) is not a file name")
            }
            guard !shard.contains("/"), !shard.hasPrefix(".") else {
                throw ModelLoadError.badShardIndex(file: file, detail: "shard name \(shard) must be a plain file name in the model directory")
            }
            if !shards.contains(shard) { shards.append(shard) }
        }
        guard !shards.isEmpty else { throw ModelLoadError.badShardIndex(file: file, detail: "weight_map is empty") }
        return shards
    }
}
