import Foundation
import XCTest
@testable import RoBERTa
@testable import Workbench

/// Issue #11 in the workbench: knocking heads out (x / X) and the kinds of attention values (v). Reducer tests
/// without a model, then `analyse` on the tiny fixture.
final class WorkbenchInsideTests: XCTestCase, KeyDriving {
    let tiny = ModelInfo(name: "tiny", path: "tiny", layers: 2, heads: 4, maxTokens: 512)
    let other = ModelInfo(name: "other", path: "other", layers: 3, heads: 4, maxTokens: 512)

    /// What `analyse` would answer to `request`: three tokens, one mask with top-k candidates, flat attention, and norms or rollout as asked.
    func answer(_ request: InferenceRequest, layers: Int = 2, heads: Int = 4) -> Analysis {
        let maps = AttentionMaps(layers: layers, heads: heads, tokens: 3, values: [Float](repeating: 1.0 / 3, count: layers * heads * 9))
        var analysis = Analysis(
            text: request.text,
            tokens: [TokenRow(id: 0, byteLevel: "<s>", readable: "<s>", span: 0..<0, word: nil),
                     TokenRow(id: 4, byteLevel: "<mask>", readable: "<mask>", span: 0..<6, word: nil),
                     TokenRow(id: 2, byteLevel: "</s>", readable: "</s>", span: 0..<0, word: nil)],
            masks: [MaskRow(position: 1, span: 0..<6, candidates: (0..<request.topK).map { CandidateRow(id: 100 + $0, text: " a", probability: 0.5) })],
            attention: maps)
        analysis.knockout = request.knockout
        if request.values == .norms { analysis.norms = maps }
        if request.values == .rollout { analysis.rollout = attentionRollout(maps) }
        return analysis
    }

    /// Presses `keys` and answers every inference request at once; returns the requests.
    @discardableResult
    func run(_ keys: [Key], _ state: inout WorkbenchState) -> [InferenceRequest] {
        var asked: [InferenceRequest] = []
        var pending = requests(press(keys, &state))
        while !pending.isEmpty {
            let request = pending.removeFirst()
            asked.append(request)
            let info = state.models[request.model]
            pending += requests(reduce(&state, .inferenceFinished(id: request.id, model: request.model,
                                                                  analysis: answer(request, layers: info.layers, heads: info.heads))))
        }
        return asked
    }

    func opened(_ models: [ModelInfo]) -> WorkbenchState {
        var state = WorkbenchState(models: models, text: "<mask>")
        var pending = requests(reduce(&state, .opened))
        while !pending.isEmpty {
            let request = pending.removeFirst()
            pending += requests(reduce(&state, .inferenceFinished(id: request.id, model: request.model, analysis: answer(request))))
        }
        state.focus = .attention
        return state
    }

    func testXKnocksOutTheSelectedHeadsAndRerunsWithThemOut() {
        var state = opened([tiny])
        state.layer = 1
        state.head = 2
        var asked = run([.char("x")], &state)
        XCTAssertEqual(asked.map(\.knockout), [[HeadRef(layer: 1, head: 2)]])
        XCTAssertEqual(state.notice?.text, "knocked out: 2.3 (X puts them back)")
        asked = run([.char("["), .char(","), .char(","), .char("x")], &state)
        XCTAssertEqual(asked.map(\.knockout), [[HeadRef(layer: 0, head: 0), HeadRef(layer: 1, head: 2)]])
        XCTAssertEqual(state.analysis?.knockout, state.knockout)
        XCTAssertEqual(knockoutList(state.knockout), "1.1, 2.3")
        // x again on a knocked-out head puts it back.
        asked = run([.char("x")], &state)
        XCTAssertEqual(asked.map(\.knockout), [[HeadRef(layer: 1, head: 2)]])
        // Typing keeps the heads out.
        asked = run([.char("i"), .char("!")], &state)
        XCTAssertEqual(asked.map(\.knockout), [[HeadRef(layer: 1, head: 2)]])
    }

