import XCTest
@testable import TerminalUI
@testable import Workbench

/// Whole screens and single panes rendered headless, compared with golden text.
final class ScreenSnapshotTests: XCTestCase {
    let theme = Fixture.mono

    func testEditorAndCandidatesAt80x24() throws {
        assertSnapshot(screen(try Fixture.state()), named: "screen-80x24-editor")
    }

    func testTokensPaneShowsTheSelectedWordsMerges() throws {
        var state = try Fixture.state(focus: .tokens)
        state.selectedToken = 6
        assertSnapshot(screen(state), named: "screen-80x24-tokens")
    }

    func testAttentionHeadHeatmapAt80x24() throws {
        var state = try Fixture.state(focus: .attention)
        state.layer = 1
        state.head = 2
        state.query = 4
        state.key = 3
        assertSnapshot(screen(state), named: "screen-80x24-attention")
    }

    func testAttentionOverviewAt80x24() throws {
        var state = try Fixture.state(focus: .attention)
        state.attentionMode = .overview
        assertSnapshot(screen(state), named: "screen-80x24-overview")
    }

    func testFortyTokensScrollToTheCursorAt80x24() throws {
        let text = "In the beginning of the long story, the old <mask> walked slowly along the river while many birds sang in the tall trees."
        var state = try Fixture.state(text, focus: .attention)
        state.query = 30
        state.key = 35
        state.zoom = 1
        let lines = screen(state)
        XCTAssertGreaterThanOrEqual(state.analysis?.tokens.count ?? 0, 30)
        assertSnapshot(lines, named: "screen-80x24-attention-long")
    }

    func testCompareShowsRankChangesAndDeltas() throws {
        var state = try Fixture.state(models: [Fixture.tiny, Fixture.untied], focus: .candidates)
        state.compare = true
        _ = reduce(&state, .compareToggled)  // off
        // On again: both models run (the first again, for its logits), then the measures between them.
        try Fixture.settle(reduce(&state, .compareToggled), &state)
        XCTAssertNotNil(state.measures)
        assertSnapshot(screen(state), named: "screen-80x24-compare")
    }

    func testTwoMasksAreListedOneUnderTheOther() throws {
        var state = try Fixture.state("The <mask> sat on the <mask>.", focus: .candidates, topK: 3)
        state.selectedMask = 1
        assertSnapshot(screen(state), named: "screen-80x24-two-masks")
    }

    func testHelpOverlayListsKeys() throws {
        var state = try Fixture.state()
        state.showHelp = true
        assertSnapshot(screen(state), named: "screen-80x24-help")
    }

    func testLargeTerminalShowsEveryPane() throws {
        var state = try Fixture.state(focus: .attention)
        state.query = 4
        let lines = screen(state, 160, 48)
        for title in ["Sentence", "Candidates", "Tokens", "Attention"] {
            XCTAssertTrue(lines.contains { $0.contains(title) }, "\(title) missing")
        }
        assertSnapshot(lines, named: "screen-160x48")
    }

    func testTooSmallTerminalSaysHowBigItMustBe() throws {
        let lines = screen(try Fixture.state(), 50, 12)
        XCTAssertTrue(lines.joined(separator: " ").contains("terminal too small: need at least 60x16"), lines.joined(separator: "\n"))
    }

    func testPocketBannerTakesTwoRowsOnTopWithThePullCommandWhole() throws {
        var state = try Fixture.state()
        // As PocketModels.banner words it (TerminalUI does not see ModelStore): the description, then the command.
        state.banner = "Pocket models (not RoBERTa): small teacher + student on WordNet and open text.\n"
            + "Real models: maskscope pull roberta-base roberta-large distilroberta-base"
        let lines = screen(state)
        XCTAssertEqual(lines[0], " Pocket models (not RoBERTa): small teacher + student on WordNet and open text.")
        XCTAssertEqual(lines[1].trimmingCharacters(in: .whitespaces), "Real models: maskscope pull roberta-base roberta-large distilroberta-base")
        XCTAssertTrue(lines[3].contains("Paris is the <mask> of France."), lines.joined(separator: "\n"))
        // Wide, it still breaks before the command; narrow, the description wraps at words and the rows stop at 3.
        XCTAssertTrue(screen(state, 160, 48)[1].hasPrefix(" Real models: maskscope pull"))
        let narrow = screen(state, 60, 16)
        XCTAssertEqual(narrow[0].trimmingCharacters(in: .whitespaces), "Pocket models (not RoBERTa): small teacher + student on")
        XCTAssertEqual(narrow[1].trimmingCharacters(in: .whitespaces), "WordNet and open text.")
        XCTAssertEqual(narrow[2].trimmingCharacters(in: .whitespaces), "Real models: maskscope pull roberta-base roberta-large")
        XCTAssertTrue(narrow[4].contains("Paris is the"), narrow.joined(separator: "\n"))
        XCTAssertTrue(screen(try Fixture.state())[1].contains("Paris is the <mask> of France."), "without a banner nothing moves")
    }

