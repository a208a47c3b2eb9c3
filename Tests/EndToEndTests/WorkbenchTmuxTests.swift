import Foundation
import TestSupport
import XCTest

/// Drives the real `maskscope` binary in a tmux pane, as a user at an 80x24 terminal would.
final class WorkbenchTmuxTests: XCTestCase {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let tiny = repoRoot.appendingPathComponent("Tests/Fixtures/models/tiny").path

    /// The maskscope binary next to this test bundle.
    static var binary: URL { TestBinary.maskscope(near: Bundle(for: WorkbenchTmuxTests.self), repoRoot: repoRoot) }

    static var tmuxPath: String? {
        let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
        return (paths + ["/usr/bin", "/usr/local/bin"]).map { $0 + "/tmux" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    let session = "maskscope-e2e-\(getpid())"
    let socket = "maskscope-e2e-\(getpid())"

    /// Runs tmux and returns what it printed. posix_spawn and waitpid rather than Foundation's Process:
    /// the tmux server that `new-session` starts inherits Process's bookkeeping descriptors and would keep
    /// the call from ever finishing.
    @discardableResult
    func tmux(_ arguments: [String]) throws -> String {
        let tmuxPath = try XCTUnwrap(Self.tmuxPath)
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("\(socket)-\(UUID().uuidString).out")
        defer { try? FileManager.default.removeItem(at: output) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = ([tmuxPath, "-L", socket] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, tmuxPath, &actions, nil, argv, environ)
        guard spawned == 0 else { throw XCTSkip("cannot run tmux: \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1, errno == EINTR {}
        return (try? String(contentsOf: output, encoding: .utf8)) ?? ""
    }

    func screen() throws -> String { try tmux(["capture-pane", "-p", "-t", session]) }

    /// Polls the pane until `predicate` holds (or fails after `timeout` seconds, showing the screen).
    func waitFor(_ what: String, timeout: Double = 15, _ predicate: (String) -> Bool) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        var last = ""
        while Date() < deadline {
            last = try screen()
            if predicate(last) { return last }
            Thread.sleep(forTimeInterval: 0.1)
        }
        XCTFail("timed out waiting for \(what); the screen was:\n\(last)")
        throw XCTSkip("gave up")
    }

    override func tearDown() {
        _ = try? tmux(["kill-server"])
    }

    func testTypingShowsCandidatesAndQuittingRestoresTheTerminal() throws {
        guard Self.tmuxPath != nil else {
            throw XCTSkip("tmux is not installed (Scripts/bootstrap installs it); the end-to-end workbench test needs it")
        }
        // `timeout` ends the pane even if this test process dies before tearDown.
        let command = "TERM=xterm-256color timeout --foreground 120 '\(Self.binary.path)' --model '\(Self.tiny)' --text ''; echo MASKSCOPE-EXIT=$?; sleep 30"
        try tmux(["new-session", "-d", "-s", session, "-x", "80", "-y", "24", command])
        _ = try waitFor("the workbench to open") { $0.contains("Sentence") && $0.contains("Candidates") }
        XCTAssertEqual(try tmux(["display-message", "-p", "-t", session, "#{alternate_on}"]).trimmingCharacters(in: .whitespacesAndNewlines), "1")

        try tmux(["send-keys", "-t", session, "-l", "Today is a "])
        try tmux(["send-keys", "-t", session, "C-o"])
        try tmux(["send-keys", "-t", session, "-l", " day!"])
        let typed = try waitFor("candidates for the typed sentence") {
            $0.contains("› Today is a <mask> day!") && $0.contains("mask 1 · token 4") && $0.contains("␣day")
        }
        XCTAssertTrue(typed.contains("tiny · 8 tokens"), typed)

        try tmux(["send-keys", "-t", session, "Tab", "q"])
        let after = try waitFor("the program to exit") { $0.contains("MASKSCOPE-EXIT=") }
        XCTAssertTrue(after.contains("MASKSCOPE-EXIT=0"), after)
        XCTAssertFalse(after.contains("Sentence"), "the workbench's screen is gone after quitting:\n\(after)")
        XCTAssertEqual(try tmux(["display-message", "-p", "-t", session, "#{alternate_on}"]).trimmingCharacters(in: .whitespacesAndNewlines), "0",
                       "the terminal left the alternate screen")
        XCTAssertEqual(try tmux(["display-message", "-p", "-t", session, "#{cursor_flag}"]).trimmingCharacters(in: .whitespacesAndNewlines), "1",
                       "the cursor is visible again")
    }

    /// A crash (here SIGSEGV sent from outside) still gives the terminal back: main screen, cursor shown,
    /// line editing and echo on again, before the process dies of the signal.
    func testACrashGivesTheTerminalBack() throws {
        guard Self.tmuxPath != nil else {
            throw XCTSkip("tmux is not installed (Scripts/bootstrap installs it); the end-to-end workbench test needs it")
        }
        let marker = "crash-\(UUID().uuidString.prefix(8))"
        let trigger = FileManager.default.temporaryDirectory.appendingPathComponent(marker)
        defer { try? FileManager.default.removeItem(at: trigger) }
        // Anchored at the binary's path: the shell running this line (whose arguments name the marker too)
        // and `timeout` must not be hit.
        let command = "(while [ ! -e '\(trigger.path)' ]; do sleep 0.1; done; pkill -SEGV -f '^\(Self.binary.path) .*\(marker)') & "
            + "TERM=xterm-256color timeout --foreground 120 '\(Self.binary.path)' --model '\(Self.tiny)' --text '\(marker) <mask>'; "
            + "echo MASKSCOPE-EXIT=$?; stty -a | tr ' ;' '\\n\\n' | grep -E '^-?(icanon|echo)$' | tr '\\n' ' '; echo STTY-END; sleep 30"
        try tmux(["new-session", "-d", "-s", session, "-x", "80", "-y", "24", command])
        _ = try waitFor("the workbench to open") { $0.contains("Sentence") && $0.contains(marker) }
        XCTAssertTrue(FileManager.default.createFile(atPath: trigger.path, contents: Data()))
        let after = try waitFor("the crashed program's shell to report") { $0.contains("STTY-END") }
        XCTAssertTrue(after.contains("MASKSCOPE-EXIT=139"), "died of SIGSEGV (128 + 11):\n\(after)")
        XCTAssertTrue(after.contains("icanon echo STTY-END"), "line editing and echo are back:\n\(after)")
        XCTAssertFalse(after.contains("Sentence"), "the workbench's screen is gone:\n\(after)")
        XCTAssertEqual(try tmux(["display-message", "-p", "-t", session, "#{alternate_on}"]).trimmingCharacters(in: .whitespacesAndNewlines), "0")
        XCTAssertEqual(try tmux(["display-message", "-p", "-t", session, "#{cursor_flag}"]).trimmingCharacters(in: .whitespacesAndNewlines), "1")
    }

    /// No --model and an empty cache: the pocket pair (fixture copies here) opens, teacher active, under the
    /// two-row banner; F3 compares the teacher with the student at once.
    func testWithoutModelThePocketPairOpensUnderTheBanner() throws {
        guard Self.tmuxPath != nil else {
            throw XCTSkip("tmux is not installed (Scripts/bootstrap installs it); the end-to-end workbench test needs it")
        }
        let fm = FileManager.default
        let scratch = fm.temporaryDirectory.appendingPathComponent("maskscope-e2e-\(UUID().uuidString)")
        defer { try? fm.removeItem(at: scratch) }
        let cache = scratch.appendingPathComponent("hub"), pocket = scratch.appendingPathComponent("pocket")
        try fm.createDirectory(at: cache, withIntermediateDirectories: true)
        try fm.createDirectory(at: pocket, withIntermediateDirectories: true)
        let fixtures = Self.repoRoot.appendingPathComponent("Tests/Fixtures/models")
        try fm.copyItem(at: fixtures.appendingPathComponent("tiny"), to: pocket.appendingPathComponent("pocket-teacher"))
        try fm.copyItem(at: fixtures.appendingPathComponent("tiny-untied"), to: pocket.appendingPathComponent("pocket-student"))
        let command = "HF_HUB_CACHE='\(cache.path)' MASKSCOPE_POCKET_MODELS='\(pocket.path)' TERM=xterm-256color "
            + "timeout --foreground 120 '\(Self.binary.path)'; echo MASKSCOPE-EXIT=$?; sleep 30"
        try tmux(["new-session", "-d", "-s", session, "-x", "80", "-y", "24", command])
        let opened = try waitFor("the workbench to open on the pocket teacher") { $0.contains("pocket-teacher (1/2)") }
        let rows = opened.split(separator: "\n", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        XCTAssertTrue(rows[0].hasPrefix("Pocket models (not RoBERTa)"), opened)
        XCTAssertEqual(rows[1], "Real models: maskscope pull roberta-base roberta-large distilroberta-base", opened)
        XCTAssertTrue(rows[3].contains("Paris is the <mask> of France."), opened)

        try tmux(["send-keys", "-t", session, "F3"])
        _ = try waitFor("the student beside the teacher") { $0.contains("vs pocket-student") }
        try tmux(["send-keys", "-t", session, "C-c"])
        let after = try waitFor("the program to exit") { $0.contains("MASKSCOPE-EXIT=") }
        XCTAssertTrue(after.contains("MASKSCOPE-EXIT=0"), after)
    }

    func testBadModelIsOneLineErrorBeforeTheScreenOpens() throws {
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = ["--model", "/nonexistent/model"]
        let err = Pipe()
        process.standardError = err
        process.standardOutput = Pipe()
        try process.run()
        let data = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let message = String(decoding: data, as: UTF8.self)
        XCTAssertNotEqual(process.terminationStatus, 0)
        XCTAssertEqual(message.split(separator: "\n").count, 1, message)
        XCTAssertTrue(message.hasPrefix("error: "), message)
        XCTAssertTrue(message.contains("/nonexistent/model"), message)
    }
}
