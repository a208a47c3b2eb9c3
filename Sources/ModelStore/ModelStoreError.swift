import Foundation

/// Why a model name did not lead to a model directory; every case says where MaskScope looked and what to do.
public enum ModelStoreError: Error, CustomStringConvertible, Equatable {
    /// A name that is neither a directory nor in the hub cache: the places looked at and the pull command.
    case notFound(name: String, looked: [String], pullCommand: String)
    /// Something that reads as a path (starts with /, ./, ../ or ~) but is not a directory.
    case directoryNotFound(String)
    /// Not a path and not a valid hub id (ORG/NAME of letters, digits, '-', '_', '.').
    case invalidName(String)
    /// The repository folder exists in the cache but holds no usable snapshot.
    case incompleteCache(name: String, folder: String, detail: String, pullCommand: String)
    /// No real model in the cache and no demo model either.
    case noModels(cache: String, pullCommand: String)

    public var description: String {
        switch self {
        case .notFound(let name, let looked, let pullCommand):
            return "model \(name) not found; looked in \(looked.joined(separator: ", ")). Download it with: \(pullCommand)"
        case .directoryNotFound(let path):
            return "\(path): no such model directory (a model directory holds config.json, vocab.json, merges.txt and model.safetensors)"
        case .invalidName(let name):
            return "\"\(name)\" is neither a model directory nor a model name; use roberta-base, roberta-large, distilroberta-base, ORG/NAME or a directory"
        case .incompleteCache(let name, let folder, let detail, let pullCommand):
            return "model \(name) in \(folder) is incomplete (\(detail)); download it again with: \(pullCommand)"
        case .noModels(let cache, let pullCommand):
            return "no model in \(cache) and no bundled demo model (set MASKSCOPE_DEMO_MODEL or run from the repository); download one with: \(pullCommand)"
        }
    }
}