    func testShiftXPutsEveryHeadBackAndSaysSoWhenNoneIsOut() {
        var state = opened([tiny])
        run([.char("x"), .char("."), .char("x")], &state)
        XCTAssertEqual(state.knockout.count, 2)
        let asked = run([.char("X")], &state)
        XCTAssertEqual(asked.map(\.knockout), [[]])
        XCTAssertTrue(state.knockout.isEmpty)
        XCTAssertEqual(state.notice?.text, "all heads back in")
        XCTAssertTrue(run([.char("X")], &state).isEmpty)
        XCTAssertTrue(state.notice?.text.hasPrefix("no head is knocked out") ?? false)
    }

    func testKnockedOutHeadsBelongToTheModelTheyWerePickedIn() {
        var state = opened([tiny, other])
        run([.char("x")], &state)
        let asked = run([.char("m")], &state)
        XCTAssertEqual(asked.map(\.model), [1])
        XCTAssertEqual(asked.map(\.knockout), [[]])
        XCTAssertTrue(state.knockout.isEmpty)
        // Back on the first model its head is still out, and its result already has it: nothing reruns.
        XCTAssertTrue(run([.char("m")], &state).isEmpty)
        XCTAssertEqual(state.knockout, [HeadRef(layer: 0, head: 0)])
    }

    func testVCyclesWeightsNormsRolloutAndAsksOnlyForWhatIsMissing() {
        var state = opened([tiny])
        XCTAssertEqual(state.attentionValues, .weights)
        var asked = run([.char("v")], &state)
        XCTAssertEqual(state.attentionValues, .norms)
        XCTAssertEqual(asked.map(\.values), [.norms])
        XCTAssertNotNil(state.analysis?.norms)
        state.attentionMode = .mean
        asked = run([.char("v")], &state)
        XCTAssertEqual(state.attentionValues, .rollout)
        XCTAssertEqual(asked.map(\.values), [.rollout])
        XCTAssertEqual(state.analysis?.rollout?.heads, 1)
        XCTAssertEqual(state.attentionMode, .head, "the rollout has no heads to average")
        // Every result has the weights: back to them costs no run.
        XCTAssertTrue(run([.char("v")], &state).isEmpty)
        XCTAssertEqual(state.attentionValues, .weights)
        XCTAssertEqual(state.notice?.text, "attention: weights")
    }

    func testNewKeysAreInTheHelp() {
        let keys = Keymap.bindings.map(\.keys)
        XCTAssertTrue(keys.contains("x / X"))
        XCTAssertTrue(keys.contains("v"))
    }

    func testAnalyseKnocksOutHeadsAndAddsNormsRolloutAndHeadStatistics() throws {
        let model = try InferenceTests.model.get()
        let text = "Paris is the <mask> of France."
        let plain = model.analyse(text, topK: 5)
        XCTAssertNil(plain.error)
        XCTAssertNil(plain.norms)
        XCTAssertNil(plain.rollout)
        XCTAssertEqual(plain.headStats?.count, model.config.numHiddenLayers)
        let all = Set((0..<model.config.numAttentionHeads).map { HeadRef(layer: 0, head: $0) })
        let out = model.analyse(text, topK: 5, knockout: all)
        XCTAssertEqual(out.knockout, all)
        let direct = try model.fillMask(text, options: FillMaskOptions(topK: 5, knockout: all))
        XCTAssertEqual(out.masks.first?.candidates.map(\.probability), direct.masks.first?.candidates.map(\.score))
        XCTAssertNotEqual(out.masks.first?.candidates.map(\.probability), plain.masks.first?.candidates.map(\.probability))
        let norms = model.analyse(text, topK: 5, values: .norms)
        XCTAssertEqual(norms.norms?.tokens, norms.tokens.count)
        let rollout = model.analyse(text, topK: 5, values: .rollout)
        XCTAssertEqual(rollout.rollout, plain.attention.map(attentionRollout))
    }
}

