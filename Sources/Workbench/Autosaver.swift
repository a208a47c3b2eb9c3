import FileSupport
import Foundation

/// Keeps the autosave file up to date while the workbench runs: after every change of the content it
/// re-encodes it (and hands the bytes to `published`, the crash handler's copy); it writes the file once
/// the content has rested for `quietPeriod`, or at the latest `longestDelay` after the first unsaved
/// change while typing goes on, and once more at the end with how the workbench ended.
///
/// Driven by the app's loop on one thread; the clock is injected so that tests need not wait.
public final class Autosaver {
    public let path: String
    let clock: () -> Date
    let quietPeriod: TimeInterval
    let longestDelay: TimeInterval
    let published: (Data) -> Void

    /// The content last seen, and its encoding (savedAt at the change).
    private var content: Autosave?
    private var bytes: Data?
    /// The first change not written yet, and the last change.
    private var firstUnsaved: Date?
    private var lastChange: Date?
    /// The last write's failure, reported once until a write succeeds again.
    private var failed: FileWriteError?

    /// - Parameters:
    ///   - published: called with the bytes of every new content (for the crash handler), the first state
    ///     seen included.
    public init(path: String, clock: @escaping () -> Date = Date.init, quietPeriod: TimeInterval = 2, longestDelay: TimeInterval = 10,
                published: @escaping (Data) -> Void = { _ in }) {
        self.path = path
        self.clock = clock
        self.quietPeriod = quietPeriod
        self.longestDelay = longestDelay
        self.published = published
    }

    /// Notes `state`; when what a session holds (or where Ctrl-S writes) changed, encodes it at once, so
    /// the crash handler's copy is never older than the screen, and schedules a write. The first state
    /// seen is the start: it is encoded for the crash handler but not written, so merely opening and
    /// closing the workbench does not replace the last autosave with a fresh start.
    public func observe(_ state: WorkbenchState) {
        let now = clock()
        let new = Autosave(state, savedAt: now)
        if let content, content.session == new.session, content.sessionPath == new.sessionPath { return }
        let isStart = content == nil
        content = new
        bytes = try? new.encoded()
        if let bytes { published(bytes) }
        guard !isStart else { return }
        lastChange = now
        if firstUnsaved == nil { firstUnsaved = now }
    }

    /// Writes the file when it is due; returns a message the first time writing fails (then nil until a
    /// write succeeds and fails again), so a broken disk is said once, not at every keystroke.
    public func tick() -> String? {
        guard let first = firstUnsaved, let last = lastChange else { return nil }
        let now = clock()
        guard now.timeIntervalSince(last) >= quietPeriod || now.timeIntervalSince(first) >= longestDelay else { return nil }
        firstUnsaved = nil
        return write(endedBy: nil, durable: false)
    }

    /// The last write, saying how the workbench ended ("quit" or a signal's name), to the disk (fsync).
    @discardableResult
    public func finish(endedBy: String) -> String? {
        firstUnsaved = nil
        return write(endedBy: endedBy, durable: true)
    }

    private func write(endedBy: String?, durable: Bool) -> String? {
        guard var autosave = content else { return nil }
        autosave.endedBy = endedBy
        do {
            let data: Data
            if endedBy == nil, let bytes { data = bytes } else { data = try autosave.encoded() }
            // The folder is private: the autosave holds whatever the user typed.
            try AtomicFile.write(data, to: path, permissions: 0o600, folderPermissions: 0o700, durable: durable)
            failed = nil
            return nil
        } catch let error as FileWriteError {
            defer { failed = error }
            return failed == error ? nil : "autosave failed: \(error.description); your work is not being kept (Ctrl-S saves a session)"
        } catch {
            return "autosave failed: \(error)"
        }
    }

    /// Removes the temporary files (`AtomicFile.temporaryPath`, "tmp" or "crash") that processes no longer
    /// running left beside `path` when they were killed in the middle of a write.
    public static func removeStaleTemporaries(of path: String) {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent()
        let prefix = ".\(url.lastPathComponent)."
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [] where name.hasPrefix(prefix) {
            let parts = name.dropFirst(prefix.count).split(separator: ".")
            guard parts.count == 2, ["tmp", "crash"].contains(parts[1]), let pid = pid_t(parts[0]),
                  kill(pid, 0) != 0, errno == ESRCH else { continue }
            unlink(folder.appendingPathComponent(name).path)
        }
    }

    /// Keeps a copy of the autosave found at start (`Autosave.previousPath`) when it holds work, before
    /// this run writes over it, so even a run that starts fresh (Ctrl-Z, --text, --session) and quits cannot
    /// lose the last work. A copy of a fresh start would replace older work, so it is not made.
    public static func keepPrevious(_ found: Autosave, of path: String) {
        guard found.hasWork(), let data = try? found.encoded() else { return }
        try? AtomicFile.write(data, to: Autosave.previousPath(path), permissions: 0o600, folderPermissions: 0o700, durable: false)
    }
}
