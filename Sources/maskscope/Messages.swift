import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A command that cannot go on, with what to do about it (printed as one `Error:` line, exit code 1).
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Every message the command line prints about an error or a warning goes through here: Foundation and system
/// errors become what happened in words, and long inputs echoed by any layer are shortened, with their length.
enum MessageText {
    /// The one line to print for `error`.
    static func line(for error: Error) -> String {
        let ns = error as NSError
        let text = [NSCocoaErrorDomain, NSPOSIXErrorDomain, NSURLErrorDomain].contains(ns.domain)
            ? SystemErrorText.describe(error) : String(describing: error)
        return readable(text)
    }

    /// `text` (a message, or a note another layer wrote) with Foundation's error renderings in words and long
    /// inputs shortened.
    static func readable(_ text: String) -> String {
        shortened(SystemErrorText.cleaned(text))
    }

    /// A word (a run without white space) longer than this is cut in messages.
    static let longestWord = 200
    /// Characters of a cut word that are kept.
    static let keptOfWord = 60
    /// A message longer than this after cutting words loses its middle.
    static let longestMessage = 4000

    /// `message` with every overlong word cut to its start, e.g. ``token `xxxx…` (5000000 characters)``, and an
    /// overlong whole cut in the middle; quotes and brackets around a cut word are kept.
    static func shortened(_ message: String) -> String {
        guard message.count > longestWord else { return message }
        var out = ""
        var word = ""
        func flush() {
            out += word.count > longestWord ? cut(word) : word
            word = ""
        }
        for character in message {
            if character.isWhitespace {
                flush()
                out.append(character)
            } else {
                word.append(character)
            }
        }
        flush()
        guard out.count > longestMessage else { return out }
        let head = out.prefix(longestMessage / 2), tail = out.suffix(longestMessage / 4)
        return "\(head) … (\(out.count - head.count - tail.count) characters left out) … \(tail)"
    }

    private static let opening: Set<Character> = ["\"", "'", "`", "(", "[", "{", "<", "“", "‘"]
    private static let closing: Set<Character> = ["\"", "'", "`", ")", "]", "}", ">", "”", "’", ",", ";", ":", "."]

    private static func cut(_ word: String) -> String {
        let lead = word.prefix { opening.contains($0) }
        let rest = word.dropFirst(lead.count)
        let trail = String(rest.reversed().prefix { closing.contains($0) }.reversed())
        let core = rest.dropLast(trail.count)
        return "\(lead)\(core.prefix(keptOfWord))…\(trail) (\(core.count) characters)"
    }
}

/// Foundation and system errors in words: what happened, not a domain and a number.
enum SystemErrorText {
    /// What `error` means, e.g. "it is a directory" or "permission denied".
    static func describe(_ error: Error) -> String {
        let ns = error as NSError
        if ns.domain == NSPOSIXErrorDomain { return describe(errno: Int32(truncatingIfNeeded: ns.code)) }
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError { return describe(underlying) }
        if ns.domain == NSCocoaErrorDomain {
            return cocoaFileErrors[ns.code] ?? "the system gave no reason (Foundation file error \(ns.code))"
        }
        return ns.localizedDescription
    }

    /// What an errno value means, in lower case to go inside a sentence.
    static func describe(errno code: Int32) -> String {
        if let text = posixErrors[code] { return text }
        let text = String(cString: strerror(code))
        return text.prefix(1).lowercased() + text.dropFirst()
    }

    private static let posixErrors: [Int32: String] = [
        EISDIR: "it is a directory", ENOENT: "no such file or directory", EACCES: "permission denied",
        EPERM: "the operation is not permitted", ENOSPC: "no space left on the device", EDQUOT: "the disk quota is used up",
        EROFS: "the file system is read-only", EIO: "an input/output error (the disk, or a network file system, failed)",
        ENOTDIR: "a part of the path is not a directory", ENAMETOOLONG: "the name is too long",
        EMFILE: "too many open files", ENFILE: "too many open files", ENOMEM: "out of memory",
        ELOOP: "too many levels of symbolic links", EBADF: "the file descriptor is closed",
    ]

    /// NSCocoaErrorDomain file errors that came without the system error behind them.
    private static let cocoaFileErrors: [Int: String] = [
        4: "no such file", 260: "no such file", 257: "permission denied", 513: "permission denied",
        263: "the file is too large to read", 640: "no space left on the device", 642: "no space left on the device",
    ]

