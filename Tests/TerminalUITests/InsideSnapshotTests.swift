import XCTest
@testable import RoBERTa
@testable import TerminalUI
@testable import Workbench

/// Issue #11 on screen: knocked-out heads in the heatmap, the overview and the status line, and the heatmap
/// and overview showing norms and rollout, with titles that say which.
final class InsideSnapshotTests: XCTestCase {
    /// The fixture state with heads 2.3 and 1.1 knocked out, the cursor on 2.3.
    func knockedOut(_ mode: AttentionMode) throws -> WorkbenchState {
        var state = try Fixture.state(focus: .attention)
        state.layer = 1
        state.head = 2
        try Fixture.settle(reduce(&state, .headKnockoutToggled), &state)
        state.layer = 0
        state.head = 0
        try Fixture.settle(reduce(&state, .headKnockoutToggled), &state)
        state.layer = 1
        state.head = 2
        state.notice = nil
        state.attentionMode = mode
        return state
    }

    func values(_ values: AttentionValues, _ mode: AttentionMode) throws -> WorkbenchState {
        var state = try Fixture.state(focus: .attention)
        state.layer = 1
        state.head = 1
        state.query = 4
        state.key = 1
        state.attentionMode = mode
        while state.attentionValues != values { try Fixture.settle(reduce(&state, .attentionValuesCycled), &state) }
        state.notice = nil
        return state
    }

    func testKnockedOutHeadInTheHeatmapAndStatusLine() throws {
        let state = try knockedOut(.head)
        XCTAssertEqual(state.analysis?.knockout, [HeadRef(layer: 0, head: 0), HeadRef(layer: 1, head: 2)])
        let lines = screen(state)
        XCTAssertTrue(lines.last?.contains("knocked out: 1.1, 2.3") ?? false)
        assertSnapshot(lines, named: "screen-80x24-knockout")
        assertSnapshot(screen(state, 160, 48), named: "screen-160x48-knockout")
    }

    func testKnockedOutHeadsAreCrossedInTheOverview() throws {
        let state = try knockedOut(.overview)
        assertSnapshot(screen(state), named: "screen-80x24-knockout-overview")
        assertSnapshot(screen(state, 160, 48), named: "screen-160x48-knockout-overview")
    }

    func testNormsHeatmapAndOverviewSayWhatTheyShow() throws {
        var state = try values(.norms, .head)
        XCTAssertNotNil(state.analysis?.norms)
        assertSnapshot(screen(state), named: "screen-80x24-norms")
        assertSnapshot(screen(state, 160, 48), named: "screen-160x48-norms")
        state.attentionMode = .overview
        assertSnapshot(screen(state), named: "screen-80x24-norms-overview")
    }

    func testRolloutHeatmapAndOverviewSayWhatTheyShow() throws {
        var state = try values(.rollout, .head)
        XCTAssertEqual(state.analysis?.rollout?.heads, 1)
        assertSnapshot(screen(state), named: "screen-80x24-rollout")
        assertSnapshot(screen(state, 160, 48), named: "screen-160x48-rollout")
        state.attentionMode = .overview
        assertSnapshot(screen(state), named: "screen-80x24-rollout-overview")
        assertSnapshot(screen(state, 160, 48), named: "screen-160x48-rollout-overview")
    }

    func testValuesNotComputedYetSayTheyAreComing() throws {
        var state = try Fixture.state(focus: .attention)
        _ = reduce(&state, .attentionValuesCycled)
        let lines = screen(state)
        XCTAssertTrue(lines.contains { $0.contains("computing the norms…") }, lines.joined(separator: "\n"))
    }

    func testEveryNewViewFitsEveryScreenSize() throws {
        for values in AttentionValues.allCases {
            for mode in AttentionMode.allCases {
                var state = try self.values(values, mode)
                state.knockouts[0] = [HeadRef(layer: 1, head: 1)]
                for (w, h) in [(60, 16), (79, 23), (100, 30), (120, 36), (200, 60)] {
                    let buffer = Screen.render(state, theme: Fixture.mono, width: w, height: h)
                    XCTAssertEqual(buffer.lines.count, h)
                    XCTAssertTrue(buffer.lines.allSatisfy { columnWidth($0) <= w })
                }
            }
        }
    }
}

