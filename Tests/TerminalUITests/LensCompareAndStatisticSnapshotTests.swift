import XCTest
@testable import RoBERTa
@testable import TerminalUI
@testable import Workbench

/// The logit lens of two compared models with their depths aligned (F3 then F8), and the attention overview
/// coloured by a head statistic (S).
final class LensCompareSnapshotTests: XCTestCase {
    static let teacher = ModelInfo(name: "pocket-teacher", path: "models/pocket-teacher", layers: 6, heads: 4, maxTokens: 128)
    static let student = ModelInfo(name: "pocket-student", path: "models/pocket-student", layers: 3, heads: 4, maxTokens: 128,
                                   layerOrigin: LayerOrigin(layers: [0, 2, 5], source: "model card"))

    func compared(_ student: ModelInfo = student, text: String = "Paris is the <mask> of France.") throws -> WorkbenchState {
        var state = try Fixture.state(text, models: [Self.teacher, student], focus: .candidates)
        try Fixture.settle(reduce(&state, .compareToggled), &state)
        try Fixture.settle(reduce(&state, .lensToggled), &state)
        state.notice = nil
        return state
    }

    func testBothLensesSideBySideWithTheStudentBesideItsTeacherLayers() throws {
        let state = try compared()
        XCTAssertNotNil(state.results[1]?.lens, "the compared model's lens is run too")
        let small = screen(state)
        XCTAssertTrue(small.contains { $0.contains("student layers from teacher layers 1, 3, 6 (model card)") }, small.joined(separator: "\n"))
        assertSnapshot(small, named: "screen-80x24-lens-compare")
        assertSnapshot(screen(state, 160, 48), named: "screen-160x48-lens-compare")
        // Student L2 sits beside teacher L3 (the card's layer 2, counted from 0).
        let row = small.first { $0.hasPrefix(" L3 ") } ?? ""
        XCTAssertTrue(row.contains("│L2 "), row)
    }

    func testWithoutACardTheDepthsAreMatchedRelatively() throws {
        var student = Self.student
        student.layerOrigin = nil
        let state = try compared(student)
        let lines = screen(state, 160, 48)
        XCTAssertTrue(lines.contains { $0.contains("aligned by relative depth") })
        assertSnapshot(lines, named: "screen-160x48-lens-compare-relative")
        XCTAssertTrue((lines.first { $0.hasPrefix(" L4 ") } ?? "").contains("│L2 "))
        XCTAssertTrue((screen(state).first { $0.hasPrefix(" L6 ") } ?? "").contains("│L3 "))
    }

    func testTheComparedLensWaitsForItsRunAndEverySizeFits() throws {
        var state = try Fixture.state(models: [Self.teacher, Self.student], focus: .candidates)
        try Fixture.settle(reduce(&state, .compareToggled), &state)
        let effects = reduce(&state, .lensToggled)
        // Only the teacher's answer comes back.
        for case .runInference(let request) in effects where request.model == 0 { try Fixture.settle([.runInference(request)], &state) }
        XCTAssertTrue(screen(state).contains { $0.contains("running the lens…") })
        state = try compared(text: "The <mask> is the <mask> of France.")
        for (w, h) in [(60, 16), (79, 23), (80, 24), (100, 30), (120, 36), (160, 48), (200, 60)] {
            let buffer = Screen.render(state, theme: Fixture.mono, width: w, height: h)
            XCTAssertEqual(buffer.lines.count, h)
            XCTAssertTrue(buffer.lines.allSatisfy { columnWidth($0) <= w })
        }
        _ = reduce(&state, .maskStepped(1))
        XCTAssertTrue(screen(state).contains { $0.contains("mask 2 of 2 · student layers") })
    }
}

final class HeadStatisticSnapshotTests: XCTestCase {
    func statistic(_ statistic: HeadStatistic, models: [ModelInfo] = [Fixture.tiny]) throws -> WorkbenchState {
        var state = try Fixture.state(models: models, focus: .attention)
        state.layer = 1
        state.head = 2
        while state.headStatistic != statistic { _ = reduce(&state, .headStatisticCycled) }
        state.notice = nil
        return state
    }

    /// The same state with head statistics that differ from head to head (the made-up maps' heads are much alike),
    /// some with a label, as `analyse` would have put them in the result.
    func varied(_ state: WorkbenchState) -> WorkbenchState {
        var state = state
        let labels = ["<s> sink", "→prev", "", "broad", "→next", "</s> sink", "self", "punct"]
        let info = state.models[state.activeModel]
        state.results[state.activeModel]?.headStats = (0..<info.layers).map { l in
            (0..<info.heads).map { h in
                let v = Double((l * 5 + h * 3) % 11) / 10
                return HeadStatistics(entropy: 2 * (1 - v), entropyMax: 2.2, toBOS: v, toEOS: 1 - v, toSelf: v / 2, toPrev: v * v,
                                      toNext: 0.1, toPunct: h == 3 ? nil : v / 3, label: labels[(l + h * 2) % labels.count])
            }
        }
        return state
    }

    func testTheOverviewShowsOneStatisticPerHeadWithItsLabel() throws {
        var state = varied(try statistic(.entropy))
        let small = screen(state)
        XCTAssertTrue(small[3].contains("overview · entropy/max per head"), small[3])
        assertSnapshot(small, named: "screen-80x24-statistic-entropy")
        assertSnapshot(screen(state, 160, 48), named: "screen-160x48-statistic-entropy")
        state = varied(try statistic(.toBOS, models: [LensCompareSnapshotTests.teacher]))
        state.knockouts[0] = [HeadRef(layer: 0, head: 1)]
        assertSnapshot(screen(state), named: "screen-80x24-statistic-to-bos")
        assertSnapshot(screen(state, 160, 48), named: "screen-160x48-statistic-to-bos")
        state.headStatistic = .toPunct
        XCTAssertTrue(screen(state, 160, 48).contains { $0.contains("n/a") }, "a text without punctuation has no share to it")
    }

    func testTheNumbersAreAnalysisOwn() throws {
        let state = try statistic(.toPrev)
        let stats = try XCTUnwrap(state.analysis?.headStats)
        let value = try XCTUnwrap(HeadStatistic.toPrev.value(stats[0][0]))
        let text = value >= 0.995 ? "1.0" : "." + String(format: "%02d", Int((value * 100).rounded()))
        let row = screen(state, 160, 48).first { $0.contains(" L1 ") && $0.contains("│") } ?? ""
        XCTAssertTrue(row.contains(text), row + " wants " + text)
    }

    func testEverySizeFitsAndMapsComeBack() throws {
        var state = try statistic(.toPunct, models: [Fixture.untied])
        for (w, h) in [(60, 16), (79, 23), (100, 30), (120, 36), (200, 60)] {
            let buffer = Screen.render(state, theme: Fixture.mono, width: w, height: h)
            XCTAssertEqual(buffer.lines.count, h)
            XCTAssertTrue(buffer.lines.allSatisfy { columnWidth($0) <= w })
        }
        _ = reduce(&state, .headStatisticCycled)
        XCTAssertNil(state.headStatistic)
        let lines = screen(state)
        XCTAssertFalse(lines[3].contains("per head"), lines[3])
        XCTAssertTrue(lines.contains { $0.contains("each block: one head's weights") || $0.contains("each cell: weights") }, lines.joined(separator: "\n"))
    }
}