    /// `message` with Foundation's renderings of an error (`The operation could not be completed. (D error N.)`,
    /// `Error Domain=D Code=N "…" UserInfo={…}`), as another layer put them into its text, replaced by `describe`.
    static func cleaned(_ message: String) -> String {
        guard message.contains("Domain") || message.contains("domain") else { return message }
        var text = message
        // `Error Domain=D Code=N "…"UserInfo={…}`: the system error underneath says the most.
        if let dump = text.range(of: #"Error Domain=\S+ Code=-?\d+ "[^"]*"\s*(UserInfo=\{.*\})?"#, options: .regularExpression) {
            let found = String(text[dump])
            let codes = numbers(after: "Code=", in: found)
            let domains = words(after: "Domain=", in: found)
            var error = NSError(domain: domains.first ?? NSCocoaErrorDomain, code: codes.first ?? 0)
            if let posix = domains.firstIndex(of: NSPOSIXErrorDomain), posix < codes.count {
                error = NSError(domain: NSPOSIXErrorDomain, code: codes[posix])
            }
            text.replaceSubrange(dump, with: describe(error))
        }
        // `The operation could not be completed. (NSCocoaErrorDomain error 256.)`
        while let plain = text.range(of: #"The operation could not be completed\. \(\S+ error -?\d+\.\)"#, options: .regularExpression) {
            let found = String(text[plain])
            let domain = words(after: "(", in: found).first ?? NSCocoaErrorDomain
            let code = numbers(after: " error ", in: found).first ?? 0
            text.replaceSubrange(plain, with: describe(NSError(domain: domain, code: code)))
        }
        return text
    }

    /// The whole numbers that follow each `marker` in `text`.
    private static func numbers(after marker: String, in text: String) -> [Int] {
        text.components(separatedBy: marker).dropFirst().compactMap { piece in
            Int(piece.prefix { $0 == "-" || $0.isNumber })
        }
    }

    /// The words (up to a space, quote or bracket) that follow each `marker` in `text`.
    private static func words(after marker: String, in text: String) -> [String] {
        text.components(separatedBy: marker).dropFirst().map { piece in
            String(piece.prefix { !$0.isWhitespace && !"\"(){}".contains($0) })
        }
    }
}

/// Standard output and error written with write(2), so that a closed or failing descriptor is an error we
/// report rather than a trap in Foundation's FileHandle.
enum StandardStreams {
    /// Occupies descriptors 0-2 that the command was started without, with /dev/null opened the wrong way round
    /// (standard input write-only, the outputs read-only): no file we open later can take their numbers (a model
    /// file opened as descriptor 1 would otherwise receive the output), and any use of them fails with EBADF.
    static func occupyClosedDescriptors() {
        for fd: Int32 in 0...2 where fcntl(fd, F_GETFD) == -1 && errno == EBADF {
            let placeholder = open("/dev/null", fd == 0 ? O_WRONLY : O_RDONLY)
            if placeholder >= 0, placeholder != fd {
                // A lower descriptor was free after all; leave things as they were.
                close(placeholder)
            }
        }
    }

    /// Writes all of `text` to `fd`; false with errno set when the descriptor refuses it.
    static func writeAll(_ text: String, to fd: Int32) -> Bool { writeAll(bytes: Array(text.utf8), to: fd) }

    /// Writes all of `bytes` (text, or a PNG or PDF) to `fd`, again after EINTR; false on an error (errno says which).
    static func writeAll(bytes: [UInt8], to fd: Int32) -> Bool {
        var done = 0
        while done < bytes.count {
            let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
            if written < 0 {
                if errno == EINTR { continue }
                return false
            }
            done += written
        }
        return true
    }
}

/// Writes a line to standard output. When standard output cannot take it (closed, a full disk), says so on
/// standard error and exits with status 1: nothing else the command does is of use then.
func emit(_ line: String) {
    guard StandardStreams.writeAll(line + "\n", to: STDOUT_FILENO) else {
        let reason = errno == EBADF ? "it is closed" : SystemErrorText.describe(errno: errno)
        _ = StandardStreams.writeAll("Error: cannot write to standard output (\(reason)); run the command with its output going to "
                                  + "a terminal, a pipe or a file\n", to: STDERR_FILENO)
        exit(1)
    }
}

/// Writes a warning line to standard error (made `MessageText.readable`).
func warn(_ message: String) {
    _ = StandardStreams.writeAll("warning: " + MessageText.readable(message) + "\n", to: STDERR_FILENO)
}
