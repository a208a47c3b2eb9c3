import Foundation

/// The two small models trained in this repository (models/pocket-teacher and models/pocket-student), so
/// a first run has real, if small, predictions with no download. They are not RoBERTa checkpoints.
public enum PocketModels {
    /// The 6-layer teacher: the one a single-model command uses, and the workbench's active model.
    public static let teacher = "pocket-teacher"
    /// The 3-layer student distilled from the teacher: the workbench's second model (F2, F3).
    public static let student = "pocket-student"
    /// Teacher first.
    public static let names = [teacher, student]

    /// The environment variable naming the folder that holds pocket-teacher/ and pocket-student/.
    public static let environmentKey = "MASKSCOPE_POCKET_MODELS"

    /// What the workbench shows on top while on the pocket models: what they are, then (on a row of its
    /// own, so the command is never broken across rows at 80 columns) the command that fetches the real ones.
    public static let banner = "Pocket models (not RoBERTa): small teacher + student on WordNet and open text.\n"
        + "Real models: \(KnownModels.pullAllCommand)"

    /// Every folder that may hold the pocket models, in the order they are tried: MASKSCOPE_POCKET_MODELS,
    /// else `share/maskscope` next to an installed executable, else `models` in a folder above the
    /// executable (a build inside the repository), else `models` under the working directory.
    public static func candidateFolders(environment: [String: String] = ProcessInfo.processInfo.environment,
                                        executable: URL? = Bundle.main.executableURL,
                                        workingDirectory: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)) -> [URL] {
        var result: [URL] = []
        if let explicit = environmentPath(environmentKey, environment) {
            result.append(URL(fileURLWithPath: explicit, isDirectory: true))
        }
        if let executable {
            let binDir = executable.resolvingSymlinksInPath().deletingLastPathComponent()
            result.append(binDir.deletingLastPathComponent().appendingPathComponent("share/maskscope", isDirectory: true))
            var dir = binDir
            for _ in 0..<6 {
                result.append(dir.appendingPathComponent("models", isDirectory: true))
                let parent = dir.deletingLastPathComponent()
                if parent.path == dir.path { break }
                dir = parent
            }
        }
        result.append(workingDirectory.appendingPathComponent("models", isDirectory: true))
        return result.map(\.standardizedFileURL)
    }

    /// The first of `folders` that holds a pocket-teacher/ or pocket-student/ directory, complete or not (a
    /// broken one is then reported by name rather than passed over); nil when none does.
    public static func locate(in folders: [URL] = candidateFolders()) -> URL? {
        folders.first { folder in names.contains { isDirectory(folder.appendingPathComponent($0, isDirectory: true)) } }
    }

    /// A pocket model in `folder` as a resolved model (its directory need not exist).
    public static func resolved(_ name: String, in folder: URL) -> ResolvedModel {
        ResolvedModel(name: name, repoID: nil, directory: folder.appendingPathComponent(name, isDirectory: true),
                      revision: nil, source: .pocket, notes: [])
    }
}
