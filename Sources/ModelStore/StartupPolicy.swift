import Foundation

/// Which models open when the user names none: in the workbench, and in every command that needs one.
///
/// The real RoBERTa models in the Hugging Face cache (known ones first, in registry order); when none of
/// them opens, the two pocket models, teacher first. A model whose directory is incomplete or that fails to
/// load is skipped and named in a notice, not fatal; when nothing opens, the error names everything tried
/// and the command that fetches the real models.
public struct StartupPolicy: Sendable {
    public let catalog: ModelCatalog
    /// Where the pocket models are looked for, in order (`PocketModels.candidateFolders`).
    public let pocketFolders: [URL]

    public init(catalog: ModelCatalog = ModelCatalog(), pocketFolders: [URL] = PocketModels.candidateFolders()) {
        self.catalog = catalog
        self.pocketFolders = pocketFolders
    }

    /// The models in the cache that MaskScope can load, in the order to open them.
    public func cachedModels() -> [ResolvedModel] {
        catalog.entries().filter { $0.present && $0.loadable }.compactMap { entry in
            guard let directory = entry.directory else { return nil }
            return ResolvedModel(name: entry.name, repoID: entry.repoID, directory: directory, revision: entry.revision,
                                 source: .cache, notes: entry.notes)
        }
    }

    /// The pocket pair, teacher first, in the first folder that holds either; empty when no folder does.
    public func pocketModels() -> [ResolvedModel] {
        guard let folder = PocketModels.locate(in: pocketFolders) else { return [] }
        return PocketModels.names.map { PocketModels.resolved($0, in: folder) }
    }

    /// Opens up to `limit` models with `load`, in order: the cached ones, else (when none of those opens)
    /// the pocket ones. A model whose directory is incomplete, or that `load` throws for, is skipped and
    /// recorded; `ModelStoreError.noModels` when nothing opens.
    public func open<Model>(limit: Int, load: (ResolvedModel) throws -> Model) throws -> StartupSelection<Model> {
        var skipped: [SkippedModel] = []
        func attempt(_ candidates: [ResolvedModel]) -> [OpenedModel<Model>] {
            var opened: [OpenedModel<Model>] = []
            for candidate in candidates where opened.count < limit {
                if let problem = ModelFiles.problem(in: candidate.directory) {
                    skipped.append(SkippedModel(name: candidate.name, reason: "\(candidate.directory.path) \(problem)"))
                    continue
                }
                do {
                    opened.append(OpenedModel(resolved: candidate, model: try load(candidate)))
                } catch {
                    skipped.append(SkippedModel(name: candidate.name, reason: String(describing: error)))
                }
            }
            return opened
        }
        let cached = cachedModels()
        let pocket = pocketModels()
        for (candidates, isPocket) in [(cached, false), (pocket, true)] {
            let opened = attempt(candidates)
            if let first = opened.first {
                return StartupSelection(first: first, rest: Array(opened.dropFirst()), skipped: skipped, isPocket: isPocket)
            }
        }
        var tried: [String] = []
        if cached.isEmpty { tried.append("the Hugging Face cache \(catalog.cache.root.path) (no RoBERTa model in it)") }
        if pocket.isEmpty {
            tried.append("the pocket models in \(pocketFolders.map(\.path).joined(separator: ", ")) (not there; "
                         + "\(PocketModels.environmentKey) names the folder that holds pocket-teacher/ and pocket-student/)")
        }
        tried += skipped.map { "\($0.name) (\($0.reason))" }
        throw ModelStoreError.noModels(tried: tried, pullCommand: KnownModels.pullAllCommand)
    }
}

/// A model the startup policy opened: where it came from, and what `load` made of it.
public struct OpenedModel<Model> {
    public let resolved: ResolvedModel
    public let model: Model
}

/// A model the startup policy passed over, and why.
public struct SkippedModel: Sendable, Equatable {
    public let name: String
    public let reason: String

    public init(name: String, reason: String) {
        self.name = name
        self.reason = reason
    }

    /// "pocket-teacher skipped: /…/pocket-teacher lacks config.json".
    public var notice: String { "\(name) skipped: \(reason)" }
}

/// What opened when no model was named, and what to tell the user about it.
public struct StartupSelection<Model> {
    /// The active model (the only one a single-model command uses).
    public let first: OpenedModel<Model>
    /// The others that opened, in order.
    public let rest: [OpenedModel<Model>]
    /// Models passed over on the way, in the order they were tried.
    public let skipped: [SkippedModel]
    /// True when these are the pocket models (nothing from the cache opened).
    public let isPocket: Bool

    /// Every model that opened, the active one first.
    public var models: [OpenedModel<Model>] { [first] + rest }

    /// The line to keep on top of the workbench: what the pocket models are and how to get the real ones.
    public var banner: String? { isPocket ? PocketModels.banner : nil }

    /// One line naming each skipped model and why (for the workbench's status line); nil when none was.
    public var notice: String? { skipped.isEmpty ? nil : skipped.map(\.notice).joined(separator: "; ") }

    /// For commands without a screen, one line each: the skipped models, and that this is a pocket model.
    public var warnings: [String] {
        skipped.map(\.notice)
            + (isPocket ? ["using the pocket model \(first.resolved.name) (not RoBERTa); the real models: \(KnownModels.pullAllCommand)"] : [])
    }
}
