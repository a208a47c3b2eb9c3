import XCTest
@testable import Workbench

/// Key sequences through the keymap and the reducer, asserting the state; no terminal, no model.
final class ReducerTests: XCTestCase, KeyDriving {
    let tiny = ModelInfo(name: "tiny", path: "tiny", layers: 2, heads: 4, maxTokens: 512)
    let other = ModelInfo(name: "other", path: "other", layers: 3, heads: 4, maxTokens: 512)

    func analysis(_ text: String, candidates: [String] = [" capital", " city"]) -> Analysis {
        let maskStart = text.unicodeScalars.count - (text.unicodeScalars.split(separator: "<").last.map { $0.count + 1 } ?? 0)
        let span = max(0, maskStart - 1)..<text.unicodeScalars.count
        return Analysis(
            text: text,
            tokens: [TokenRow(id: 0, byteLevel: "<s>", readable: "<s>", span: 0..<0, word: nil),
                     TokenRow(id: 4, byteLevel: "<mask>", readable: "<mask>", span: maskStart..<text.unicodeScalars.count, word: nil),
                     TokenRow(id: 2, byteLevel: "</s>", readable: "</s>", span: 0..<0, word: nil)],
            masks: [MaskRow(position: 1, span: span, candidates: candidates.enumerated().map {
                CandidateRow(id: 100 + $0.offset, text: $0.element, probability: 0.5 / Float($0.offset + 1))
            })])
    }

    func testTypingRunsInferenceForEachNewText() {
        var state = WorkbenchState(models: [tiny])
        let effects = press(type("a <mask>"), &state)
        XCTAssertEqual(state.text, "a <mask>")
        XCTAssertEqual(requests(effects).map(\.text).last, "a <mask>")
        XCTAssertEqual(requests(effects).map(\.id), Array(1...8))
        XCTAssertEqual(state.latestRequest[0], 8)
    }

    func testResultForAnOlderTextIsDropped() {
        var state = WorkbenchState(models: [tiny])
        let first = requests(press(type("x <mask>"), &state)).last!
        let second = requests(press(type("!"), &state)).last!
        _ = reduce(&state, .inferenceFinished(id: first.id, model: 0, analysis: analysis(first.text)))
        XCTAssertNil(state.analysis, "a stale result must not be shown")
        XCTAssertTrue(state.isUpdating(0))
        _ = reduce(&state, .inferenceFinished(id: second.id, model: 0, analysis: analysis(second.text)))
        XCTAssertEqual(state.analysis?.text, "x <mask>!")
        XCTAssertFalse(state.isUpdating(0))
    }

    func testLetterKeysTypeInTheEditorButCommandInPanes() {
        var state = WorkbenchState(models: [tiny])
        let effects = press([.char("q")], &state)
        XCTAssertEqual(state.text, "q")
        XCTAssertFalse(effects.contains(.quit))
        let quit = press([.tab, .char("q")], &state)
        XCTAssertEqual(state.text, "q")
        XCTAssertTrue(quit.contains(.quit))
        XCTAssertTrue(state.quitRequested)
    }

    func testCtrlCQuitsFromTheEditor() {
        var state = WorkbenchState(models: [tiny], text: "keep me")
        XCTAssertEqual(press([.ctrl("c")], &state), [.quit])
        XCTAssertEqual(state.text, "keep me")
    }

    func testCtrlOInsertsMaskAtTheCursor() {
        var state = WorkbenchState(models: [tiny], text: "Paris is the  of France.")
        press([.home] + Array(repeating: .right, count: 13) + [.ctrl("o")], &state)
        XCTAssertEqual(state.text, "Paris is the <mask> of France.")
    }

    func testAcceptingACandidatePutsItInPlaceOfTheMaskAndKeepsTheOldSentence() {
        var state = WorkbenchState(models: [tiny], text: "Paris is the <mask>")
        let request = requests(reduce(&state, .opened)).last!
        _ = reduce(&state, .inferenceFinished(id: request.id, model: 0, analysis: analysis(state.text)))
        let effects = press([.tab, .down, .enter], &state)
        XCTAssertEqual(state.text, "Paris is the city")
        XCTAssertEqual(state.history, ["Paris is the <mask>"])
        XCTAssertEqual(requests(effects).last?.text, "Paris is the city")
    }

    func testAcceptingWhileResultsAreStaleIsRefusedWithoutChangingText() {
        var state = WorkbenchState(models: [tiny], text: "a <mask>")
        let request = requests(reduce(&state, .opened)).last!
        _ = reduce(&state, .inferenceFinished(id: request.id, model: 0, analysis: analysis(state.text)))
        press(type("!"), &state)
        press([.tab, .enter], &state)
        XCTAssertEqual(state.text, "a <mask>!")
        XCTAssertEqual(state.notice?.isError, true)
    }

