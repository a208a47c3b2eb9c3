import Foundation
import RoBERTa
import XCTest
@testable import Workbench

/// Issue #10 in the workbench: the measures between the compared models at each mask, and the
/// pseudo-log-likelihood strip (F7). Reducer tests without a model, then the background work on the tiny fixture.
final class CompareAndLikelihoodTests: XCTestCase, KeyDriving {
    let teacher = ModelInfo(name: "teacher", path: "teacher", layers: 2, heads: 4, maxTokens: 512)
    let student = ModelInfo(name: "student", path: "student", layers: 1, heads: 4, maxTokens: 512)

    /// A result for `text` (ending in one mask) with `candidates`, and logits over a vocabulary of 8 when asked.
    func analysis(_ text: String, candidates: [String] = [" capital", " city"], logits: Bool = false) -> Analysis {
        let count = text.unicodeScalars.count
        let span = (count - 7)..<count  // " <mask>" at the end
        return Analysis(
            text: text,
            tokens: [TokenRow(id: 0, byteLevel: "<s>", readable: "<s>", span: 0..<0, word: nil),
                     TokenRow(id: 4, byteLevel: "<mask>", readable: "<mask>", span: (count - 6)..<count, word: nil),
                     TokenRow(id: 2, byteLevel: "</s>", readable: "</s>", span: 0..<0, word: nil)],
            masks: [MaskRow(position: 1, span: span, candidates: candidates.enumerated().map {
                CandidateRow(id: 5 + $0.offset, text: $0.element, probability: 0.5 / Float($0.offset + 1))
            })],
            maskLogits: logits ? [[0, 0, 0, 0, 0, 3, 2, 1]] : nil)
    }

    /// Answers every inference request among `effects` with `analysis`, and returns the effects that follow.
    @discardableResult
    func answer(_ effects: [Effect], _ state: inout WorkbenchState, candidates: (Int) -> [String] = { _ in [" capital", " city"] }) -> [Effect] {
        var more: [Effect] = []
        for request in requests(effects) {
            more += reduce(&state, .inferenceFinished(id: request.id, model: request.model,
                                                      analysis: analysis(request.text, candidates: candidates(request.model), logits: request.maskLogits)))
        }
        return more
    }

    func comparisons(_ effects: [Effect]) -> [ComparisonRequest] {
        effects.compactMap { if case .compareDistributions(let r) = $0 { return r } else { return nil } }
    }

    func scorings(_ effects: [Effect]) -> [ScoreRequest] {
        effects.compactMap { if case .scoreSentence(let r) = $0 { return r } else { return nil } }
    }

    func score(_ logProbs: [Double], tokens: [String] = ["Paris", "Ġis", "Ġthe", "Ġcapital"]) -> ModelScore {
        let pll = logProbs.reduce(0, +)
        return ModelScore(byteLevel: tokens, tokens: tokens.map { $0.replacingOccurrences(of: "Ġ", with: "␣") }, logProbs: logProbs,
                          pll: pll, pseudoPerplexity: exp(-pll / Double(logProbs.count)))
    }

    // MARK: compare measures