final class LensReducerTests: XCTestCase, KeyDriving {
    let tiny = ModelInfo(name: "tiny", path: "tiny", layers: 2, heads: 4, maxTokens: 512)

    func testLAsksForTheLensOnlyWhileItIsShown() {
        var state = WorkbenchState(models: [tiny], text: "<mask>")
        XCTAssertEqual(requests(reduce(&state, .opened)).map(\.lens), [false])
        state.focus = .attention
        let asked = requests(press([.char("l")], &state))
        XCTAssertTrue(state.showLens)
        XCTAssertEqual(state.focus, .candidates, "the lens is shown in the candidates pane")
        XCTAssertEqual(asked.map(\.lens), [true])
        XCTAssertEqual(requests(press([.char("i"), .char("x")], &state)).map(\.lens), [true])
        XCTAssertTrue(requests(press([.function(8)], &state)).isEmpty)
        XCTAssertFalse(state.showLens)
        XCTAssertEqual(requests(press([.char("y")], &state)).map(\.lens), [false])
    }

    func testAnalyseRunsTheLensWhenAsked() throws {
        let model = try InferenceTests.model.get()
        let text = "Paris is the <mask> of France."
        XCTAssertNil(model.analyse(text, topK: 3).lens)
        let analysis = model.analyse(text, topK: 3, lens: true)
        let lens = try XCTUnwrap(analysis.lens?.first)
        XCTAssertEqual(lens.layers.count, model.config.numHiddenLayers + 1)
        XCTAssertEqual(lens.layers.last?.candidates.map(\.token), analysis.masks.first?.candidates.map(\.id))
        XCTAssertEqual(lens.layers.last?.finalTopRank, 1)
    }
}

final class ImportanceTests: XCTestCase, KeyDriving {
    let tiny = ModelInfo(name: "tiny", path: "tiny", layers: 2, heads: 4, maxTokens: 512)

    func importance(_ effects: [Effect]) -> [ImportanceRequest] {
        effects.compactMap { if case .measureImportance(let r) = $0 { return r } else { return nil } }
    }

    func testGMeasuresTheGridShowsProgressAndTheResultInTheOverview() {
        var state = WorkbenchState(models: [tiny], text: "a <mask>")
        state.focus = .attention
        let asked = importance(press([.char("g")], &state))
        XCTAssertEqual(asked.map(\.text), ["a <mask>"])
        XCTAssertEqual(state.attentionMode, .overview)
        let id = asked[0].id
        _ = reduce(&state, .importanceProgress(id: id + 1, layersDone: 1))
        XCTAssertEqual(state.importance?.layersDone, 0, "another run's progress is dropped")
        _ = reduce(&state, .importanceProgress(id: id, layersDone: 1))
        XCTAssertEqual(state.importance?.layersDone, 1)
        let result = ImportanceResult(position: 2, token: " b", deltas: [[-1, 0, 0, 0], [0, 0, -0.5, 0]])
        _ = reduce(&state, .importanceFinished(id: id, result: result))
        XCTAssertEqual(state.importance?.result, result)
        XCTAssertFalse(state.importance?.isPending ?? true)
        // g again closes it, with nothing to stop.
        XCTAssertEqual(press([.char("g")], &state), [])
        XCTAssertNil(state.importance)
    }

    func testAnEditStopsTheRunAndGMeasuresAgain() {
        var state = WorkbenchState(models: [tiny], text: "a <mask>")
        state.focus = .attention
        let first = importance(press([.char("g")], &state))[0]
        let effects = press([.char("i"), .char("!")], &state)
        XCTAssertTrue(effects.contains(.cancelImportance))
        XCTAssertEqual(state.importance?.cancelled, true)
        _ = reduce(&state, .importanceFinished(id: first.id, result: ImportanceResult(position: 2, token: " b", deltas: [[0]])))
        XCTAssertNil(state.importance?.result, "a stopped run's answer is dropped")
        XCTAssertFalse(press([.char("!")], &state).contains(.cancelImportance), "stopped once")
        state.focus = .attention
        let again = importance(press([.char("g")], &state))
        XCTAssertEqual(again.map(\.text), ["a <mask>!!"])
        // Closing a grid under way stops its run.
        XCTAssertEqual(press([.char("g")], &state), [.cancelImportance])
    }

