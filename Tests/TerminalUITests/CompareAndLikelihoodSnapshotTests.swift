import Foundation
import XCTest
@testable import TerminalUI
@testable import Workbench

/// Issue #10 on screen: the measures under each mask in compare mode, and the pseudo-log-likelihood strip (F7),
/// rendered headless at 80x24 and larger, in every theme.
final class CompareAndLikelihoodSnapshotTests: XCTestCase {
    let themes = Theme.loadAll(from: Fixture.themesDirectory).themes

    /// The tiny model compared with tiny-untied on `text`, every answer in.
    func compared(_ text: String = "Paris is the <mask> of France.", focus: Pane = .candidates, topK: Int = 5) throws -> WorkbenchState {
        var state = try Fixture.state(text, models: [Fixture.tiny, Fixture.untied], focus: focus, topK: topK)
        try Fixture.settle(reduce(&state, .compareToggled), &state)
        return state
    }

    /// `state` with the strip opened (F7) and every score in.
    func scored(_ state: WorkbenchState) throws -> WorkbenchState {
        var state = state
        try Fixture.settle(reduce(&state, .likelihoodToggled), &state)
        return state
    }

    func testTwoMasksEachWithItsMeasuresAt80x24() throws {
        let state = try compared("The <mask> sat on the <mask>.", topK: 3)
        XCTAssertEqual(state.measures?.masks.count, 2)
        let lines = screen(state)
        assertSnapshot(lines, named: "screen-80x24-compare-two-masks")
        XCTAssertEqual(lines.filter { $0.contains("KL ") && $0.contains("JS ") && $0.contains("ρ ") }.count, 2, lines.joined(separator: "\n"))
        XCTAssertTrue(lines.contains { $0.contains("tiny (teacher)") && $0.contains("tiny-untied (student)") })
        XCTAssertTrue(lines.contains { $0.contains("over the whole vocabulary (1,000 ids)") })
    }

    func testMeasuresSayWhenTheVocabulariesDifferAndHowMasksWereMatched() throws {
        var state = try compared("The <mask> sat on the <mask>.", topK: 3)
        let m = MaskMeasures(kl: 1.25, js: 0.2, top1Agree: false, overlap: 1.0 / 3, k: 3, spearman: nil, compared: 614)
        let shown = try XCTUnwrap(state.measures)
        state.comparison = ComparisonResult(id: shown.id, teacher: 0, student: 1, teacherRun: shown.teacherRun, studentRun: shown.studentRun,
                                            masks: [m], teacherMasks: 2, studentMasks: 1, sharedVocabulary: false, compared: 614)
        let text = screen(state).joined(separator: "\n")
        XCTAssertTrue(text.contains("vocabularies differ: compared over 614 shared token strings"), text)
        XCTAssertTrue(text.contains("KL 1.2500 · JS 0.2000 · top-1 differs · top-3 overlap 1/3 · ρ n/a"), text)
        XCTAssertTrue(text.contains("no mask 2 in the student's tokenization (masks are matched in order)"), text)
        // Narrower (the large layout's left column): the short forms.
        let narrow = screen(state, 120, 40).joined(separator: "\n")
        XCTAssertTrue(narrow.contains("vocabularies differ: over 614 shared token strings"), narrow)
        XCTAssertTrue(narrow.contains("KL 1.250 JS 0.200 top-1 ✗ top-3 1/3 ρ n/a"), narrow)
        XCTAssertTrue(narrow.contains("no mask 2 in the student's text"), narrow)
        // Where there is room, the info row says how the masks were matched too.
        var wide = state
        wide.comparison?.sharedVocabulary = true
        wide.comparison?.compared = 50_265
        let widest = screen(wide, 250, 60).joined(separator: "\n")
        XCTAssertTrue(widest.contains("KL(teacher ‖ student), JS: over the whole vocabulary (50,265 ids) · masks matched in order"), widest)
    }

