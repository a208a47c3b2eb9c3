import Foundation

/// Finds the built `maskscope` binary for the tests that run it as users do.
public enum TestBinary {
    /// The `maskscope` binary next to (or above) the test bundle, else `.build/debug/maskscope` under repoRoot.
    public static func maskscope(near bundle: Bundle, repoRoot: URL) -> URL {
        var dir = bundle.bundleURL
        while dir.path != "/" {
            let candidate = dir.appendingPathComponent("maskscope")
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDir), !isDir.boolValue { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return repoRoot.appendingPathComponent(".build/debug/maskscope")
    }
}