    func testCompareAsksForLogitsAndMeasuresTheTeacherAgainstTheStudentOnceBothAreIn() throws {
        var state = WorkbenchState(models: [teacher, student], text: "Paris is the <mask>")
        answer(reduce(&state, .opened), &state)
        let on = press([.function(3)], &state)
        XCTAssertEqual(requests(on).map(\.model), [0, 1], "the shown result has no logits: the teacher runs again")
        XCTAssertTrue(requests(on).allSatisfy(\.maskLogits))
        // The teacher's answer alone is not enough; the student's completes the pair.
        let first = requests(on)
        var followUps = reduce(&state, .inferenceFinished(id: first[0].id, model: 0, analysis: analysis(state.text, logits: true)))
        XCTAssertTrue(comparisons(followUps).isEmpty)
        XCTAssertTrue(state.isUpdating(1))
        followUps = reduce(&state, .inferenceFinished(id: first[1].id, model: 1, analysis: analysis(state.text, logits: true)))
        let request = try XCTUnwrap(comparisons(followUps).first)
        XCTAssertEqual([request.teacher, request.student], [0, 1], "the active (left) model is the teacher")
        XCTAssertEqual([request.teacherRun, request.studentRun], [first[0].id, first[1].id])
        XCTAssertEqual(request.k, 5)
        XCTAssertTrue(state.isMeasuring)
        XCTAssertNil(state.measures)
        XCTAssertTrue(comparisons(press([.tab, .down], &state)).isEmpty, "the same pair of results is measured once")

        let pair = VocabularyPair(teacherTokens: (0..<8).map { "t\($0)" }, studentTokens: (0..<8).map { "t\($0)" })
        let stale = ComparisonResult(ComparisonRequest(id: request.id - 100, teacher: 0, student: 1, teacherRun: request.teacherRun,
                                                       studentRun: request.studentRun, k: 5, teacherLogits: [], studentLogits: []), pair: pair)
        _ = reduce(&state, .comparisonFinished(stale))
        XCTAssertNil(state.comparison, "an answer to an older comparison is dropped")
        _ = reduce(&state, .comparisonFinished(ComparisonResult(request, pair: pair)))
        let measures = try XCTUnwrap(state.measures)
        XCTAssertFalse(state.isMeasuring)
        XCTAssertEqual(measures.masks.count, 1)
        XCTAssertEqual(measures.masks[0].kl, 0, accuracy: 1e-12, "the same logits: no divergence")
        XCTAssertTrue(measures.sharedVocabulary)
        XCTAssertEqual(measures.compared, 8)

        // An edit: the measures stay with the lists they measure while both models run again, then go.
        let edit = press([.char("e"), .char("!")], &state)
        XCTAssertNotNil(state.measures)
        let next = answer(edit, &state)
        XCTAssertNil(state.measures)
        XCTAssertEqual(comparisons(next).count, 1)
        XCTAssertTrue(state.isMeasuring)
    }

    func testSwitchingTheActiveModelSwapsTeacherAndStudent() throws {
        var state = WorkbenchState(models: [teacher, student], text: "a <mask>")
        state.compare = true
        state.topK = 2  // as many as the made-up results have
        answer(reduce(&state, .opened), &state)
        let effects = press([.function(2)], &state)
        XCTAssertTrue(requests(effects).isEmpty, "both results are current and have their logits")
        let request = try XCTUnwrap(comparisons(effects).first)
        XCTAssertEqual([request.teacher, request.student], [1, 0])
    }

    func testOneModelNeverAsksForLogitsOrMeasures() {
        var state = WorkbenchState(models: [teacher], text: "a <mask>")
        let effects = reduce(&state, .opened)
        XCTAssertFalse(requests(effects).contains { $0.maskLogits })
        XCTAssertTrue(comparisons(answer(effects, &state)).isEmpty)
        press([.function(3)], &state)
        XCTAssertNil(state.measures)
        XCTAssertFalse(state.isMeasuring)
    }

    func testMeasuresOverOneVocabularyAndOverSharedStrings() throws {
        let same = VocabularyPair(teacherTokens: ["a", "b", "c", "d"], studentTokens: ["a", "b", "c", "d"])
        XCTAssertTrue(same.identical)
        let p: [Float] = [2, 1, 0, -1], q: [Float] = [1, 2, 0, -1]
        let m = try XCTUnwrap(same.measure(teacher: [p, p], student: [p, q], k: 2).last)
        XCTAssertEqual(same.measure(teacher: [p, p], student: [p, q], k: 2).count, 2)
        XCTAssertFalse(m.top1Agree)
        XCTAssertEqual(m.overlap, 1)
        XCTAssertEqual(m.shared, 2)
        XCTAssertEqual(m.spearman ?? 0, -1, accuracy: 1e-12, "two ids in swapped order")
        // By hand: KL(p || q) = Σ p (ln p - ln q) over the softmaxes.
        func softmax(_ x: [Float]) -> [Double] { let e = x.map { exp(Double($0)) }; let s = e.reduce(0, +); return e.map { $0 / s } }
        let sp = softmax(p), sq = softmax(q)
        let kl = zip(sp, sq).reduce(0) { $0 + $1.0 * log($1.0 / $1.1) }
        XCTAssertEqual(m.kl, kl, accuracy: 1e-9)
        XCTAssertGreaterThan(m.js, 0)
        XCTAssertLessThanOrEqual(m.js, log(2))
        XCTAssertEqual(m.compared, 4)

        // Different vocabularies: only the strings both have ("b", "c"), each distribution renormalised over them.
        let other = VocabularyPair(teacherTokens: ["a", "b", "c"], studentTokens: ["c", "x", "b"])
        XCTAssertFalse(other.identical)
        XCTAssertEqual(other.shared, 2)
        let n = try XCTUnwrap(other.measure(teacher: [[5, 1, 0]], student: [[0, 9, 1]], k: 1).first)
        XCTAssertEqual(n.compared, 2)
        XCTAssertTrue(n.top1Agree, "teacher: b over c; student: b (1) over c (0)")
    }