    func testHistoryUpAndDownComeBackToTheDraft() {
        var state = WorkbenchState(models: [tiny])
        press(type("one") + [.enter, .ctrl("u")] + type("two") + [.enter, .ctrl("u")] + type("draft"), &state)
        XCTAssertEqual(state.history, ["one", "two"])
        press([.up], &state)
        XCTAssertEqual(state.text, "two")
        press([.up, .up], &state)
        XCTAssertEqual(state.text, "one")
        press([.down, .down], &state)
        XCTAssertEqual(state.text, "draft")
    }

    func testWordJumpsAndWordDelete() {
        var state = WorkbenchState(models: [tiny], text: "Paris is the <mask>")
        press([.ctrlLeft], &state)
        XCTAssertEqual(state.editor.cursor, 13)
        press([.ctrlLeft, .ctrl("w")], &state)
        XCTAssertEqual(state.text, "Paris the <mask>")
        press([.home, .ctrlRight], &state)
        XCTAssertEqual(state.editor.cursor, 5)
    }

    func testSwitchingWithOneModelExplainsAndKeepsTheText() {
        var state = WorkbenchState(models: [tiny], text: "a <mask>")
        press([.function(2)], &state)
        XCTAssertEqual(state.activeModel, 0)
        XCTAssertEqual(state.notice?.isError, true)
        XCTAssertEqual(state.text, "a <mask>")
    }

    func testSwitchingModelsRunsTheOtherModelAndClampsLayer() {
        var state = WorkbenchState(models: [other, tiny], text: "a <mask>")
        state.layer = 2
        let effects = press([.function(2)], &state)
        XCTAssertEqual(state.activeModel, 1)
        XCTAssertEqual(state.layer, 1)
        XCTAssertEqual(requests(effects).map(\.model), [1])
    }

    func testCompareRunsBothModelsOnEveryEdit() {
        var state = WorkbenchState(models: [tiny, other], text: "a <mask>")
        press([.function(3)], &state)
        XCTAssertTrue(state.compare)
        XCTAssertEqual(Set(requests(press(type("!"), &state)).map(\.model)), [0, 1])
    }

    func testAttentionKeysStepLayerHeadAndCursorWithinBounds() {
        var state = WorkbenchState(models: [tiny], text: "a <mask>")
        let request = requests(reduce(&state, .opened)).last!
        _ = reduce(&state, .inferenceFinished(id: request.id, model: 0, analysis: analysis(state.text)))
        press([.tab, .tab, .tab], &state)
        XCTAssertEqual(state.focus, .attention)
        press([.char("]"), .char("]"), .char("]"), .char("."), .char("."), .down, .down, .down, .right], &state)
        XCTAssertEqual([state.layer, state.head, state.query, state.key], [1, 2, 2, 1])
        press([.char("o"), .up, .left, .enter], &state)
        XCTAssertEqual(state.attentionMode, .head)
        XCTAssertEqual([state.layer, state.head], [0, 1])
        press([.char("a")], &state)
        XCTAssertEqual(state.attentionMode, .mean)
    }

    func testTopKChangesRerunAndStayInRange() {
        var state = WorkbenchState(models: [tiny], text: "a <mask>")
        state.focus = .candidates
        XCTAssertEqual(requests(press([.char("+")], &state)).last?.topK, 6)
        press(Array(repeating: .char("-"), count: 10), &state)
        XCTAssertEqual(state.topK, 1)
    }

    func testHelpOpensAndAnyKeyClosesIt() {
        var state = WorkbenchState(models: [tiny])
        press([.function(1)], &state)
        XCTAssertTrue(state.showHelp)
        press([.down], &state)
        XCTAssertTrue(state.showHelp)
        press([.char("x")], &state)
        XCTAssertFalse(state.showHelp)
        XCTAssertEqual(state.text, "", "the key that closes help does not type")
    }

    func testThemeKeyCyclesThemes() {
        var state = WorkbenchState(models: [tiny], themes: ["dark", "light", "mono"], theme: "dark")
        press([.function(4), .function(4), .function(4)], &state)
        XCTAssertEqual(state.theme, "dark")
        press([.function(4)], &state)
        XCTAssertEqual(state.theme, "light")
    }

    func testSaveAsksForTheSessionPathOnceKnown() {
        var state = WorkbenchState(models: [tiny], text: "a <mask>")
        guard case .saveSession(let session, let path)? = press([.ctrl("s")], &state).first else { return XCTFail("no save") }
        XCTAssertNil(path)
        XCTAssertEqual(session.text, "a <mask>")
        _ = reduce(&state, .sessionSaved(path: "sessions/x.json"))
        guard case .saveSession(_, let again)? = press([.ctrl("s")], &state).first else { return XCTFail("no save") }
        XCTAssertEqual(again, "sessions/x.json")
    }

    func testPasteTurnsLineBreaksIntoSpaces() {
        var state = WorkbenchState(models: [tiny])
        _ = reduce(&state, .textInserted("Paris is\nthe <mask>\tof France."))
        XCTAssertEqual(state.text, "Paris is the <mask> of France.")
    }
}
