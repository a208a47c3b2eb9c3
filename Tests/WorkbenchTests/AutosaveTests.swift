import FileSupport
import Foundation
import XCTest
@testable import Workbench

/// What the autosave holds, when it is written, and how it is offered back at the next start. No terminal.
final class AutosaveTests: XCTestCase, KeyDriving {
    let tiny = ModelInfo(name: "tiny", path: "Tests/Fixtures/models/tiny", layers: 2, heads: 4, maxTokens: 512)
    let utc = TimeZone(identifier: "UTC")!
    /// 2026-03-14 14:02:00 UTC.
    let twoPast = Date(timeIntervalSince1970: 1_773_496_920)
    var scratch = URL(fileURLWithPath: "/nonexistent")

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("maskscope-autosave-\(UUID().uuidString)")
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: scratch)
    }

    /// A state with work in every part a session holds.
    func workedState() -> WorkbenchState {
        var state = WorkbenchState(models: [tiny], text: "Today is a <mask> day!", themes: ["dark", "light"], theme: "light")
        state.history = ["Paris is the <mask> of France."]
        state.notes = "head 3 looks at the mask"
        state.topK = 8
        state.layer = 1
        state.head = 2
        state.focus = .attention
        state.attentionMode = .mean
        state.sessionPath = "sessions/today.json"
        return state
    }

    func testTheAutosaveHoldsEverythingASessionHoldsAndIsASessionFile() throws {
        let state = workedState()
        let autosave = Autosave(state, savedAt: twoPast)
        XCTAssertEqual(autosave.session, state.session)
        XCTAssertEqual(autosave.sessionPath, "sessions/today.json")
        let data = try autosave.encoded()
        XCTAssertTrue(data.suffix(2).elementsEqual(Data("}\n".utf8)), "the crash handler replaces the closing brace")
        XCTAssertEqual(try Autosave.decode(data), autosave)
        // --session opens an autosave file: the extra keys are ignored.
        let file = scratch.appendingPathComponent("autosave.json")
        try AtomicFile.write(data, to: file.path)
        XCTAssertEqual(try Session.load(from: file.path), state.session)
        XCTAssertEqual(try Autosave.load(from: file.path), autosave)
        XCTAssertNil(try Autosave.load(from: scratch.appendingPathComponent("none.json").path), "no autosave yet is not an error")
    }

    func testTheCrashEndingMakesValidJSONThatNamesTheSignal() throws {
        let data = try Autosave(workedState(), savedAt: twoPast).encoded()
        let crashed = data.dropLast(2) + Autosave.crashEnding(signal: "SIGBUS")
        let read = try Autosave.decode(Data(crashed))
        XCTAssertEqual(read.endedBy, "SIGBUS")
        XCTAssertEqual(read.session.text, "Today is a <mask> day!")
        XCTAssertEqual(Autosave.signalName(SIGTERM), "SIGTERM")
    }

    func testTheLocationFollowsXDGAndCanBeMovedOrTurnedOff() {
        XCTAssertEqual(Autosave.location(environment: [:], home: "/home/ada"), "/home/ada/.local/state/maskscope/autosave.json")
        XCTAssertEqual(Autosave.location(environment: ["XDG_STATE_HOME": "/xdg"], home: "/home/ada"), "/xdg/maskscope/autosave.json")
        XCTAssertEqual(Autosave.location(environment: ["XDG_STATE_HOME": "relative"], home: "/home/ada"),
                       "/home/ada/.local/state/maskscope/autosave.json", "XDG says a relative path is to be ignored")
        XCTAssertEqual(Autosave.location(environment: ["MASKSCOPE_AUTOSAVE": "/tmp/a.json", "XDG_STATE_HOME": "/xdg"], home: "/h"), "/tmp/a.json")
        XCTAssertNil(Autosave.location(environment: ["MASKSCOPE_AUTOSAVE": "off"], home: "/h"))
        XCTAssertEqual(Autosave.previousPath("/s/autosave.json"), "/s/autosave.previous.json")
    }

    func testOnlyWorkIsOfferedBackAndOnlyWhenNothingElseWasAskedFor() {
        let work = Autosave(workedState(), savedAt: twoPast)
        XCTAssertEqual(WorkbenchLaunch.restorable(work, options: LaunchOptions()), work)
        XCTAssertEqual(WorkbenchLaunch.restorable(work, options: LaunchOptions(models: ["roberta-base"])), work, "--model keeps the work")
        XCTAssertNil(WorkbenchLaunch.restorable(work, options: LaunchOptions(sessionFile: "s.json")), "--session says what to open")
        XCTAssertNil(WorkbenchLaunch.restorable(work, options: LaunchOptions(text: "")), "--text says what to open")
        XCTAssertNil(WorkbenchLaunch.restorable(nil, options: LaunchOptions()))

        let fresh = WorkbenchState(models: [tiny], text: WorkbenchLaunch.sampleText)
        XCTAssertNil(WorkbenchLaunch.restorable(Autosave(fresh, savedAt: twoPast), options: LaunchOptions()), "the sample sentence is no work")
        var blank = fresh
        blank.editor.setText("   ")
        blank.topK = 9
        XCTAssertNil(WorkbenchLaunch.restorable(Autosave(blank, savedAt: twoPast), options: LaunchOptions()), "nor an empty line")
        var noted = fresh
        noted.notes = "a note"
        XCTAssertNotNil(WorkbenchLaunch.restorable(Autosave(noted, savedAt: twoPast), options: LaunchOptions()), "a note is work")
    }

    func testRestoredWorkIsOnScreenWithANoticeAndCtrlZSwapsItForAFreshStart() {
        var autosave = Autosave(workedState(), savedAt: twoPast)
        autosave.endedBy = "SIGTERM"
        var state = WorkbenchLaunch.state(models: [tiny], options: LaunchOptions(), restoring: autosave, themes: ["dark", "light"],
                                          theme: "light", now: twoPast.addingTimeInterval(3600), timeZone: utc)
        XCTAssertEqual(state.text, "Today is a <mask> day!")
        XCTAssertEqual(state.history, ["Paris is the <mask> of France."])
        XCTAssertEqual(state.notes, "head 3 looks at the mask")
        XCTAssertEqual([state.topK, state.layer, state.head], [8, 1, 2])
        XCTAssertEqual(state.sessionPath, "sessions/today.json")
        XCTAssertEqual(state.notice?.text, "Restored your work from 14:02 (the workbench was ended by SIGTERM). Ctrl-Z: start fresh")

        let fresh = press([.ctrl("z")], &state)
        XCTAssertEqual(state.text, WorkbenchLaunch.sampleText)
        XCTAssertEqual(state.history, [])
        XCTAssertEqual(state.notes, "")
        XCTAssertNil(state.sessionPath)
        XCTAssertEqual(state.notice?.text, "Started fresh. Ctrl-Z: back to your work from 14:02")
        XCTAssertEqual(requests(fresh).map(\.text), [WorkbenchLaunch.sampleText], "the fresh sentence is run")

        press([.ctrl("z")], &state)
        XCTAssertEqual(state.text, "Today is a <mask> day!")
        XCTAssertEqual(state.notes, "head 3 looks at the mask")
        XCTAssertEqual(state.sessionPath, "sessions/today.json")

        // Once the work changes, Ctrl-Z would throw the change away, so it no longer swaps.
        press([.char("e"), .ctrl("a"), .char("X")], &state)
        XCTAssertNil(state.restoreSwap)
        XCTAssertNil(state.notice, "the restore notice, no longer true, is gone")
        press([.ctrl("z")], &state)
        XCTAssertEqual(state.text, "XToday is a <mask> day!")
        XCTAssertEqual(state.notice?.isError, false)
    }

    func testTheNoticeSaysHowTheLastWorkbenchEnded() {
        var autosave = Autosave(workedState(), savedAt: twoPast)
        let now = twoPast.addingTimeInterval(60)
        autosave.endedBy = Autosave.quit
        XCTAssertEqual(autosave.restoredNotice(now: now, timeZone: utc), "Restored your work from 14:02. Ctrl-Z: start fresh")
        autosave.endedBy = nil
        XCTAssertEqual(autosave.restoredNotice(now: now, timeZone: utc),
                       "Restored your work from 14:02 (the workbench did not get to quit). Ctrl-Z: start fresh")
        XCTAssertEqual(autosave.restoredNotice(now: twoPast.addingTimeInterval(3 * 86400), timeZone: utc).prefix(38),
                       "Restored your work from 14 Mar 14:02 (")
    }

    func testTheAutosaverWritesWhenEditsRestAtTheLatestEveryTenSecondsAndAtTheEnd() throws {
        var now = twoPast
        var published: [Data] = []
        let path = scratch.appendingPathComponent("state/autosave.json").path
        let saver = Autosaver(path: path, clock: { now }, published: { published.append($0) })
        var state = WorkbenchState(models: [tiny], text: WorkbenchLaunch.sampleText)
        saver.observe(state)
        XCTAssertEqual(published.count, 1, "the crash handler has the start at once")
        now += 5
        XCTAssertNil(saver.tick())
        XCTAssertFalse(FileManager.default.fileExists(atPath: path), "opening the workbench does not replace the last autosave")

        _ = reduce(&state, .textInserted("!"))
        saver.observe(state)
        XCTAssertEqual(published.count, 2)
        XCTAssertEqual(try Autosave.decode(published[1]).session.text, WorkbenchLaunch.sampleText + "!")
        _ = reduce(&state, .inferenceFinished(id: 99, model: 0, analysis: Analysis(text: "x", tokens: [])))
        saver.observe(state)
        XCTAssertEqual(published.count, 2, "only a change of the content is encoded again")
        now += 1
        _ = saver.tick()
        XCTAssertFalse(FileManager.default.fileExists(atPath: path), "not while the edit is younger than the quiet period")
        now += 1.5
        _ = saver.tick()
        XCTAssertEqual(try Autosave.load(from: path)?.session.text, WorkbenchLaunch.sampleText + "!")
        XCTAssertNil(try Autosave.load(from: path)?.endedBy, "written while running")

        // Typing without a pause is saved at the latest ten seconds after the first unsaved key.
        for _ in 0..<12 {
            now += 1
            _ = reduce(&state, .textInserted("a"))
            saver.observe(state)
            _ = saver.tick()
        }
        let during = try XCTUnwrap(try Autosave.load(from: path)).session.text
        XCTAssertTrue(during.hasSuffix(String(repeating: "a", count: 10)), during)

        saver.finish(endedBy: "SIGHUP")
        let last = try XCTUnwrap(try Autosave.load(from: path))
        XCTAssertEqual(last.session.text, state.text)
        XCTAssertEqual(last.endedBy, "SIGHUP")
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600, "what the user typed is theirs alone")
    }

    func testAFailingAutosaveIsSaidOnceWithTheReason() throws {
        let blocker = scratch.appendingPathComponent("file")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        try Data().write(to: blocker)
        var now = twoPast
        let saver = Autosaver(path: blocker.appendingPathComponent("autosave.json").path, clock: { now })
        var state = WorkbenchState(models: [tiny])
        saver.observe(state)
        _ = reduce(&state, .textInserted("a"))
        saver.observe(state)
        now += 3
        let message = try XCTUnwrap(saver.tick())
        XCTAssertTrue(message.contains("is a file, not a folder"), message)
        _ = reduce(&state, .textInserted("b"))
        saver.observe(state)
        now += 3
        XCTAssertNil(saver.tick(), "the same failure is not said at every keystroke")
    }

    func testTemporaryFilesOfProcessesThatDiedMidWriteAreRemovedAtStart() throws {
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let path = scratch.appendingPathComponent("autosave.json").path
        var dead: pid_t = 4_000_000
        while kill(dead, 0) == 0 || errno != ESRCH { dead -= 1 }
        let names = [".autosave.json.\(dead).tmp", ".autosave.json.\(dead).crash", ".autosave.json.\(getpid()).tmp", ".other.json.\(dead).tmp"]
        for name in names { try Data().write(to: scratch.appendingPathComponent(name)) }
        Autosaver.removeStaleTemporaries(of: path)
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: scratch.path)),
                       [".autosave.json.\(getpid()).tmp", ".other.json.\(dead).tmp"], "a live writer's file and other files stay")
    }

    func testTheAutosaveFoundAtStartIsKeptOnlyWhenItHoldsWork() throws {
        let path = scratch.appendingPathComponent("autosave.json").path
        let previous = Autosave.previousPath(path)
        Autosaver.keepPrevious(Autosave(WorkbenchState(models: [tiny], text: WorkbenchLaunch.sampleText), savedAt: twoPast), of: path)
        XCTAssertFalse(FileManager.default.fileExists(atPath: previous))
        let work = Autosave(workedState(), savedAt: twoPast)
        Autosaver.keepPrevious(work, of: path)
        XCTAssertEqual(try Autosave.load(from: previous), work)
    }
}