    func testMasksAreMatchedInOrderWhenTheTokenizationsDiffer() {
        let pair = VocabularyPair(teacherTokens: ["a", "b"], studentTokens: ["a", "b"])
        let request = ComparisonRequest(id: 1, teacher: 0, student: 1, teacherRun: 1, studentRun: 2, k: 1,
                                        teacherLogits: [[1, 0], [0, 1]], studentLogits: [[1, 0]])
        let result = ComparisonResult(request, pair: pair)
        XCTAssertEqual(result.masks.count, 1)
        XCTAssertEqual([result.teacherMasks, result.studentMasks], [2, 1])
        XCTAssertTrue(result.masks[0].top1Agree)
    }

    // MARK: the pseudo-log-likelihood strip

    func testF7ScoresTheSentenceWithTheTeachersTop1InEachMaskForBothModels() throws {
        var state = WorkbenchState(models: [teacher, student], text: "Paris is the <mask>")
        state.compare = true
        answer(reduce(&state, .opened), &state, candidates: { $0 == 0 ? [" capital"] : [" city"] })
        let effects = press([.function(7)], &state)
        let asked = scorings(effects)
        XCTAssertEqual(asked.map(\.model), [0, 1])
        XCTAssertEqual(Set(asked.map(\.text)), ["Paris is the capital"], "both score the teacher's filling")
        let strip = try XCTUnwrap(state.likelihood)
        XCTAssertEqual(strip.filledBy, "teacher")
        XCTAssertEqual(strip.source, "Paris is the <mask>")
        XCTAssertTrue(strip.isPending)
        XCTAssertTrue(state.likelihoodIsCurrent)

        _ = reduce(&state, .scoreFinished(id: asked[1].id, model: 1, score: score([-3, -0.5, -0.2, -4])))
        XCTAssertTrue(state.likelihood?.isPending ?? false)
        _ = reduce(&state, .scoreFinished(id: 999, model: 0, score: score([0, 0, 0, 0])))
        XCTAssertNil(state.likelihood?.scores[0], "a score for another request is dropped")
        _ = reduce(&state, .scoreFinished(id: asked[0].id, model: 0, score: score([-3.05, -0.5, -1.0, -1.5])))
        let done = try XCTUnwrap(state.likelihood)
        XCTAssertFalse(done.isPending)
        XCTAssertTrue(done.sameTokens)
        XCTAssertEqual(done.largestDifferences, [3, 2], "|Δ| 2.5 and 0.8; 0.05 and 0 are agreement")
        XCTAssertEqual(done.differences[3], -2.5, accuracy: 1e-12, "student − teacher")

        // Again on a current strip: it closes, without cancelling anything.
        XCTAssertEqual(press([.function(7)], &state), [])
        XCTAssertNil(state.likelihood)
    }

    func testAnEditCancelsTheScoringUnderWayAndLeavesTheStripForItsSentence() throws {
        var state = WorkbenchState(models: [teacher], text: "The cat sat.")
        answer(reduce(&state, .opened), &state)
        state.results[0]?.masks = []  // a sentence without a mask is scored as it is
        let asked = scorings(press([.function(7)], &state))
        XCTAssertEqual(asked.map(\.text), ["The cat sat."])
        XCTAssertNil(state.likelihood?.filledBy)
        XCTAssertTrue(press([.char("!")], &state).contains(.cancelScoring))
        XCTAssertEqual(state.likelihood?.cancelled, true)
        XCTAssertFalse(state.likelihoodIsCurrent)
        let more = press([.char("?")], &state)
        XCTAssertFalse(more.contains(.cancelScoring), "cancelled once")
        // F7 on the stale strip scores the new sentence (once its candidates are in) rather than closing.
        answer(more, &state)
        state.results[0]?.masks = []
        let again = scorings(press([.function(7)], &state))
        XCTAssertEqual(again.map(\.text), ["The cat sat.!?"])
        XCTAssertTrue(state.likelihoodIsCurrent)
    }

