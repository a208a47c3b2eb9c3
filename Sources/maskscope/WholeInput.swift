import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A whole input file (or standard input, "-") read with read(2), never FileHandle (whose reads trap on a
/// directory or a closed descriptor), up to `limit` bytes: `what` names it in errors ("corpus", "sentences").
/// A named pipe works (`eval <(zcat corpus.gz)`); a device that never ends stops at the limit with an error.
enum WholeInput {
    /// Why standard input cannot be read ("closed", "a directory"), or nil. (A descriptor open only for writing is
    /// the placeholder `StandardStreams` put where none was.)
    static func standardInputProblem() -> String? {
        var info = stat()
        let flags = fcntl(STDIN_FILENO, F_GETFL)
        guard flags != -1, flags & O_ACCMODE != O_WRONLY, fstat(STDIN_FILENO, &info) == 0 else { return "closed" }
        return info.st_mode & S_IFMT == S_IFDIR ? "a directory" : nil
    }

    static func read(_ path: String, what: String, limit: Int, hint: String) throws -> Data {
        let name = path == "-" ? "standard input" : path
        let fd: Int32
        if path == "-" {
            if let problem = standardInputProblem() { throw CommandFailure("standard input is \(problem); \(hint)") }
            fd = STDIN_FILENO
        } else {
            var info = stat()
            guard stat(path, &info) == 0 else {
                if errno == ENOENT || errno == ENOTDIR { throw CommandFailure("no \(what) file \(path); \(hint)") }
                throw CommandFailure("cannot read the \(what) file \(path) (\(SystemErrorText.describe(errno: errno))); \(hint)")
            }
            if info.st_mode & S_IFMT == S_IFDIR { throw CommandFailure("\(path) is a directory, not a \(what) file; \(hint)") }
            if info.st_mode & S_IFMT == S_IFREG, Int(info.st_size) > limit {
                throw CommandFailure("the \(what) file \(path) is \(info.st_size) bytes, more than the \(limit >> 20) MiB read at once; split it (or use --limit / --shard on parts)")
            }
            fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                throw CommandFailure("cannot open the \(what) file \(path) (\(SystemErrorText.describe(errno: errno))); \(hint)")
            }
        }
        defer { if fd != STDIN_FILENO { close(fd) } }
        var data = Data()
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let got = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if got == 0 { return data }
            if got < 0 {
                if errno == EINTR { continue }
                throw CommandFailure("cannot read \(name) (\(SystemErrorText.describe(errno: errno))); \(hint)")
            }
            data.append(contentsOf: chunk[0..<got])
            if data.count > limit {
                throw CommandFailure("\(name) holds more than \(limit >> 20) MiB; split the \(what) into parts of at most that size")
            }
        }
    }
}
