import XCTest
@testable import TerminalUI
@testable import Workbench

/// Whole screens and single panes rendered headless, compared with golden text.
final class ScreenSnapshotTests: XCTestCase {
    let theme = Fixture.mono

    func screen(_ state: WorkbenchState, _ width: Int = 80, _ height: Int = 24) -> [String] {
        Screen.render(state, theme: theme, width: width, height: height).lines
    }

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
        for effect in reduce(&state, .compareToggled) {  // on again: the compared model runs
            guard case .runInference(let request) = effect else { continue }
            _ = reduce(&state, .inferenceFinished(id: request.id, model: request.model,
                                                  analysis: try Fixture.analysis(state.text, layers: 3, heads: 4, seed: request.model)))
        }
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

    func testDemoBannerStaysOnTopAboveTheEditor() throws {
        var state = try Fixture.state()
        state.banner = "Demo model: tiny, random weights; its predictions mean nothing. Get the real models with: maskscope pull roberta-base roberta-large distilroberta-base"
        let lines = screen(state)
        XCTAssertTrue(lines[0].contains("Demo model: tiny, random weights"), lines[0])
        XCTAssertTrue(lines[1].contains("maskscope pull roberta-base roberta-large distilroberta-base"), lines[1])
        XCTAssertTrue(lines[3].contains("Paris is the <mask> of France."), lines.joined(separator: "\n"))
        XCTAssertEqual(screen(try Fixture.state())[1], screen(try Fixture.state())[1], "without a banner nothing moves")
        XCTAssertTrue(screen(try Fixture.state())[1].contains("Paris is the <mask> of France."))
    }

    func testErrorIsShownAndTextKept() throws {
        var state = try Fixture.state("no mask here")
        state.results[0]?.error = "no <mask> yet: type <mask> (or press Ctrl-O) where the model should fill in a word"
        let lines = screen(state)
        XCTAssertTrue(lines[1].contains("no mask here"))
        XCTAssertTrue(lines[23].contains("no <mask> yet"))
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