    func testMeasuresRowWhileWaitingAndMeasuring() throws {
        var state = try compared()
        _ = reduce(&state, .textInserted("!"))
        XCTAssertTrue(screen(state).joined().contains("KL "), "while both run again, the measures stay with their lists")
        let effects = reduce(&state, .inferenceFinished(id: state.latestRequest[0] ?? 0, model: 0,
                                                        analysis: try Fixture.analysis(state.text, maskLogits: true)))
        XCTAssertTrue(effects.isEmpty)
        XCTAssertTrue(screen(state).joined().contains("waiting for both models…"))
        _ = reduce(&state, .inferenceFinished(id: state.latestRequest[1] ?? 0, model: 1,
                                              analysis: try Fixture.analysis(state.text, layers: 3, seed: 1, maskLogits: true)))
        XCTAssertTrue(screen(state).joined().contains("measuring the distributions…"))
    }

    func testStripWithTwoModelsAt80x24() throws {
        let state = try scored(try compared(focus: .editor))
        let strip = try XCTUnwrap(state.likelihood)
        XCTAssertEqual(strip.text, "Paris is the capital of France.", "the teacher's top-1 in the mask")
        XCTAssertEqual(strip.largestDifferences, [3, 1])
        let buffer = Screen.render(state, theme: Fixture.mono, width: 80, height: 24)
        assertSnapshot(buffer.lines, named: "screen-80x24-likelihood")
        let lines = buffer.lines
        XCTAssertTrue(lines[3].contains("Pseudo-log-likelihood"), lines.joined(separator: "\n"))
        XCTAssertTrue(lines[4].contains("<mask> ← tiny's top-1: Paris is the capital of France."))
        XCTAssertTrue(lines.contains { $0.contains("pseudo-perplexity tiny ") && $0.contains("tiny-untied ") })
        XCTAssertTrue(lines.contains { $0.contains("most apart (student − teacher): ␣capital -2.10 ␣is +0.90") }, lines.joined(separator: "\n"))
        XCTAssertTrue(lines.contains { $0.contains("KL ") }, "the compare measures still fit under the strip")
    }

    func testStripWithOneModelHasOneRowAndNoDifferences() throws {
        let state = try scored(try Fixture.state())
        let lines = screen(state)
        assertSnapshot(lines, named: "screen-80x24-likelihood-one")
        XCTAssertFalse(lines.joined().contains("most apart"))
        XCTAssertTrue(lines.contains { $0.contains("pseudo-perplexity") && $0.contains("pll") })
        XCTAssertFalse(lines.joined().contains("KL "), "one model: no compare measures")
    }

    func testModelsThatTokenizeDifferentlyHaveATokenRowEach() throws {
        var state = try compared(focus: .editor)
        _ = reduce(&state, .likelihoodToggled)
        let ids = try XCTUnwrap(state.likelihood?.requests)
        _ = reduce(&state, .scoreFinished(id: ids[0], model: 0, score: try Fixture.score("Paris is the capital of France.", model: 0)))
        let other = ModelScore(byteLevel: ["Par", "is", "Ġis"], tokens: ["Par", "is", "␣is"], logProbs: [-1.5, -0.25, -3],
                               pll: -4.75, pseudoPerplexity: exp(4.75 / 3))
        _ = reduce(&state, .scoreFinished(id: ids[1], model: 1, score: other))
        let lines = screen(state)
        XCTAssertTrue(lines.contains { $0.hasPrefix("             Paris ␣is") }, lines.joined(separator: "\n"))
        XCTAssertTrue(lines.contains { $0.hasPrefix("             Par   is    ␣is") }, lines.joined(separator: "\n"))
        XCTAssertTrue(lines.contains { $0.hasPrefix(" tiny-untied -1.50 -0.25 -3.00") }, lines.joined(separator: "\n"))
        XCTAssertTrue(lines.contains { $0.contains("tokenized differently: compare the pseudo-perplexities, not token by token") }, lines.joined(separator: "\n"))
        XCTAssertFalse(lines.joined().contains("most apart"))
    }

