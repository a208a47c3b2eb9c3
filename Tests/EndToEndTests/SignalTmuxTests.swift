import Foundation
import XCTest

/// Every signal that can end the workbench gives the terminal back and keeps the typed sentence: the real
/// binary in tmux gets the signal from outside, the shell then reports the exit status and the terminal's
/// modes, and a second start (no --text, no --session) shows the sentence again with the restore notice.
final class SignalTmuxTests: TmuxTestCase {
    /// Requests to end (handled by the loop: autosave, endwin, then death by the same signal).
    func testSIGTERMKeepsTheSentenceAndGivesTheTerminalBack() throws { try endWith(SIGTERM, "TERM") }
    func testSIGHUPKeepsTheSentenceAndGivesTheTerminalBack() throws { try endWith(SIGHUP, "HUP") }
    func testSIGINTKeepsTheSentenceAndGivesTheTerminalBack() throws { try endWith(SIGINT, "INT") }

    /// Immediate ends (the handler: terminal bytes, the pre-serialised autosave, then the default action).
    func testSIGQUITKeepsTheSentenceAndGivesTheTerminalBack() throws { try endWith(SIGQUIT, "QUIT") }
    func testSIGUSR1KeepsTheSentenceAndGivesTheTerminalBack() throws { try endWith(SIGUSR1, "USR1") }
    func testSIGSEGVKeepsTheSentenceAndGivesTheTerminalBack() throws { try endWith(SIGSEGV, "SEGV") }
    func testSIGBUSKeepsTheSentenceAndGivesTheTerminalBack() throws { try endWith(SIGBUS, "BUS") }

    /// With SWIFT_BACKTRACE=interactive=no the runtime's backtracer runs after the terminal is given back:
    /// its backtrace lands on the ordinary screen and nothing waits for a key.
    func testANonInteractiveSwiftBacktraceFollowsTheRestoredTerminal() throws {
        try requireTmux()
        // Under a sanitizer (Scripts/sanitize) the crash report is the sanitizer's, not the Swift runtime's.
        if let sanitizer = ["__asan_init": "AddressSanitizer", "__tsan_init": "ThreadSanitizer"].first(where: { dlsym(nil, $0.key) != nil })?.value {
            throw XCTSkip("built with \(sanitizer): its own handler reports the crash instead of the Swift backtracer")
        }
        let marker = "bt\(UUID().uuidString.prefix(6))"
        try start("ulimit -c 0; SWIFT_BACKTRACE=interactive=no \(environment) timeout --foreground 120 '\(Self.binary.path)' "
                  + "--model '\(Self.tiny)' --text '\(marker) <mask>'; echo MASKSCOPE-EXIT=$?; \(Self.sttyReport); sleep 30")
        _ = try waitFor("the workbench to open") { $0.contains("Sentence") && $0.contains(marker) }
        XCTAssertEqual(kill(try workbenchPID(marker: marker), SIGSEGV), 0)
        let after = try waitFor("the shell to report after the backtrace", timeout: 60) { $0.contains("STTY-END") }
        XCTAssertTrue(after.contains("MASKSCOPE-EXIT=139"), after)
        try assertTerminalGivenBack(after)
        let history = try tmux(["capture-pane", "-p", "-S", "-", "-t", session])
        XCTAssertTrue(history.contains("Program crashed"), "the backtrace is on the main screen:\n\(history)")
        XCTAssertTrue(history.contains("Thread 0 \"maskscope\" crashed"), history)
    }

    /// Types a sentence, sends `signal` to the workbench, checks the exit status (128 + the signal: it died of
    /// it), the terminal's modes and the autosave file, then starts again and expects the sentence back.
    func endWith(_ signal: Int32, _ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        try requireTmux()
        let marker = "sig\(name)\(UUID().uuidString.prefix(6))"
        let next = scratch.appendingPathComponent("next")
        let run = "\(environment) timeout --foreground 120 '\(Self.binary.path)'"
        // ulimit: SIGQUIT's default action dumps core; the test wants the exit status, not a core file.
        let command = "ulimit -c 0; \(run) --model '\(Self.tiny)' --text '\(marker)'; echo MASKSCOPE-EXIT=$?; \(Self.sttyReport); "
            + "while [ ! -e '\(next.path)' ]; do sleep 0.1; done; clear; \(run); echo SECOND-EXIT=$?; sleep 30"
        try start(command)
        _ = try waitFor("the workbench to open") { $0.contains("Sentence") && $0.contains(marker) }
        // The cursor starts at the end of --text.
        try tmux(["send-keys", "-t", session, "-l", " is a "])
        try tmux(["send-keys", "-t", session, "C-o"])
        try tmux(["send-keys", "-t", session, "-l", " test."])
        let sentence = "\(marker) is a <mask> test."
        _ = try waitFor("the typed sentence and its candidates") { $0.contains("› " + sentence) && $0.contains("mask 1") }

        XCTAssertEqual(kill(try workbenchPID(marker: marker), signal), 0, file: file, line: line)
        let after = try waitFor("the shell to report after SIG\(name)") { $0.contains("STTY-END") }
        XCTAssertTrue(after.contains("MASKSCOPE-EXIT=\(128 + signal)"), "died of SIG\(name) (128 + \(signal)):\n\(after)", file: file, line: line)
        try assertTerminalGivenBack(after, file: file, line: line)
        let saved = try String(contentsOf: autosave, encoding: .utf8)
        XCTAssertTrue(saved.contains(sentence), "the autosave holds the sentence:\n\(saved)", file: file, line: line)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: autosave.deletingLastPathComponent().path).filter { $0.hasPrefix(".") }
        XCTAssertEqual(leftovers, [],
                       "no temporary file is left beside the autosave", file: file, line: line)

        XCTAssertTrue(FileManager.default.createFile(atPath: next.path, contents: Data()))
        let again = try waitFor("the second start to offer the sentence back") { $0.contains("› " + sentence) && $0.contains("Ctrl-Z") }
        XCTAssertTrue(again.contains("tiny"), "the autosave's model opened again:\n\(again)", file: file, line: line)
        try tmux(["send-keys", "-t", session, "C-c"])
        let end = try waitFor("the second run to exit") { $0.contains("SECOND-EXIT=") }
        XCTAssertTrue(end.contains("SECOND-EXIT=0"), end, file: file, line: line)
    }
}
