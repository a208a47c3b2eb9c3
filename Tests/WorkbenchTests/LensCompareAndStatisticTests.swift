import Foundation
import XCTest
@testable import RoBERTa
@testable import Workbench

/// Issue #11's last workbench pieces: the logit lens of two compared models with their depths aligned, and the
/// attention overview coloured by a head statistic (S).
final class LensAlignmentTests: XCTestCase, KeyDriving {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    let teacher = ModelInfo(name: "teacher", path: "teacher", layers: 6, heads: 4, maxTokens: 128)
    func student(_ origin: LayerOrigin? = nil, layers: Int = 3) -> ModelInfo {
        ModelInfo(name: "student", path: "student", layers: layers, heads: 4, maxTokens: 128, layerOrigin: origin)
    }

    func testThePocketStudentsModelCardNamesTeacherLayers025() throws {
        let directory = Self.repoRoot.appendingPathComponent("models/pocket-student").path
        XCTAssertEqual(LayerOrigin.read(directory: directory), LayerOrigin(layers: [0, 2, 5], source: "model card"))
        // The teacher's own card says nothing of the kind.
        XCTAssertNil(LayerOrigin.read(directory: Self.repoRoot.appendingPathComponent("models/pocket-teacher").path))
        XCTAssertNil(LayerOrigin.read(directory: Self.repoRoot.appendingPathComponent("Tests/Fixtures/models/tiny").path))
    }

    func testModelCardPhrasings() {
        let found: [(String, [Int]?)] = [
            ("Student: layers [0, 2, 5] of the teacher (and its embeddings) as the starting point.", [0, 2, 5]),
            ("Initialised from teacher layers 1, 3 and 6.", [1, 3, 6]),
            ("The student's layers were taken from the teacher's layers: 0,2,4,6.", [0, 2, 4, 6]),
            ("We copy the teacher's layers (0, 5, 11) into the student.", [0, 5, 11]),
            // A size in a line that names no teacher, and a line that names one without a list, say nothing.
            ("| architecture | 3 layers, hidden 256, 4 heads |\nDistilled from the teacher, 6 layers.", nil),
            ("Student layers 1, 2, 3 come from teacher layers 0, 2, 5.", [0, 2, 5]),
        ]
        for (text, layers) in found { XCTAssertEqual(LayerOrigin.fromModelCard(text), layers, text) }
    }