    func testStripWhileScoringAndAfterAnEdit() throws {
        var state = try compared(focus: .editor)
        _ = reduce(&state, .likelihoodToggled)
        var text = screen(state).joined(separator: "\n")
        XCTAssertTrue(text.contains("Pseudo-log-likelihood  scoring…"), text)
        XCTAssertTrue(text.contains("tiny-untied scoring…"), text)
        XCTAssertTrue(reduce(&state, .textInserted("!")).contains(.cancelScoring))
        text = screen(state).joined(separator: "\n")
        XCTAssertTrue(text.contains("cancelled: the sentence changed"), text)
        XCTAssertTrue(text.contains("F7 score this sentence"), text)
        // Scored, then edited: the numbers stay, for the sentence they were computed for.
        state = try scored(try compared(focus: .editor))
        _ = reduce(&state, .textInserted("!"))
        text = screen(state).joined(separator: "\n")
        XCTAssertTrue(text.contains("for an earlier sentence"), text)
        XCTAssertTrue(text.contains("Paris is the capital of France."), text)
    }

    func testDifferencesStandOutInEveryTheme() throws {
        let state = try scored(try compared(focus: .editor))
        XCTAssertEqual(Set(themes.map(\.name)), ["cividis", "dark", "light", "mono"])
        for theme in themes {
            let buffer = Screen.render(state, theme: theme, width: 80, height: 24)
            let lines = buffer.lines
            guard let tokenRow = lines.firstIndex(where: { $0.contains("␣capital") && $0.contains("Paris") && !$0.contains("←") }) else {
                return XCTFail("\(theme.name): no token row\n" + lines.joined(separator: "\n"))
            }
            let x = try XCTUnwrap(column(of: "␣capital", in: lines[tokenRow]))
            XCTAssertEqual(buffer[x, tokenRow].style, theme.spanStyle, "\(theme.name): the token where they differ most")
            XCTAssertNotEqual(buffer[x, tokenRow].style, buffer[x + 9, tokenRow].style, "\(theme.name): the next token is plain")
            // The student's number for it, two rows down: lower than the teacher's, in the down colour.
            let student = tokenRow + 2
            XCTAssertTrue(lines[student].hasPrefix(" tiny-untied"), "\(theme.name): \(lines[student])")
            let value = try XCTUnwrap(column(of: "-4.90", in: lines[student]), lines[student])
            XCTAssertEqual(buffer[value, student].style, theme.downStyle, theme.name)
            let up = try XCTUnwrap(column(of: "-0.10", in: lines[student]), lines[student])
            XCTAssertEqual(buffer[up, student].style, theme.upStyle, theme.name)
            if !theme.monochrome { XCTAssertNotEqual(theme.spanStyle.bg, theme.plain.bg, theme.name) }
        }
    }

    func testLargeTerminalShowsTheStripOverEveryPane() throws {
        var state = try scored(try compared(focus: .attention))
        state.query = 4
        let lines = screen(state, 120, 36)
        assertSnapshot(lines, named: "screen-120x36-likelihood-compare")
        for title in ["Sentence", "Pseudo-log-likelihood", "Candidates", "Tokens", "Attention"] {
            XCTAssertTrue(lines.contains { $0.contains(title) }, "\(title) missing")
        }
    }

    func testALongSentenceWrapsAtLargeSizesAndSaysWhatIsCutAt80x24() throws {
        let text = "In the beginning of the long story, the old <mask> walked slowly along the river while many birds sang in the tall trees."
        let state = try scored(try compared(text, focus: .editor))
        let tokens = try XCTUnwrap(state.likelihood?.scores[0]?.tokens.count)
        let small = screen(state).joined(separator: "\n")
        XCTAssertTrue(small.contains("tokens not shown · pseudo-perplexity"), small)
        let large = screen(state, 200, 60)
        XCTAssertFalse(large.joined().contains("tokens not shown"), large.joined(separator: "\n"))
        XCTAssertTrue(large.contains { $0.contains("␣t    re    es    .") }, "the last tokens (the tiny vocabulary splits trees) are shown")
        XCTAssertGreaterThan(tokens, 25)
    }

