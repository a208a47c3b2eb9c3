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
    /// `pocket-teacher` or `pocket-student` named, but in none of the folders the pocket models are looked for.
    case pocketNotFound(name: String, looked: [String], pullCommand: String)
    /// Nothing to open when no model was named: each place or model tried, with why it did not open.
    case noModels(tried: [String], pullCommand: String)

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
        case .pocketNotFound(let name, let looked, let pullCommand):
            return "model \(name) not found; looked in \(looked.joined(separator: ", ")) (\(PocketModels.environmentKey) names the folder that holds pocket-teacher/ and pocket-student/). The real models: \(pullCommand)"
        case .noModels(let tried, let pullCommand):
            return "no model to open; tried \(tried.joined(separator: "; ")). Download the real models with: \(pullCommand)"
        }
    }
}