    func testF7BeforeTheCandidatesAreInSaysToWait() {
        var state = WorkbenchState(models: [teacher], text: "Paris is the <mask>")
        _ = reduce(&state, .opened)
        XCTAssertTrue(scorings(press([.function(7)], &state)).isEmpty)
        XCTAssertNil(state.likelihood)
        XCTAssertEqual(state.notice?.isError, true)
        XCTAssertTrue(state.notice?.text.contains("press F7 (p) again") ?? false)
        // F3 then F7 at once: the teacher runs again for its logits, but its shown candidates are for this text.
        var compared = WorkbenchState(models: [teacher, student], text: "Paris is the <mask>")
        answer(reduce(&compared, .opened), &compared)
        press([.function(3)], &compared)
        XCTAssertTrue(compared.isUpdating(0))
        XCTAssertEqual(scorings(press([.function(7)], &compared)).map(\.text), ["Paris is the capital", "Paris is the capital"])
    }

    func testOneModelScoresOneRowAndHasNoDifferences() throws {
        var state = WorkbenchState(models: [teacher, student], text: "Paris is the <mask>")
        answer(reduce(&state, .opened), &state)
        XCTAssertEqual(scorings(press([.function(7)], &state)).map(\.model), [0], "compare is off: the active model only")
        let id = try XCTUnwrap(state.likelihood?.requests.first)
        _ = reduce(&state, .scoreFinished(id: id, model: 0, score: score([-1, -2, -3, -4])))
        XCTAssertFalse(state.likelihood?.sameTokens ?? true)
        XCTAssertEqual(state.likelihood?.largestDifferences, [])
        // Turning compare on leaves the strip standing for the one model, no longer current.
        press([.function(3)], &state)
        XCTAssertFalse(state.likelihoodIsCurrent)
    }

    func testPKeyTogglesTheStripOutsideTheEditorAndTypesInIt() {
        var state = WorkbenchState(models: [teacher], text: "a")
        XCTAssertEqual(Keymap.action(for: .function(7), in: state), .likelihoodToggled)
        XCTAssertEqual(Keymap.action(for: .char("p"), in: state), .textInserted("p"))
        state.focus = .tokens
        XCTAssertEqual(Keymap.action(for: .char("p"), in: state), .likelihoodToggled)
        XCTAssertTrue(Keymap.bindings.contains { $0.keys == "F7 (p)" })
    }

    func testTopCandidatesFillEveryMaskFromTheEnd() {
        let text = "The <mask> sat on the <mask>."
        let a = Analysis(text: text, tokens: [], masks: [
            MaskRow(position: 2, span: 3..<10, candidates: [CandidateRow(id: 1, text: " cat", probability: 0.5)]),
            MaskRow(position: 6, span: 21..<28, candidates: [CandidateRow(id: 2, text: " mat", probability: 0.5)]),
        ])
        XCTAssertEqual(textWithTopCandidates(a), "The cat sat on the mat.")
    }
}

/// The background work on the tiny fixture model: whole-vocabulary logits at the masks, sentence scores, and
/// the scheduler's comparisons.
final class ScoringWorkTests: XCTestCase {
    func testMaskLogitsAreTheWholeDistributionBehindTheCandidates() throws {
        let model = try InferenceTests.model.get()
        let analysis = model.analyse("The <mask> sat on the <mask>.", topK: 3, maskLogits: true)
        let logits = try XCTUnwrap(analysis.maskLogits)
        XCTAssertEqual(logits.count, 2)
        XCTAssertEqual(logits[0].count, model.config.vocabSize)
        for (mask, row) in zip(analysis.masks, logits) {
            let peak = row.max() ?? 0
            let sum = row.reduce(0.0) { $0 + exp(Double($1 - peak)) }
            let best = try XCTUnwrap(mask.candidates.first)
            XCTAssertEqual(Double(best.probability), exp(Double(row[best.id] - peak)) / sum, accuracy: 1e-5)
        }
        XCTAssertNil(model.analyse("The <mask> sat.", topK: 3).maskLogits, "kept only when asked")
    }

