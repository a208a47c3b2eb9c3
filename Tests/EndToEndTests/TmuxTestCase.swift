import Foundation
import TestSupport
import XCTest

/// What the end-to-end tests share: the real `maskscope` binary, a private tmux server, and ways to read
/// the pane and find the workbench's process. Holds no tests itself.
class TmuxTestCase: XCTestCase {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let tiny = repoRoot.appendingPathComponent("Tests/Fixtures/models/tiny").path

    /// The maskscope binary next to this test bundle.
    static var binary: URL { TestBinary.maskscope(near: Bundle(for: TmuxTestCase.self), repoRoot: repoRoot) }

    static var tmuxPath: String? {
        let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
        return (paths + ["/usr/bin", "/usr/local/bin"]).map { $0 + "/tmux" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    let session = "maskscope-e2e-\(getpid())"
    /// A tmux server per test: one that tearDown is still shutting down must not receive the next test's session.
    let socket = "maskscope-e2e-\(getpid())-\(UUID().uuidString.prefix(8))"
    /// A folder of the test's own (the autosave goes here, so no test reads or writes the user's).
    private(set) var scratch = URL(fileURLWithPath: "/nonexistent")

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("maskscope-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDown() {
        _ = try? tmux(["kill-server"])
        try? FileManager.default.removeItem(at: scratch)
    }

    /// Skips the test where tmux is missing.
    func requireTmux() throws {
        guard Self.tmuxPath != nil else {
            throw XCTSkip("tmux is not installed (Scripts/bootstrap installs it); the end-to-end workbench test needs it")
        }
    }

    /// Where the workbench under test autosaves (MASKSCOPE_AUTOSAVE).
    var autosave: URL { scratch.appendingPathComponent("state/autosave.json") }

    /// The environment every workbench run in a test gets: a 256-colour terminal and the test's own autosave.
    var environment: String { "TERM=xterm-256color MASKSCOPE_AUTOSAVE='\(autosave.path)'" }

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

    /// Starts `command` in a detached 80x24 pane.
    func start(_ command: String) throws {
        try tmux(["new-session", "-d", "-s", session, "-x", "80", "-y", "24", command])
    }

    func screen() throws -> String { try tmux(["capture-pane", "-p", "-t", session]) }

    /// One of the pane's tmux format variables (alternate_on, cursor_flag, keypad_cursor_flag...).
    func pane(_ variable: String) throws -> String {
        try tmux(["display-message", "-p", "-t", session, "#{\(variable)}"]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

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

    /// The shell line that prints whether line editing and echo are on ("icanon echo STTY-END" when they are).
    static let sttyReport = "stty -a | tr ' ;' '\\n\\n' | grep -E '^-?(icanon|echo)$' | tr '\\n' ' '; echo STTY-END"

    /// The pid of the running `maskscope` whose arguments include `marker` (read from /proc, so neither the
    /// shell that started it nor `timeout` can be mistaken for it).
    func workbenchPID(marker: String) throws -> pid_t {
        let entries = try FileManager.default.contentsOfDirectory(atPath: "/proc")
        for entry in entries {
            guard let pid = pid_t(entry),
                  let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { continue }
            let arguments = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            if arguments.first == Self.binary.path, arguments.contains(where: { $0.contains(marker) }) { return pid }
        }
        throw XCTSkip("no maskscope process with \(marker) in its arguments")
    }

    /// Asserts that the terminal is as the shell left it: main screen, cursor shown, cursor keys in normal
    /// mode (keypad transmit off), and — from `after`, the screen holding `sttyReport`'s line — line editing
    /// and echo on.
    func assertTerminalGivenBack(_ after: String, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertTrue(after.contains("icanon echo STTY-END"), "line editing and echo are back:\n\(after)", file: file, line: line)
        XCTAssertFalse(after.contains("Sentence"), "the workbench's screen is gone:\n\(after)", file: file, line: line)
        XCTAssertEqual(try pane("alternate_on"), "0", "the terminal left the alternate screen", file: file, line: line)
        XCTAssertEqual(try pane("cursor_flag"), "1", "the cursor is visible again", file: file, line: line)
        XCTAssertEqual(try pane("keypad_cursor_flag"), "0", "cursor keys are back in normal mode (rmkx)", file: file, line: line)
        XCTAssertEqual(try pane("keypad_flag"), "0", "the keypad is back in numeric mode (rmkx)", file: file, line: line)
    }
}
