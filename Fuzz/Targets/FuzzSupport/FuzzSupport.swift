import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What every fuzz target shares: a scratch file for parsers that only read paths, and invariant checks that
/// end the run as a finding (libFuzzer catches the abort and saves the input).
public enum Fuzz {
    /// A directory of this process's own under $TMPDIR (Scripts/fuzz points TMPDIR at its run folder and removes it).
    nonisolated(unsafe) private static var scratchDirectory: String?

    /// Writes `bytes` to the scratch file `name` (truncating what the previous input left) and returns its path.
    /// A parser that maps or reads the file sees exactly the input; the previous input's map is gone by then,
    /// since every target releases what it opened before it returns.
    public static func scratchFile(_ bytes: UnsafeRawBufferPointer, name: String = "input") -> String {
        let directory: String
        if let known = scratchDirectory {
            directory = known
        } else {
            let parent = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
            var template = Array("\(parent)/maskscope-fuzz.XXXXXX".utf8CString)
            guard let made = mkdtemp(&template) else { die("cannot make a scratch directory under \(parent): \(String(cString: strerror(errno)))") }
            directory = String(cString: made)
            scratchDirectory = directory
            atexit { Fuzz.removeScratch() }
        }
        let path = directory + "/" + name
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { die("cannot write \(path): \(String(cString: strerror(errno)))") }
        var done = 0
        while done < bytes.count {
            let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
            guard n > 0 else { die("cannot write \(path): \(String(cString: strerror(errno)))") }
            done += n
        }
        close(fd)
        return path
    }

    private static func removeScratch() {
        guard let directory = scratchDirectory else { return }
        if let names = try? FileManager.default.contentsOfDirectory(atPath: directory) {
            for name in names { unlink(directory + "/" + name) }
        }
        rmdir(directory)
    }

    /// A broken invariant: says which and aborts, so libFuzzer reports a finding and keeps the input.
    public static func require(_ condition: Bool, _ message: @autoclosure () -> String,
                               file: StaticString = #fileID, line: UInt = #line) {
        guard !condition else { return }
        printError("FUZZ INVARIANT BROKEN at \(file):\(line): \(message())\n")
        abort()
    }

    /// A problem of the harness itself (not of the code under test).
    public static func die(_ message: String) -> Never {
        printError("fuzz harness: \(message)\n")
        exit(70)
    }

    /// Forces the error's message to be built, as the CLI would print it: the describing code runs on hostile
    /// values too (cut strings, offsets, JSON paths).
    public static func describe(_ error: Error) {
        let text = String(describing: error)
        require(!text.isEmpty, "an error with an empty description: \(type(of: error))")
        if verbose { printError("refused: \(text)\n") }
    }

    /// With MASKSCOPE_FUZZ_VERBOSE set (Scripts/fuzz --explain), every input says whether it was accepted or why
    /// not: how to check that a seed reaches deep, or to read what a finding's input is.
    public static let verbose = ProcessInfo.processInfo.environment["MASKSCOPE_FUZZ_VERBOSE"] != nil

    /// Says, when verbose, that the input was accepted and what it held.
    public static func accepted(_ what: @autoclosure () -> String) {
        if verbose { printError("accepted: \(what())\n") }
    }

    /// Writes to standard error unbuffered (what is written just before an abort must not stay in a buffer).
    private static func printError(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            var done = 0
            while done < bytes.count {
                let n = write(2, bytes.baseAddress! + done, bytes.count - done)
                if n <= 0 { return }
                done += n
            }
        }
    }

    /// The repository root, from this file's place (Fuzz/Targets/FuzzSupport/FuzzSupport.swift).
    public static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
}
