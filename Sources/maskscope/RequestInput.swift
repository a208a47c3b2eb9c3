import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where `predict` reads its requests: standard input or the --input file, read with read(2) a chunk at a time
/// (never with FileHandle, whose reads trap on a directory or a closed descriptor), so that a stream is answered
/// as it arrives and memory stays bounded.
struct RequestInput {
    /// Longest line of JSON Lines, in bytes.
    static let lineLimit = 1 << 20
    /// Longest whole input that is one request (one JSON document, on one line or pretty-printed over several).
    static let documentLimit = 16 << 20

    /// "standard input" or the file's path, for messages.
    let name: String
    private let fd: Int32
    private var buffer: [UInt8] = []
    /// What one read(2) fills.
    private var chunk = [UInt8](repeating: 0, count: 1 << 16)
    /// Where the unread bytes in `buffer` start.
    private var start = 0
    private var atEnd = false
    /// Lines handed out so far (the next line's number is one more).
    private(set) var lineNumber = 0

    /// Standard input, after checking that it is open and not a directory.
    static func standardInput() throws -> RequestInput {
        switch WholeInput.standardInputProblem() {
        case "closed"?: throw closedStandardInput
        case let problem?:
            throw CommandFailure("standard input is \(problem); send the request through a pipe or from a file "
                                 + "(maskscope predict < request.json), or give --input FILE")
        case nil: return RequestInput(name: "standard input", fd: STDIN_FILENO)
        }
    }

    static let closedStandardInput = CommandFailure(
        "standard input is closed; send the request through a pipe or from a file (maskscope predict < request.json), "
        + "or give --input FILE or texts as arguments")

    /// The request file at `path`; a named pipe is read like standard input (so `--input <(...)` works).
    static func file(_ path: String) throws -> RequestInput {
        var info = stat()
        guard stat(path, &info) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { throw CommandFailure("\(path): request file not found") }
            throw CommandFailure("\(path): cannot read the request file (\(SystemErrorText.describe(errno: errno)))")
        }
        if info.st_mode & S_IFMT == S_IFDIR {
            throw CommandFailure("\(path): a directory, not a request file; give --input the file that holds the request")
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw CommandFailure("\(path): cannot open the request file (\(SystemErrorText.describe(errno: errno)))")
        }
        return RequestInput(name: path, fd: fd)
    }

    private init(name: String, fd: Int32) {
        self.name = name
        self.fd = fd
    }

    /// One line as read: its bytes without the newline (and without a CR before it), or only its length when it
    /// was longer than the limit asked for (its bytes were skipped as they came, never kept).
    enum Line {
        case text([UInt8])
        case tooLong(bytes: Int)

        /// True for a line of nothing but white space.
        var isBlank: Bool {
            if case .text(let bytes) = self { return bytes.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D } }
            return false
        }
    }

    /// The next line, at most `limit` bytes long, or nil at the end of the input. A longer line is read on to its
    /// end (to count it, and to go on with the next) unless `skipOverlong` is false: then it is reported at once.
    mutating func next(limit: Int, skipOverlong: Bool = true) throws -> Line? {
        var searched = start
        while true {
            if let newline = Self.newline(in: buffer, from: searched) {
                let length = newline - start - (newline > start && buffer[newline - 1] == 0x0D ? 1 : 0)
                guard length <= limit else {
                    start = newline + 1
                    lineNumber += 1
                    return .tooLong(bytes: length)
                }
                return take(upTo: newline, skip: 1)
            }
            searched = buffer.count
            if buffer.count - start > limit {
                return skipOverlong ? try skipRest(of: buffer.count - start) : .tooLong(bytes: buffer.count - start)
            }
            if atEnd {
                guard start < buffer.count else { return nil }
                return take(upTo: buffer.count, skip: 0)
            }
            let got = try readChunk()
            buffer += chunk[..<got]
        }
    }

    /// Hands out `buffer[start..<end]` (without a final CR) and moves past it and `skip` more bytes.
    private mutating func take(upTo end: Int, skip: Int) -> Line {
        var stop = end
        if stop > start, buffer[stop - 1] == 0x0D { stop -= 1 }
        let line = Array(buffer[start..<stop])
        start = end + skip
        lineNumber += 1
        if start > (1 << 16), start * 2 > buffer.count {
            buffer.removeFirst(start)
            start = 0
        }
        return .text(line)
    }

    /// Reads on to the end of an overlong line, keeping only its length (the bytes after its newline stay).
    private mutating func skipRest(of seen: Int) throws -> Line {
        var length = seen
        var endsInCR = buffer.last == 0x0D
        buffer.removeAll(keepingCapacity: true)
        start = 0
        while !atEnd {
            let got = try readChunk()
            if let newline = Self.newline(in: chunk, from: 0, to: got) {
                length += newline
                if newline > 0 ? chunk[newline - 1] == 0x0D : endsInCR { length -= 1 }
                buffer += chunk[(newline + 1)..<got]
                break
            }
            length += got
            if got > 0 { endsInCR = chunk[got - 1] == 0x0D }
        }
        lineNumber += 1
        return .tooLong(bytes: length)
    }

    /// The index of the first newline in `bytes[from..<to]` (to the end when `to` is nil), found with memchr.
    private static func newline(in bytes: [UInt8], from: Int, to: Int? = nil) -> Int? {
        let end = to ?? bytes.count
        guard from < end else { return nil }
        return bytes.withUnsafeBytes { raw in
            memchr(raw.baseAddress! + from, 0x0A, end - from).map { $0 - UnsafeMutableRawPointer(mutating: raw.baseAddress!) }
        }
    }

    /// Reads the next chunk of the input into `chunk`; 0 (and `atEnd`) at the end.
    private mutating func readChunk() throws -> Int {
        while true {
            let got = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if got >= 0 {
                if got == 0 { atEnd = true }
                return got
            }
            if errno == EINTR { continue }
            let problem = errno
            if problem == EBADF, fd == STDIN_FILENO { throw Self.closedStandardInput }
            if problem == EISDIR { throw CommandFailure("\(name) is a directory; send the request through a pipe or from a file") }
            throw CommandFailure("cannot read \(name) (\(SystemErrorText.describe(errno: problem)))")
        }
    }

    /// Closes a --input file (standard input stays open).
    func finish() {
        if fd != STDIN_FILENO { _ = close(fd) }
    }
}
