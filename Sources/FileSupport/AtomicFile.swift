import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a whole file or nothing: the bytes go to a temporary file beside the target, then rename(2) puts
/// it in place, so a crash, a full disk or a kill leaves the old file or the new one, never half of one.
/// Every temporary-file-then-rename write in MaskScope goes through here (sessions, the autosave, the hub
/// cache's refs and snapshot links); only the crash handler's write (CursesBackend's `CrashSave`, which must
/// stay async-signal-safe) does the same steps itself, under `temporaryPath`'s name.
public enum AtomicFile {
    /// The temporary name `path` is written under first: hidden, in the same folder (rename(2) only moves
    /// within one file system), and with the pid so two processes never share one.
    public static func temporaryPath(for path: String, suffix: String = "tmp") -> String {
        let url = URL(fileURLWithPath: path)
        return url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(getpid()).\(suffix)").path
    }

    /// Writes `data` to `path` atomically. A missing folder is created first (mkdir -p, with
    /// `folderPermissions`) unless `createFolder` is false; then it is an error (ENOENT). With `durable`, the
    /// data is on the disk (fsync) before the rename, and the folder after it, so a power cut leaves the old
    /// file or the whole new one, never an empty one.
    public static func write(_ data: Data, to path: String, permissions: mode_t = 0o644, folderPermissions: mode_t = 0o755,
                             createFolder: Bool = true, durable: Bool = true) throws(FileWriteError) {
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        if createFolder { try makeFolder(folder, permissions: folderPermissions, for: path) }
        try replace(path, durable: durable) { temporary in
            let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, permissions)
            guard fd >= 0 else { return errno }
            var failure = data.withUnsafeBytes { raw in writeAll(fd, raw) }
            if failure == 0, durable, fsync(fd) != 0 { failure = errno }
            if close(fd) != 0, failure == 0 { failure = errno }
            return failure
        }
    }

    /// Points `path` at `destination` with a symbolic link, replacing what is there at once (a reader sees the
    /// old link or the new one, never none). The folder must exist.
    public static func symlink(to destination: String, at path: String) throws(FileWriteError) {
        try replace(path, durable: false) { temporary in
            #if canImport(Glibc)
            let made = Glibc.symlink(destination, temporary)
            #else
            let made = Darwin.symlink(destination, temporary)
            #endif
            return made == 0 ? 0 : errno
        }
    }

    /// Makes the temporary file with `make` (which returns 0 or an errno), renames it over `path` and, with
    /// `durable`, fsyncs the folder so the rename itself survives a power cut. On any failure the temporary file
    /// is removed and the error names `path`.
    static func replace(_ path: String, durable: Bool, make: (String) -> Int32) throws(FileWriteError) {
        let temporary = temporaryPath(for: path)
        unlink(temporary) // left by a killed process with our pid; symlink(2) would not replace it
        var failure = make(temporary)
        if failure == 0, rename(temporary, path) != 0 { failure = errno }
        if failure != 0 {
            unlink(temporary)
            throw FileWriteError(path: path, code: failure)
        }
        // The new file is in place whatever happens here; a folder that cannot be fsync'd (some file
        // systems refuse it) only loses the rename's durability, so that is not reported as a failed write.
        if durable { syncFolder(URL(fileURLWithPath: path).deletingLastPathComponent().path) }
    }

    /// Writes all of `raw` to `fd`, retrying after EINTR; 0 or the errno of the write that failed.
    static func writeAll(_ fd: Int32, _ raw: UnsafeRawBufferPointer) -> Int32 {
        var offset = 0
        while offset < raw.count {
            #if canImport(Glibc)
            let written = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
            #else
            let written = Darwin.write(fd, raw.baseAddress! + offset, raw.count - offset)
            #endif
            if written < 0 {
                if errno == EINTR { continue }
                return errno
            }
            offset += written
        }
        return 0
    }

    /// fsync(2) on a folder, so that a rename in it is on the disk.
    static func syncFolder(_ folder: String) {
        let fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        _ = close(fd)
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
