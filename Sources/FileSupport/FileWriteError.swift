import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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

    /// The system's own words for `code` (strerror), for callers that add their own advice.
    public var systemReason: String { String(cString: strerror(code)) }

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
            return systemReason
        }
    }

    public var description: String { "cannot write \(path): \(reason)" }
}
