import Foundation
import RoBERTa
import XCTest
@testable import Workbench

/// The analysis the workbench runs, on the tiny fixture model.
final class InferenceTests: XCTestCase {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let model = Result { try RobertaModel.load(directory: repoRoot.appendingPathComponent("Tests/Fixtures/models/tiny")) }

    func testAnalysisHasTokensMergesCandidatesAndAttention() throws {
        let model = try Self.model.get()
        let analysis = model.analyse("Paris is the <mask> of France.", topK: 3)
        XCTAssertNil(analysis.error)
        XCTAssertEqual(analysis.tokens.map(\.byteLevel), ["<s>", "Paris", "Ġis", "Ġthe", "<mask>", "Ġof", "ĠFrance", ".", "</s>"])
        XCTAssertEqual(analysis.tokens[2].readable, "␣is")
        XCTAssertEqual(analysis.tokens[6].span, 23..<29)
        XCTAssertNil(analysis.tokens[0].word)
        XCTAssertEqual(analysis.masks.count, 1)
        XCTAssertEqual(analysis.masks[0].span, 12..<19, "the mask's span includes the space it absorbs")
        XCTAssertEqual(analysis.masks[0].candidates.count, 3)
        let attention = try XCTUnwrap(analysis.attention)
        XCTAssertEqual([attention.layers, attention.heads, attention.tokens], [2, 4, 9])
        let france = try XCTUnwrap(analysis.tokens[6].word.map { analysis.words[$0] })
        XCTAssertFalse(france.steps.isEmpty)
        XCTAssertEqual(france.steps.last?.merged, "ĠFrance")
    }

    func testTextWithoutMaskStillShowsTokensAndSaysWhatIsMissing() throws {
        let analysis = try Self.model.get().analyse("no mask here", topK: 5)
        XCTAssertEqual(analysis.tokens.map(\.byteLevel).joined(), "<s>noĠmaskĠhere</s>")
        XCTAssertTrue(analysis.masks.isEmpty)
        XCTAssertTrue(analysis.error?.contains("no <mask> yet") ?? false)
    }

    func testTooLongTextIsAnErrorNotACrash() throws {
        let long = String(repeating: "word ", count: 600) + "<mask>"
        let analysis = try Self.model.get().analyse(long, topK: 5)
        XCTAssertTrue(analysis.masks.isEmpty)
        XCTAssertTrue(analysis.error?.contains("at most 512") ?? false, analysis.error ?? "")
    }

    func testSchedulerDeliversTheLatestRequestAndSkipsWaitingOnes() throws {
        let model = try Self.model.get()
        let delivered = Delivered()
        let done = expectation(description: "latest delivered")
        let scheduler = InferenceScheduler(models: [model]) { request, analysis in
            delivered.append(request.id)
            if request.id == 20 { done.fulfill() }
            XCTAssertEqual(analysis.text, request.text)
            XCTAssertNil(analysis.error, "a run cancelled by a newer request is never delivered")
        }
        for id in 1...20 { scheduler.submit(InferenceRequest(id: id, model: 0, text: "text \(id) <mask>", topK: 2)) }
        wait(for: [done], timeout: 10)
        XCTAssertEqual(delivered.ids.last, 20)
        XCTAssertLessThan(delivered.ids.count, 20, "requests that waited behind a newer one are dropped")
    }
}

extension InferenceTests {
    func testCancelledRunStopsBeforeItsLayersAndSaysSo() throws {
        let model = try Self.model.get()
        let cancellation = Cancellation()
        XCTAssertNil(model.analyse("Paris is the <mask> of France.", topK: 2, cancellation: cancellation).error)
        cancellation.cancel()
        let ids = try model.inputIDs(for: "Paris is the <mask> of France.")
        XCTAssertThrowsError(try model.fillMask(ids: ids, cancellation: cancellation)) { error in
            XCTAssertEqual(error as? InferenceError, .cancelled)
        }
        let analysis = model.analyse("Paris is the <mask> of France.", topK: 2, cancellation: cancellation)
        XCTAssertTrue(analysis.masks.isEmpty)
        XCTAssertEqual(analysis.tokens.count, 9, "the tokens are still there")
        XCTAssertTrue(analysis.error?.contains("cancelled") ?? false, analysis.error ?? "")
    }
}

extension InferenceTests {
    /// Comparing two models while typing: the runs take turns, so the second model is not starved.
    func testSchedulerTakesTheModelsInTurn() {
        XCTAssertEqual(InferenceScheduler.nextModel(waiting: [0, 1], after: -1), 0)
        XCTAssertEqual(InferenceScheduler.nextModel(waiting: [0, 1], after: 0), 1, "model 0 just ran: model 1's turn")
        XCTAssertEqual(InferenceScheduler.nextModel(waiting: [1, 0], after: 1), 0)
        XCTAssertEqual(InferenceScheduler.nextModel(waiting: [0], after: 0), 0)
        XCTAssertEqual(InferenceScheduler.nextModel(waiting: [2, 0], after: 1), 2)
        XCTAssertNil(InferenceScheduler.nextModel(waiting: [], after: 0))
    }
}

final class Delivered: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Int] = []
    func append(_ id: Int) { lock.lock(); values.append(id); lock.unlock() }
    var ids: [Int] { lock.lock(); defer { lock.unlock() }; return values }
}