    func testBannerRowsFollowTheWordWrapNotTheCharacterCount() throws {
        // 122 characters fit two rows of 78 by count, but three words of 40 need a row each.
        var state = try Fixture.state()
        let words = ["a", "b", "c"].map { String(repeating: $0, count: 40) }
        state.banner = words.joined(separator: " ")
        let lines = screen(state)
        XCTAssertEqual(lines[0...2].map { $0.trimmingCharacters(in: .whitespaces) }, words)
        XCTAssertTrue(lines[4].contains("Paris is the"), lines.joined(separator: "\n"))
    }

    func testErrorIsShownAndTextKept() throws {
        var state = try Fixture.state("no mask here")
        state.results[0]?.error = "no <mask> yet: type <mask> (or press Ctrl-O) where the model should fill in a word"
        let lines = screen(state)
        XCTAssertTrue(lines[1].contains("no mask here"))
        // Too long for the status row at 80 columns: shown whole, word-wrapped, in the rows above it.
        let message = "no <mask> yet: type <mask> (or press Ctrl-O) where the model should fill in a word"
        let above = lines[20...22].map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.joined(separator: " ")
        XCTAssertTrue(above.contains(message), lines.joined(separator: "\n"))
        XCTAssertTrue(lines[23].contains("│ ↑"), lines[23])
        // Where it fits, it stays on the status row.
        XCTAssertTrue(screen(state, 160, 40)[39].contains(message))
    }

    /// While the run for an edited text is on its way, the last error stays where it was: the panes do not
    /// move up and down with every keystroke.
    func testALongErrorKeepsItsRowsWhileTheNextRunIsOnItsWay() throws {
        var state = try Fixture.state("no mask here")
        state.results[0]?.error = "no <mask> yet: type <mask> (or press Ctrl-O) where the model should fill in a word"
        let before = screen(state)
        _ = reduce(&state, .textInserted("!"))
        XCTAssertTrue(state.isUpdating(0))
        let during = screen(state)
        XCTAssertEqual(before[21...22], during[21...22], "the message rows stay")
        XCTAssertTrue(during[23].contains("running…"), during[23])
        XCTAssertEqual(before.firstIndex { $0.contains("[Candidates]") }, during.firstIndex { $0.contains("[Candidates]") })
    }

    func testCandidatesPaneAlone() throws {
        var buffer = CellBuffer(width: 60, height: 8)
        CandidatesPane.render(try Fixture.state(focus: .candidates), theme: theme, in: buffer.bounds, into: &buffer)
        assertSnapshot(buffer.lines, named: "pane-candidates-60x8")
    }

    func testEveryScreenSizeFromMinimumUpRendersWithoutOverflow() throws {
        var state = try Fixture.state(focus: .attention)
        for mode in AttentionMode.allCases {
            state.attentionMode = mode
            for (w, h) in [(60, 16), (61, 17), (79, 23), (100, 30), (119, 35), (120, 36), (200, 60)] {
                let buffer = Screen.render(state, theme: theme, width: w, height: h)
                XCTAssertEqual(buffer.lines.count, h)
                XCTAssertTrue(buffer.lines.allSatisfy { columnWidth($0) <= w })
            }
        }
    }
}

final class EditorLayoutTests: XCTestCase {
    func places(_ text: String, width: Int) -> [(row: Int, column: Int)] {
        EditorPane.layout(Array(text.unicodeScalars), width: width)
    }

    /// Rows of the text as laid out, trailing spaces dropped.
    func rows(_ text: String, width: Int) -> [String] {
        let scalars = Array(text.unicodeScalars), p = places(text, width: width)
        var rows = [String](repeating: "", count: (p.last?.row ?? 0) + 1)
        for (i, s) in scalars.enumerated() { rows[p[i].row].unicodeScalars.append(s) }
        return rows.map { String($0.reversed().drop(while: { $0 == " " }).reversed()) }
    }

    func testWrapsAtWordsNotInsideThem() {
        XCTAssertEqual(rows("the old <mask> walked along the river", width: 16), ["the old <mask>", "walked along the", "river"])
    }

    func testAWordWiderThanTheRowIsBrokenBetweenCharacters() {
        XCTAssertEqual(rows("a supercalifragilistic word", width: 8), ["a", "supercal", "ifragili", "stic", "word"])
    }

    func testCombiningMarksStayWithTheirBaseCharacter() {
        let p = places("abce\u{301}x", width: 4)
        XCTAssertEqual(p[4].row, p[3].row, "the accent at the row's edge goes with its e")
        XCTAssertEqual(p[4].column, p[3].column)
        XCTAssertEqual(p[5].row, 1)
        let flag = places("🏳\u{FE0F} a", width: 10)
        XCTAssertEqual(flag[1].column, 0, "a variation selector after a wide character: on the cell where it starts")
        XCTAssertEqual(flag[2].column, 2)
    }

    func testCursorAfterTheLastCharacterAndAfterAHangingSpace() {
        XCTAssertEqual(places("abcd", width: 4).last?.row, 1, "a full row sends the end to the next row")
        let p = places("abc def", width: 4)
        XCTAssertEqual(p[3].row, 0, "the space hangs at the end of the first row")
        XCTAssertEqual(p[4].row, 1)
        XCTAssertEqual(p[4].column, 0)
    }
}