    func testScoreSentenceGivesOneLogProbabilityPerTokenAndStopsWhenCancelled() throws {
        let model = try InferenceTests.model.get()
        let score = try XCTUnwrap(model.scoreSentence("Paris is the capital of France."))
        XCTAssertNil(score.error)
        XCTAssertEqual(score.byteLevel, ["Paris", "Ġis", "Ġthe", "Ġcapital", "Ġof", "ĠFrance", "."])
        XCTAssertEqual(score.tokens.first, "Paris")
        XCTAssertEqual(score.tokens[1], "␣is")
        XCTAssertEqual(score.logProbs.count, 7)
        XCTAssertEqual(score.pll, score.logProbs.reduce(0, +), accuracy: 1e-12)
        XCTAssertEqual(score.pseudoPerplexity, exp(-score.pll / 7), accuracy: 1e-9)
        XCTAssertTrue(score.logProbs.allSatisfy { $0 < 0 })
        let cancelled = Cancellation()
        cancelled.cancel()
        XCTAssertNil(model.scoreSentence("Paris is the capital of France.", cancellation: cancelled))
        XCTAssertNotNil(model.scoreSentence("").flatMap(\.error), "nothing to score is said, not thrown")
    }

    func testSchedulerAnswersScoresAndComparisonsThroughItsActions() throws {
        let model = try InferenceTests.model.get()
        let actions = Posted()
        let done = expectation(description: "score and comparison")
        done.expectedFulfillmentCount = 2
        let scheduler = InferenceScheduler(models: [model, model], deliver: { _, _ in }, finished: { action in
            actions.append(action)
            done.fulfill()
        })
        let logits = try XCTUnwrap(model.analyse("The <mask> sat.", topK: 2, maskLogits: true).maskLogits)
        scheduler.submitScore(ScoreRequest(id: 7, model: 0, text: "The cat sat."))
        scheduler.submitComparison(ComparisonRequest(id: 8, teacher: 0, student: 1, teacherRun: 1, studentRun: 2, k: 5,
                                                     teacherLogits: logits, studentLogits: logits))
        wait(for: [done], timeout: 20)
        var sawScore = false, sawComparison = false
        for action in actions.all {
            switch action {
            case .scoreFinished(let id, let m, let score):
                sawScore = true
                XCTAssertEqual([id, m], [7, 0])
                XCTAssertEqual(score.logProbs.count, score.tokens.count)
            case .comparisonFinished(let result):
                sawComparison = true
                XCTAssertEqual(result.id, 8)
                XCTAssertTrue(result.sharedVocabulary)
                XCTAssertEqual(result.compared, model.config.vocabSize)
                XCTAssertEqual(result.masks.first?.kl ?? 1, 0, accuracy: 1e-9)
                XCTAssertEqual(result.masks.first?.top1Agree, true)
            default: XCTFail("unexpected \(action)")
            }
        }
        XCTAssertTrue(sawScore && sawComparison)
    }

    /// A model with another vocabulary (the pocket teacher: 8,192 entries; tiny: 1,000) is compared over the
    /// token strings the two share.
    func testModelsWithDifferentVocabulariesAreComparedOverSharedStrings() throws {
        let tiny = try InferenceTests.model.get()
        let pocket = try RobertaModel.load(directory: InferenceTests.repoRoot.appendingPathComponent("models/pocket-teacher"))
        let pair = VocabularyPair(teacher: pocket, student: tiny)
        XCTAssertFalse(pair.identical)
        XCTAssertGreaterThan(pair.shared, 100)
        XCTAssertLessThan(pair.shared, 1000)
        let text = "Paris is the <mask> of France."
        let p = try XCTUnwrap(pocket.analyse(text, topK: 1, maskLogits: true).maskLogits)
        let q = try XCTUnwrap(tiny.analyse(text, topK: 1, maskLogits: true).maskLogits)
        let m = try XCTUnwrap(pair.measure(teacher: p, student: q, k: 5).first)
        XCTAssertEqual(m.compared, pair.shared)
        XCTAssertGreaterThan(m.kl, 0)
        XCTAssertLessThanOrEqual(m.js, log(2) + 1e-12)
    }
}

final class Posted: @unchecked Sendable {
    private let lock = NSLock()
    private var actions: [Action] = []
    func append(_ action: Action) { lock.lock(); actions.append(action); lock.unlock() }
    var all: [Action] { lock.lock(); defer { lock.unlock() }; return actions }
}
