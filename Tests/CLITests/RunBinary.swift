import Dispatch
import Foundation
import TestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// What one run of the binary printed and how it exited.
struct BinaryRun {
    var status: Int32
    var stdout: String
    var stderr: String
    /// True when the run was killed for taking longer than its timeout.
    var timedOut = false
    /// The highest peak resident set size (VmHWM, in KiB) seen while the process ran, when it was watched.
    var peakKiB: Int?
}

/// The repository this test file is in.
let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

private final class BundleMarker {}

/// The built `maskscope` (the one next to the test bundle).
let maskscopeBinary = TestBinary.maskscope(near: Bundle(for: BundleMarker.self), repoRoot: repoRoot)

/// What the child's standard input is.
enum StandardInput {
    /// A pipe that these bytes are written to, then closed.
    case bytes(Data)
    /// An open file (or directory) handed over as it is.
    case handle(FileHandle)
    /// No standard input at all (file descriptor 0 closed).
    case closed
}

/// Runs the built `maskscope` as users do, with `environment` added to this process's, and waits for it.
func runMaskscope(_ arguments: [String], stdin: String? = nil, environment: [String: String] = [:],
                  timeout: TimeInterval = 120) throws -> BinaryRun {
    try runMaskscope(arguments, input: .bytes(Data((stdin ?? "").utf8)), environment: environment, timeout: timeout)
}

/// Runs the built `maskscope` with the given standard input; `closeStandardOutput` starts it with file descriptor
/// 1 closed. Output is read while the input is written, so neither side can fill a pipe and stall the other; a
/// run still going after `timeout` seconds is killed and marked `timedOut`.
/// With `watchMemory`, the process's peak resident set size is read from /proc every few milliseconds.
func runMaskscope(_ arguments: [String], input: StandardInput, environment: [String: String] = [:],
                  closeStandardOutput: Bool = false, watchMemory: Bool = false, timeout: TimeInterval = 120) throws -> BinaryRun {
    ignoreBrokenPipes
    let process = Process()
    var closing: [String] = []
    if case .closed = input { closing.append("0<&-") }
    if closeStandardOutput { closing.append("1>&-") }
    if closing.isEmpty {
        process.executableURL = maskscopeBinary
        process.arguments = arguments
    } else {
        // Process cannot start a child with a descriptor closed; the shell can.
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "exec \"$0\" \"$@\" " + closing.joined(separator: " "), maskscopeBinary.path] + arguments
    }
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let out = Pipe(), err = Pipe(), pipeIn = Pipe()
    process.standardOutput = out
    process.standardError = err
    switch input {
    case .bytes: process.standardInput = pipeIn
    case .handle(let handle): process.standardInput = handle
    case .closed: break
    }
    try process.run()
    let group = DispatchGroup()
    let outData = Collected(), errData = Collected()
    DispatchQueue.global().async(group: group) { outData.append(out.fileHandleForReading.readDataToEndOfFile()) }
    DispatchQueue.global().async(group: group) { errData.append(err.fileHandleForReading.readDataToEndOfFile()) }
    let peak = PeakMemory()
    if watchMemory {
        let pid = process.processIdentifier
        DispatchQueue.global().async(group: group) { [process] in
            while process.isRunning {
                peak.note(pid: pid)
                usleep(2_000)
            }
        }
    }
    if case .bytes(let data) = input {
        DispatchQueue.global().async(group: group) {
            // The child may exit without reading it all (a usage error): the write then fails, which is fine.
            try? pipeIn.fileHandleForWriting.write(contentsOf: data)
            try? pipeIn.fileHandleForWriting.close()
        }
    }
    var timedOut = false
    if group.wait(timeout: .now() + timeout) == .timedOut {
        timedOut = true
        kill(process.processIdentifier, SIGKILL)
        try? pipeIn.fileHandleForWriting.close()
        group.wait()
    }
    process.waitUntilExit()
    return BinaryRun(status: process.terminationStatus, stdout: outData.text, stderr: errData.text, timedOut: timedOut,
                     peakKiB: watchMemory ? peak.kib : nil)
}

/// The highest VmHWM seen in /proc/PID/status.
private final class PeakMemory: @unchecked Sendable {
    private let lock = NSLock()
    private var highest = 0

    var kib: Int { lock.withLock { highest } }

    func note(pid: Int32) {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let value = Int(line.split(whereSeparator: \.isWhitespace).dropFirst().first ?? "") else { return }
        lock.withLock { highest = max(highest, value) }
    }
}

/// Bytes gathered on one thread and read on another.
final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()

    func append(_ more: Data) { lock.withLock { data.append(more) } }
    var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }
}

/// A running `maskscope` fed through a pipe a piece at a time, whose output lines are read as they come.
final class LiveRun: @unchecked Sendable {
    let process = Process()
    private let input = Pipe(), output = Pipe(), errors = Pipe()
    private let lock = NSLock()
    private var pending = Data()
    private var lines: [String] = []
    private let arrived = DispatchSemaphore(value: 0)
    private let stderrText = Collected()
    private let stderrDone = DispatchSemaphore(value: 0)

    init(_ arguments: [String]) throws {
        ignoreBrokenPipes
        process.executableURL = maskscopeBinary
        process.arguments = arguments
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let reader = output.fileHandleForReading
        Thread.detachNewThread { [self] in
            while true {
                let chunk = reader.availableData
                if chunk.isEmpty { break }
                lock.withLock {
                    pending.append(chunk)
                    while let newline = pending.firstIndex(of: 10) {
                        lines.append(String(decoding: pending[pending.startIndex..<newline], as: UTF8.self))
                        pending.removeSubrange(pending.startIndex...newline)
                        arrived.signal()
                    }
                }
            }
        }
        let errorReader = errors.fileHandleForReading
        Thread.detachNewThread { [stderrText, stderrDone] in
            stderrText.append(errorReader.readDataToEndOfFile())
            stderrDone.signal()
        }
    }

    func send(_ text: String) throws { try input.fileHandleForWriting.write(contentsOf: Data(text.utf8)) }

    /// The next line of standard output, or nil when none came within `timeout` seconds.
    func nextLine(timeout: TimeInterval) -> String? {
        guard arrived.wait(timeout: .now() + timeout) == .success else { return nil }
        return lock.withLock { lines.removeFirst() }
    }

    /// Closes standard input and waits for the exit (killing the process after `timeout` seconds).
    func finish(timeout: TimeInterval = 60) -> (status: Int32, stderr: String) {
        try? input.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning, Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        _ = stderrDone.wait(timeout: .now() + 10)
        return (process.terminationStatus, stderrText.text)
    }
}

/// Writing to a pipe whose reader has exited must fail with EPIPE, not kill the test process.
private let ignoreBrokenPipes: Void = { _ = signal(SIGPIPE, SIG_IGN) }()

extension XCTestCase {
    /// A fresh empty folder, removed when the test ends.
    func scratch() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("maskscope-cli-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }
}
