import Foundation

/// The small random-weight model shipped in the repository (models/demo), so a first run works with no download.
public enum DemoModel {
    /// The banner a session on the demo model shows.
    public static let banner = "Demo model: tiny, random weights; its predictions mean nothing. Get the real models with: \(KnownModels.pullAllCommand)"

    /// The one command that fetches the real models.
    public static var fetchCommand: String { KnownModels.pullAllCommand }

    /// The environment variable that points at a demo model directory explicitly.
    public static let environmentKey = "MASKSCOPE_DEMO_MODEL"

    /// The demo model directory: MASKSCOPE_DEMO_MODEL, else `share/maskscope/demo` next to an installed
    /// executable, else `models/demo` in a folder above the executable (a build inside the repository), else
    /// `models/demo` under the working directory. Nil when none holds a complete model.
    public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment,
                              executable: URL? = Bundle.main.executableURL,
                              workingDirectory: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)) -> URL? {
        candidates(environment: environment, executable: executable, workingDirectory: workingDirectory)
            .first { ModelFiles.problem(in: $0) == nil }
    }

    /// Every place `locate` tries, in order (for messages that say where MaskScope looked).
    public static func candidates(environment: [String: String], executable: URL?, workingDirectory: URL) -> [URL] {
        var result: [URL] = []
        if let explicit = environment[environmentKey], !explicit.isEmpty {
            result.append(URL(fileURLWithPath: expandTilde(explicit, environment: environment), isDirectory: true))
        }
        if let executable {
            let binDir = executable.resolvingSymlinksInPath().deletingLastPathComponent()
            result.append(binDir.deletingLastPathComponent().appendingPathComponent("share/maskscope/demo", isDirectory: true))
            var dir = binDir
            for _ in 0..<6 {
                result.append(dir.appendingPathComponent("models/demo", isDirectory: true))
                let parent = dir.deletingLastPathComponent()
                if parent.path == dir.path { break }
                dir = parent
            }
        }
        result.append(workingDirectory.appendingPathComponent("models/demo", isDirectory: true))
        return result
    }

    /// The demo as a resolved model.
    public static func resolved(at directory: URL) -> ResolvedModel {
        ResolvedModel(name: "demo", repoID: nil, directory: directory, revision: nil, source: .demo, notes: [])
    }
}

/// The models a session opens with when the user names none.
public struct StartupModels: Sendable, Equatable {
    /// In the order to offer them; the first is the one to open.
    public let models: [ResolvedModel]
    /// True when nothing real was found and `models` holds only the demo.
    public let isDemo: Bool
    /// What to show on top while on the demo (nil with real models).
    public var banner: String? { isDemo ? DemoModel.banner : nil }
    /// Known models that could still be pulled, for a model switcher.
    public let pullable: [KnownModel]
}

extension ModelCatalog {
    /// The real RoBERTa models found in the cache (known ones first, in registry order), else the bundled demo.
    public func startupModels(demo: URL? = DemoModel.locate()) throws -> StartupModels {
        let entries = self.entries()
        let found = entries.filter { $0.present && $0.loadable }.compactMap { entry -> ResolvedModel? in
            guard let directory = entry.directory else { return nil }
            return ResolvedModel(name: entry.name, repoID: entry.repoID, directory: directory, revision: entry.revision,
                                 source: .cache, notes: entry.notes)
        }
        let pullable = KnownModels.all.filter { known in !found.contains { $0.name == known.name } }
        if !found.isEmpty { return StartupModels(models: found, isDemo: false, pullable: pullable) }
        guard let demo else { throw ModelStoreError.noModels(cache: cache.root.path, pullCommand: KnownModels.pullAllCommand) }
        return StartupModels(models: [DemoModel.resolved(at: demo)], isDemo: true, pullable: pullable)
    }
}
