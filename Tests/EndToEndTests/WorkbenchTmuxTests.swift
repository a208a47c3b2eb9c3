import Foundation
import TestSupport
import XCTest

/// Drives the real `maskscope` binary in a tmux pane, as a user at an 80x24 terminal would.
final class WorkbenchTmuxTests: TmuxTestCase {
    func testTypingShowsCandidatesAndQuittingRestoresTheTerminal() throws {
        try requireTmux()
        // `timeout` ends the pane even if this test process dies before tearDown.
        let command = "\(environment) timeout --foreground 120 '\(Self.binary.path)' --model '\(Self.tiny)' --text ''; echo MASKSCOPE-EXIT=$?; sleep 30"
        try start(command)
        _ = try waitFor("the workbench to open") { $0.contains("Sentence") && $0.contains("Candidates") }
        XCTAssertEqual(try pane("alternate_on"), "1")

        try tmux(["send-keys", "-t", session, "-l", "Today is a "])
        try tmux(["send-keys", "-t", session, "C-o"])
        try tmux(["send-keys", "-t", session, "-l", " day!"])
        // The tokens pane follows each key at once; the status line names the token count of the run whose answer
        // is shown, so wait for the run of the whole sentence (a run for "Today is a <mask>", 6 tokens, may still be
        // on screen for a moment).
        let typed = try waitFor("candidates for the typed sentence") {
            $0.contains("› Today is a <mask> day!") && $0.contains("mask 1 · token 4") && $0.contains("␣day")
                && $0.contains("tiny · 8 tokens") && !$0.contains("running…")
        }
        XCTAssertTrue(typed.contains("tiny · 8 tokens"), typed)

        try tmux(["send-keys", "-t", session, "Tab", "q"])
        let after = try waitFor("the program to exit") { $0.contains("MASKSCOPE-EXIT=") }
        XCTAssertTrue(after.contains("MASKSCOPE-EXIT=0"), after)
        XCTAssertFalse(after.contains("Sentence"), "the workbench's screen is gone after quitting:\n\(after)")
        XCTAssertEqual(try pane("alternate_on"), "0", "the terminal left the alternate screen")
        XCTAssertEqual(try pane("cursor_flag"), "1", "the cursor is visible again")
        XCTAssertEqual(try pane("keypad_cursor_flag"), "0", "cursor keys are back in normal mode")
    }

    /// No --model and an empty cache: the pocket pair (fixture copies here) opens, teacher active, under the
    /// two-row banner; F3 compares the teacher with the student at once, with the measures between them, and F7
    /// scores the sentence under both.
    func testWithoutModelThePocketPairOpensUnderTheBanner() throws {
        try requireTmux()
        let fm = FileManager.default
        let cache = scratch.appendingPathComponent("hub"), pocket = scratch.appendingPathComponent("pocket")
        try fm.createDirectory(at: cache, withIntermediateDirectories: true)
        try fm.createDirectory(at: pocket, withIntermediateDirectories: true)
        let fixtures = Self.repoRoot.appendingPathComponent("Tests/Fixtures/models")
        try fm.copyItem(at: fixtures.appendingPathComponent("tiny"), to: pocket.appendingPathComponent("pocket-teacher"))
        try fm.copyItem(at: fixtures.appendingPathComponent("tiny-untied"), to: pocket.appendingPathComponent("pocket-student"))
        let command = "HF_HUB_CACHE='\(cache.path)' MASKSCOPE_POCKET_MODELS='\(pocket.path)' \(environment) "
            + "timeout --foreground 120 '\(Self.binary.path)'; echo MASKSCOPE-EXIT=$?; sleep 30"
        try start(command)
        let opened = try waitFor("the workbench to open on the pocket teacher") { $0.contains("pocket-teacher (1/2)") }
        let rows = opened.split(separator: "\n", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        XCTAssertTrue(rows[0].hasPrefix("Pocket models (not RoBERTa)"), opened)
        XCTAssertEqual(rows[1], "Real models: maskscope pull roberta-base roberta-large distilroberta-base", opened)
        XCTAssertTrue(rows[3].contains("Paris is the <mask> of France."), opened)

        try tmux(["send-keys", "-t", session, "F3"])
        _ = try waitFor("the student beside the teacher") { $0.contains("vs pocket-student") }
        // The measures between the two whole distributions, under the mask's lists (issue #10).
        _ = try waitFor("the measures under the mask") { $0.contains("pocket-student (student)") && $0.contains("top-5 overlap") }
        // F7: the pseudo-log-likelihood strip, both models scored on the real scheduler's thread.
        try tmux(["send-keys", "-t", session, "F7"])
        let scored = try waitFor("the pseudo-log-likelihood strip") {
            $0.contains("pseudo-perplexity pocket-teacher") && !$0.contains("scoring…") && !$0.contains("–")
        }
        XCTAssertTrue(scored.contains("<mask> ← pocket-teacher's top-1: Paris is the"), scored)
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