final class HeadLabelSnapshotTests: XCTestCase {
    func testTheHeatmapTitleNamesWhatTheHeadDoes() throws {
        var state = try Fixture.state(focus: .attention)
        let sink = HeadStatistics(entropy: 0.4, entropyMax: 2.2, toBOS: 0.8, toEOS: 0.1, toSelf: 0, toPrev: 0, toNext: 0, toPunct: nil,
                                  label: "<s> sink")
        state.results[0]?.headStats = Array(repeating: Array(repeating: sink, count: 4), count: 2)
        state.head = 1
        XCTAssertTrue(screen(state)[3].contains("weights · layer 1/2 · head 2/4 <s> sink"), screen(state)[3])
        state.knockouts[0] = [HeadRef(layer: 0, head: 1)]
        assertSnapshot(screen(state, 160, 48), named: "screen-160x48-head-label")
    }
}

final class LensSnapshotTests: XCTestCase {
    func lensState(_ text: String = "Paris is the <mask> of France.", models: [ModelInfo] = [Fixture.tiny]) throws -> WorkbenchState {
        var state = try Fixture.state(text, models: models, focus: .candidates)
        try Fixture.settle(reduce(&state, .lensToggled), &state)
        state.notice = nil
        return state
    }

    func testLensShowsEachLayersGuessAndTheFinalTopThroughTheLayers() throws {
        let state = try lensState(models: [Fixture.untied])
        XCTAssertEqual(state.analysis?.lens?.first?.layers.count, 4)
        assertSnapshot(screen(state), named: "screen-80x24-lens")
        assertSnapshot(screen(state, 160, 48), named: "screen-160x48-lens")
    }

    func testLensFollowsTheSelectedMask() throws {
        var state = try lensState("The <mask> is the <mask> of France.")
        _ = reduce(&state, .maskStepped(1))
        let lines = screen(state)
        XCTAssertTrue(lines.contains { $0.contains("mask 2 of 2 · final top") }, lines.joined(separator: "\n"))
    }

    func testLensWaitsForItsRunAndFitsEverySize() throws {
        var state = try Fixture.state(focus: .candidates)
        _ = reduce(&state, .lensToggled)
        XCTAssertTrue(screen(state).contains { $0.contains("running the lens…") })
        state = try lensState()
        for (w, h) in [(60, 16), (79, 23), (100, 30), (120, 36), (200, 60)] {
            let buffer = Screen.render(state, theme: Fixture.mono, width: w, height: h)
            XCTAssertEqual(buffer.lines.count, h)
            XCTAssertTrue(buffer.lines.allSatisfy { columnWidth($0) <= w })
        }
    }
}

final class ImportanceSnapshotTests: XCTestCase {
    func testTheGridShowsEachHeadsDeltaInTheOverview() throws {
        var state = try Fixture.state(focus: .attention)
        state.layer = 1
        state.head = 1
        try Fixture.settle(reduce(&state, .importanceToggled), &state)
        state.notice = nil
        XCTAssertNotNil(state.importance?.result)
        assertSnapshot(screen(state), named: "screen-80x24-importance")
        assertSnapshot(screen(state, 160, 48), named: "screen-160x48-importance")
    }

    func testProgressThenStoppedByAnEdit() throws {
        var state = try Fixture.state(focus: .attention)
        let effects = reduce(&state, .importanceToggled)
        guard case .measureImportance(let request)? = effects.last else { return XCTFail("no run asked for") }
        _ = reduce(&state, .importanceProgress(id: request.id, layersDone: 1))
        state.notice = nil
        assertSnapshot(screen(state), named: "screen-80x24-importance-progress")
        _ = reduce(&state, .focusSet(.editor))
        _ = reduce(&state, .textInserted("!"))
        _ = reduce(&state, .focusSet(.attention))
        XCTAssertTrue(screen(state).contains { $0.contains("stopped: the sentence changed") })
    }

    func testGridFitsEverySize() throws {
        var state = try Fixture.state(models: [Fixture.untied], focus: .attention)
        try Fixture.settle(reduce(&state, .importanceToggled), &state)
        for (w, h) in [(60, 16), (79, 23), (100, 30), (120, 36), (200, 60)] {
            let buffer = Screen.render(state, theme: Fixture.mono, width: w, height: h)
            XCTAssertEqual(buffer.lines.count, h)
            XCTAssertTrue(buffer.lines.allSatisfy { columnWidth($0) <= w })
        }
    }
}

final class ImportanceKnockoutTests: XCTestCase {
    func testAKnockedOutHeadIsCrossedBesideItsNumber() throws {
        var state = try Fixture.state(focus: .attention)
        try Fixture.settle(reduce(&state, .importanceToggled), &state)
        state.knockouts[0] = [HeadRef(layer: 0, head: 1)]
        let row = screen(state).first { $0.hasPrefix(" L1 ") } ?? ""
        XCTAssertTrue(row.contains("-0.90×"), row)
    }
}