    func testGWithoutAMaskSaysWhatIsMissing() {
        var state = WorkbenchState(models: [tiny], text: "a b")
        state.focus = .attention
        XCTAssertTrue(importance(press([.char("g")], &state)).isEmpty)
        XCTAssertEqual(state.notice?.isError, true)
        XCTAssertNil(state.importance)
    }

    func testMeasureImportanceIsTheEnginesGridAndStopsWhenCancelled() throws {
        let model = try InferenceTests.model.get()
        let text = "Paris is the <mask> of France."
        var layersSeen: [Int] = []
        let result = try XCTUnwrap(model.measureImportance(text) { done, _ in layersSeen.append(done) })
        XCTAssertNil(result.error)
        let direct = try model.headImportance(ids: model.inputIDs(for: text))
        XCTAssertEqual(result.deltas, direct.deltas)
        XCTAssertEqual(result.position, direct.position)
        XCTAssertEqual(layersSeen, Array(1...model.config.numHiddenLayers))
        let cancellation = Cancellation()
        cancellation.cancel()
        XCTAssertNil(model.measureImportance(text, cancellation: cancellation))
        XCTAssertNotNil(model.measureImportance("no mask here").flatMap(\.error))
    }

    func testSchedulerPostsProgressThenTheGrid() throws {
        let model = try InferenceTests.model.get()
        let actions = Posted()
        let done = expectation(description: "grid")
        let scheduler = InferenceScheduler(models: [model], deliver: { _, _ in }, finished: { action in
            actions.append(action)
            if case .importanceFinished = action { done.fulfill() }
        })
        scheduler.submitImportance(ImportanceRequest(id: 3, model: 0, text: "The <mask> sat."))
        wait(for: [done], timeout: 20)
        let layers = model.config.numHiddenLayers
        XCTAssertEqual(actions.all.count, layers + 1)
        XCTAssertEqual(actions.all.first, .importanceProgress(id: 3, layersDone: 1))
        if case .importanceFinished(let id, let result) = actions.all.last {
            XCTAssertEqual(id, 3)
            XCTAssertEqual(result.deltas.count, layers)
        } else {
            XCTFail("no grid")
        }
    }
}

final class InsideSessionTests: XCTestCase {
    func testSessionKeepsTheKnockedOutHeadsAndTheAttentionValues() throws {
        let tiny = ModelInfo(name: "tiny", path: "tiny", layers: 2, heads: 4, maxTokens: 512)
        var state = WorkbenchState(models: [tiny], text: "a <mask>")
        state.knockouts[0] = [HeadRef(layer: 1, head: 2), HeadRef(layer: 0, head: 0)]
        state.attentionValues = .rollout
        let session = try JSONDecoder().decode(Session.self, from: state.session.encoded())
        XCTAssertEqual(session.knockout, ["1.1", "2.3"])
        var restored = WorkbenchState(models: [tiny])
        restored.restore(session)
        XCTAssertEqual(restored.knockout, state.knockout)
        XCTAssertEqual(restored.attentionValues, .rollout)
        // Heads the model does not have are dropped; an old session without the fields restores none.
        var odd = session
        odd.knockout = ["3.1", "1.5", "x", "2.4"]
        restored.restore(odd)
        XCTAssertEqual(restored.knockout, [HeadRef(layer: 1, head: 3)])
        let old = try JSONDecoder().decode(Session.self, from: Data(#"{"text": "a <mask>"}"#.utf8))
        restored.restore(old)
        XCTAssertTrue(restored.knockout.isEmpty)
        XCTAssertEqual(restored.attentionValues, .weights)
    }
}