    func testEverySizeAndThemeRendersTheStripAndMeasuresWithoutOverflow() throws {
        let states = [try scored(try compared(focus: .editor)), try scored(try compared("The <mask> sat on the <mask>.", focus: .candidates)),
                      try scored(try Fixture.state())]
        for theme in themes {
            for state in states {
                for (w, h) in [(60, 16), (61, 17), (79, 23), (80, 24), (100, 30), (119, 35), (120, 36), (200, 60)] {
                    let buffer = Screen.render(state, theme: theme, width: w, height: h)
                    XCTAssertEqual(buffer.lines.count, h)
                    XCTAssertTrue(buffer.lines.allSatisfy { columnWidth($0) <= w }, "\(theme.name) \(w)x\(h)")
                    // Down to the smallest size at least the strip's title and its pseudo-perplexities show.
                    XCTAssertTrue(buffer.lines.contains { $0.contains("Pseudo-log-likelihood") }, "\(theme.name) \(w)x\(h)")
                    XCTAssertTrue(buffer.lines.contains { $0.contains("pseudo-perplexity") }, "\(theme.name) \(w)x\(h)")
                }
            }
        }
    }

    /// The column where `needle` starts in `line` (columns, not characters).
    func column(of needle: String, in line: String) -> Int? {
        guard let range = line.range(of: needle) else { return nil }
        return columnWidth(String(line[..<range.lowerBound]))
    }
}

/// F7 through the whole loop: the key, the scoring on the background, the strip drawn.
final class LikelihoodAppTests: XCTestCase {
    func testF7ScoresThroughTheBackgroundAndDrawsTheStrip() throws {
        let backend = TestBackend(80, 24, script: [[], [.key(.function(7))], [], [], [.key(.function(7))], [.key(.ctrl("c"))]])
        let model = try Fixture.model.get()
        let mailbox = Mailbox()
        let app = WorkbenchApp(
            state: WorkbenchState(models: [Fixture.tiny], text: "Paris is the <mask> of France.", themes: ["mono"], theme: "mono"),
            backend: backend, themes: [Fixture.mono],
            runInference: { request in
                mailbox.post(.inferenceFinished(id: request.id, model: request.model, analysis: model.analyse(request.text, topK: request.topK)))
            },
            saveSession: { _, _ in "unused" }, mailbox: mailbox,
            background: WorkbenchApp.BackgroundWork(
                score: { request in
                    if let score = model.scoreSentence(request.text) {
                        mailbox.post(.scoreFinished(id: request.id, model: request.model, score: score))
                    }
                },
                cancel: {}, compare: { _ in }))
        app.run(maxPolls: 20)
        let shown = try XCTUnwrap(backend.frames.first { $0.lines.joined().contains("pseudo-perplexity") }, "the strip was drawn")
        XCTAssertTrue(shown.lines.contains { $0.hasPrefix(" tiny ") }, shown.lines.joined(separator: "\n"))
        XCTAssertNil(app.state.likelihood, "F7 again closed it")
        XCTAssertFalse(backend.lines.joined().contains("Pseudo-log-likelihood"))
    }

    func testWithoutBackgroundWorkTheStripSaysItCannotScore() throws {
        let backend = TestBackend(80, 24, script: [[], [.key(.function(7))], [.key(.ctrl("c"))]])
        let model = try Fixture.model.get()
        let mailbox = Mailbox()
        let app = WorkbenchApp(
            state: WorkbenchState(models: [Fixture.tiny], text: "Paris is the <mask> of France.", themes: ["mono"], theme: "mono"),
            backend: backend, themes: [Fixture.mono],
            runInference: { request in
                mailbox.post(.inferenceFinished(id: request.id, model: request.model, analysis: model.analyse(request.text, topK: request.topK)))
            },
            saveSession: { _, _ in "unused" }, mailbox: mailbox)
        app.run(maxPolls: 10)
        XCTAssertEqual(app.state.likelihood?.scores.first??.error, "this workbench cannot score sentences")
    }
}
