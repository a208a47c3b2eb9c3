import Foundation

/// Writes a whole file or nothing: the bytes go to a temporary file beside the target, then rename(2) puts
/// it in place, so a crash, a full disk or a kill leaves the old file or the new one, never half of one.
public enum AtomicFile {
    /// The temporary name `path` is written under first: hidden, in the same folder (rename(2) only moves
    /// within one file system), and with the pid so two processes never share one.
    public static func temporaryPath(for path: String, suffix: String = "tmp") -> String {
        let url = URL(fileURLWithPath: path)
        return url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(getpid()).\(suffix)").path
    }

    /// Writes `data` to `path` atomically, creating the folder first (with `folderPermissions`). With
    /// `durable`, the data is on the disk (fsync) before the rename, so a power cut cannot leave an empty file.
    public static func write(_ data: Data, to path: String, permissions: mode_t = 0o644, folderPermissions: mode_t = 0o755,
                             durable: Bool = true) throws(FileWriteError) {
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        try makeFolder(folder, permissions: folderPermissions, for: path)
        let temporary = temporaryPath(for: path)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, permissions)
        guard fd >= 0 else { throw FileWriteError(path: path, code: errno) }
        var failure: Int32 = 0
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                offset += written
            }
        }
        if failure == 0, durable, fsync(fd) != 0 { failure = errno }
        if close(fd) != 0, failure == 0 { failure = errno }
        if failure == 0, rename(temporary, path) != 0 { failure = errno }
        if failure != 0 {
            unlink(temporary)
            throw FileWriteError(path: path, code: failure)
        }
    }

    /// mkdir -p, keeping the first error's errno.
    static func makeFolder(_ folder: String, permissions: mode_t, for path: String) throws(FileWriteError) {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw FileWriteError(path: path, code: ENOTDIR) }
            return
        }
        let parent = URL(fileURLWithPath: folder).deletingLastPathComponent().path
        if parent != folder, !parent.isEmpty { try makeFolder(parent, permissions: permissions, for: path) }
        if mkdir(folder, permissions) != 0, errno != EEXIST { throw FileWriteError(path: path, code: errno) }
    }
}

/// Why a file could not be written: the system's error, said in words, with what to do about it.
public struct FileWriteError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file that was to be written.
    public var path: String
    /// The errno of the step that failed.
    public var code: Int32

    public init(path: String, code: Int32) {
        self.path = path
        self.code = code
    }

    /// The folder the file goes in.
    public var folder: String { URL(fileURLWithPath: path).deletingLastPathComponent().path }

    /// What went wrong and what to do, without the file's name (the caller's message has it).
    public var reason: String {
        switch code {
        case EACCES, EPERM:
            return "permission denied: you cannot write in \(folder); fix its permissions or work from a folder you can write to"
        case ENOSPC, EDQUOT:
            return "no space left on the disk holding \(folder)\(code == EDQUOT ? " (your quota is used up)" : ""); free some space, then save again"
        case ENOENT:
            return "the folder \(folder) does not exist (was it moved or deleted?); create it, then save again"
        case ENOTDIR:
            return "a part of \(folder) is a file, not a folder; move that file away or save somewhere else"
        case EROFS:
            return "\(folder) is on a read-only file system; work from a folder on a writable disk"
        case EISDIR:
            return "\(path) is a folder; remove it or save under another name"
        case EMFILE, ENFILE:
            return "too many files are open; close some programs, then save again"
        case EIO:
            return "input/output error (a failing disk, or a network or USB drive that went away); save somewhere else"
        default:
            return String(cString: strerror(code))
        }
    }

    public var description: String { "cannot write \(path): \(reason)" }
}
