import Foundation

/// A model MaskScope knows by name: its current hub id, the names it used to have, and what it is.
public struct KnownModel: Sendable, Equatable {
    /// The short name users type (`roberta-base`).
    public let name: String
    /// The hub's current repository id (`FacebookAI/roberta-base`).
    public let repoID: String
    /// Older ids the same weights were published under; caches made before the rename use them.
    public let aliases: [String]
    public let layers: Int
    public let hiddenSize: Int
    /// Size of model.safetensors on the hub, for "not present yet" listings.
    public let downloadBytes: Int64

    /// Every id this model may be cached under, current first.
    public var cacheIDs: [String] { [repoID] + aliases }

    /// The command that fetches it.
    public var pullCommand: String { "maskscope pull \(name)" }
}

/// The registry of models MaskScope knows by name, in the order the workbench offers them.
public enum KnownModels {
    public static let all: [KnownModel] = [
        KnownModel(name: "roberta-base", repoID: "FacebookAI/roberta-base", aliases: ["roberta-base"],
                   layers: 12, hiddenSize: 768, downloadBytes: 498_818_054),
        KnownModel(name: "roberta-large", repoID: "FacebookAI/roberta-large", aliases: ["roberta-large"],
                   layers: 24, hiddenSize: 1024, downloadBytes: 1_421_700_479),
        KnownModel(name: "distilroberta-base", repoID: "distilbert/distilroberta-base", aliases: ["distilroberta-base"],
                   layers: 6, hiddenSize: 768, downloadBytes: 331_070_498),
    ]

    /// The one command that fetches every known model.
    public static var pullAllCommand: String { "maskscope pull " + all.map(\.name).joined(separator: " ") }

    /// The known model a name or id refers to (case-insensitive: the hub treats ids that way).
    public static func find(_ name: String) -> KnownModel? {
        let key = name.lowercased()
        return all.first { $0.name.lowercased() == key || $0.cacheIDs.contains { $0.lowercased() == key } }
    }
}