    func testConfigKeyNamingTeacherLayers() throws {
        let json = #"{"num_hidden_layers": 3, "hidden_size": 256, "teacher_layers": [0, 2, 5]}"#
        XCTAssertEqual(LayerOrigin.fromConfig(Data(json.utf8)), [0, 2, 5])
        XCTAssertNil(LayerOrigin.fromConfig(Data(#"{"num_hidden_layers": 3, "layers": [1, 2]}"#.utf8)))
        // config.json wins over the card.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lens-align-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(#"{"initialized_from_teacher_layers": [1, 2, 3]}"#.utf8).write(to: dir.appendingPathComponent("config.json"))
        try Data("Student: layers [0, 2, 5] of the teacher.".utf8).write(to: dir.appendingPathComponent("README.md"))
        XCTAssertEqual(LayerOrigin.read(directory: dir.path), LayerOrigin(layers: [1, 2, 3], source: "config.json"))
    }

    func testAlignmentFromTheCardElseByRelativeDepth() {
        var a = LensAlignment(teacher: 0, teacherInfo: teacher, student: 1, studentInfo: student(LayerOrigin(layers: [0, 2, 5], source: "model card")))
        XCTAssertEqual(a.rows, [0, 1, 3, 6])
        XCTAssertEqual(a.description, "student layers from teacher layers 1, 3, 6 (model card)")
        XCTAssertEqual(a.row(of: 1, beside: 3), 2)
        XCTAssertNil(a.row(of: 1, beside: 2))
        XCTAssertEqual(a.row(of: 0, beside: 2), 2)
        // Counted from 1 when there is no 0 and the teacher's last layer is named.
        a = LensAlignment(teacher: 0, teacherInfo: teacher, student: 1, studentInfo: student(LayerOrigin(layers: [2, 4, 6], source: "config.json")))
        XCTAssertEqual(a.rows, [0, 2, 4, 6])
        XCTAssertEqual(a.description, "student layers from teacher layers 2, 4, 6 (config.json)")
        // Nothing said, or something that cannot be right (wrong count, out of range, not increasing): relative depth.
        for origin in [nil, LayerOrigin(layers: [0, 2], source: "model card"), LayerOrigin(layers: [0, 2, 9], source: "model card"),
                       LayerOrigin(layers: [5, 2, 0], source: "model card")] {
            a = LensAlignment(teacher: 0, teacherInfo: teacher, student: 1, studentInfo: student(origin))
            XCTAssertEqual(a.rows, [0, 2, 4, 6], "round((i+1)*6/3) - 1 = 1, 3, 5, as lens rows 2, 4, 6")
            XCTAssertEqual(a.description, "aligned by relative depth")
        }
        XCTAssertEqual(LensAlignment.relativeDepth(student: 6, teacher: 12), [0, 2, 4, 6, 8, 10, 12])
        XCTAssertEqual(LensAlignment.relativeDepth(student: 4, teacher: 6), [0, 2, 3, 5, 6])
        XCTAssertEqual(LensAlignment.relativeDepth(student: 3, teacher: 3), [0, 1, 2, 3])
    }

    func testTheDeeperModelIsTheTeacherWhicheverIsActive() {
        var state = WorkbenchState(models: [student(LayerOrigin(layers: [0, 2, 5], source: "model card")), teacher], text: "<mask>")
        XCTAssertNil(state.lensAlignment, "only in compare mode")
        _ = reduce(&state, .compareToggled)
        XCTAssertEqual(state.lensAlignment?.teacher, 1)
        XCTAssertEqual(state.lensAlignment?.student, 0)
        XCTAssertEqual(state.lensAlignment?.rows, [0, 1, 3, 6])
        _ = reduce(&state, .modelSwitchRequested)
        XCTAssertEqual(state.lensAlignment?.teacher, 1)
        XCTAssertEqual(state.lensAlignment?.student, 0)
    }

    func testInCompareTheLensIsAskedForBothModels() {
        var state = WorkbenchState(models: [teacher, student()], text: "a <mask>")
        _ = reduce(&state, .opened)
        XCTAssertEqual(requests(reduce(&state, .compareToggled)).map(\.model), [0, 1])
        let asked = requests(press([.function(8)], &state))
        XCTAssertEqual(asked.map(\.model), [0, 1])
        XCTAssertEqual(asked.map(\.lens), [true, true])
        // Typing asks both again, each with the lens.
        state.focus = .editor
        let typed = requests(press([.char("!")], &state))
        XCTAssertEqual(typed.map(\.lens), [true, true])
        XCTAssertEqual(typed.map(\.model), [0, 1])
    }

    func testAnalyseGivesTheComparedModelALensLikeTheActiveOnes() throws {
        // Both sides of the lens come from the same call on the scheduler's thread: the compared model's request
        // carries lens: true, and analyse answers it as it does the active model's.
        let model = try InferenceTests.model.get()
        let request = InferenceRequest(id: 2, model: 1, text: "Paris is the <mask> of France.", topK: 3, maskLogits: true, lens: true)
        let analysis = model.analyse(request.text, topK: request.topK, maskLogits: request.maskLogits, lens: request.lens)
        XCTAssertEqual(analysis.lens?.first?.layers.count, model.config.numHiddenLayers + 1)
        XCTAssertEqual(analysis.lens?.first?.layers.last?.candidates.map(\.token), analysis.masks.first?.candidates.map(\.id))
    }
}

final class HeadStatisticOverviewTests: XCTestCase, KeyDriving {
    let tiny = ModelInfo(name: "tiny", path: "tiny", layers: 2, heads: 4, maxTokens: 512)

    func testShiftSCyclesTheStatisticsThenBackToTheMaps() {
        var state = WorkbenchState(models: [tiny], text: "a <mask>")
        state.focus = .attention
        var seen: [HeadStatistic?] = []
        for _ in 0...HeadStatistic.allCases.count {
            XCTAssertEqual(press([.char("S")], &state), [], "the statistics come with every run: nothing to compute")
            XCTAssertEqual(state.attentionMode, .overview)
            seen.append(state.headStatistic)
        }
        XCTAssertEqual(seen, [.entropy, .toBOS, .toEOS, .toPrev, .toSelf, .toNext, .toPunct, nil])
        XCTAssertEqual(HeadStatistic.allCases.map(\.title), ["entropy/max", "to <s>", "to </s>", "to prev", "to self", "to next", "to punct"])
        XCTAssertEqual(state.notice?.text, "overview: the heads' maps")
        press([.char("h"), .char("S")], &state)
        XCTAssertEqual(state.attentionMode, .overview, "S from the heatmap opens the overview")
        XCTAssertEqual(state.notice?.text, "overview: entropy/max per head (S: next statistic)")
        // Only in the attention pane: elsewhere S is no key, and in the editor it is a letter.
        state.focus = .tokens
        XCTAssertNil(Keymap.action(for: .char("S"), in: state))
        // Opening the head-importance grid shows it, not the statistic.
        state.focus = .attention
        press([.char("g")], &state)
        XCTAssertNil(state.headStatistic)
    }

    func testStatisticValues() {
        let s = HeadStatistics(entropy: 1, entropyMax: 2, toBOS: 0.1, toEOS: 0.2, toSelf: 0.3, toPrev: 0.4, toNext: 0.5, toPunct: nil, label: "")
        XCTAssertEqual(HeadStatistic.allCases.map { $0.value(s) }, [0.5, 0.1, 0.2, 0.4, 0.3, 0.5, nil])
    }

    func testTheKeysAreInTheHelp() {
        XCTAssertTrue(Keymap.bindings.contains { $0.scope == "Attention" && $0.keys == "S" })
    }
}
