import Foundation
import TestSupport
import XCTest
@testable import RoBERTa

/// Several sequences in one packed pass give each the numbers of its own pass (issue #10: within 1e-6).
final class BatchTests: XCTestCase {
    static let texts = [
        "Paris is the <mask> of France.",
        "Hi",
        "The quick brown fox jumps over the lazy <mask> while the cat sleeps in the warm sun by the window.",
        "<mask>",
        "A <mask> and a <mask> walk into a bar.",
        "Tokens, punctuation; and numbers like 12345 or 3.14159 come out as several pieces each!",
    ]

    func check(_ model: RobertaModel, name: String, batchTokens: Int = RobertaModel.defaultBatchTokens) throws {
        let batch = try Self.texts.map { try model.inputIDs(for: $0) }
        let packed = try model.encode(batch: batch, capture: CaptureOptions(attention: true, hiddenStates: true), batchTokens: batchTokens)
        XCTAssertEqual(packed.count, batch.count)
        var worst = 0.0
        for (ids, got) in zip(batch, packed) {
            let alone = try model.encode(ids: ids, capture: CaptureOptions(attention: true, hiddenStates: true))
            worst = max(worst, assertClose(got.lastHiddenState, alone.lastHiddenState, tolerance: 1e-6, "\(name): last hidden state of \(ids.count) tokens"))
            worst = max(worst, assertClose(try XCTUnwrap(got.hiddenStates), try XCTUnwrap(alone.hiddenStates), tolerance: 1e-6, "\(name): hidden states"))
            worst = max(worst, assertClose(try XCTUnwrap(got.attention).values, try XCTUnwrap(alone.attention).values, tolerance: 1e-6, "\(name): attention"))
            XCTAssertEqual(got.attention?.tokens, ids.count)
        }
        // Logits at chosen rows, packed, against the single-sequence LM head.
        let rows = batch.map { ids in Array(Set([0, ids.count / 2, ids.count - 1])).sorted() }
        let logits = try model.logits(batch: batch, at: rows, batchTokens: batchTokens)
        for (i, ids) in batch.enumerated() {
            let alone = try model.logits(try model.encode(ids: ids), at: rows[i]).flatMap { $0 }
            worst = max(worst, assertClose(logits[i], alone, tolerance: 1e-6, relative: true, "\(name): logits of sequence \(i)"))
        }
        print("\(name) (batchTokens \(batchTokens)): largest difference packed vs alone \(worst)")
    }

    func testPackedPassEqualsSinglePasses() throws {
        for name in ["tiny", "tiny-untied", "tiny-bf16"] {
            try check(try RobertaModel.load(directory: Fixtures.model(name)), name: name)
        }
    }

    func testPackedPassWithOpenBLASAndOneThread() throws {
        try check(try RobertaModel.load(directory: Fixtures.model("tiny"), threads: 1, kernels: .openblas), name: "tiny openblas")
    }

    func testSmallTokenBudgetSplitsIntoSeveralPasses() throws {
        let model = try RobertaModel.load(directory: Fixtures.model("tiny"))
        try check(model, name: "tiny", batchTokens: 20)
        XCTAssertEqual(RobertaModel.chunks(of: [5, 5, 5, 30, 1], batchTokens: 10), [0..<2, 2..<3, 3..<4, 4..<5])
        XCTAssertEqual(RobertaModel.chunks(of: [], batchTokens: 10), [])
    }

    func testFillMaskOverABatchAnswersAsOneAtATime() throws {
        let model = try RobertaModel.load(directory: Fixtures.model("tiny"))
        let texts = Self.texts.filter { $0.contains("<mask>") }
        for batchTokens in [12, RobertaModel.defaultBatchTokens] {
            let together = try model.fillMask(texts: texts, options: FillMaskOptions(topK: 7), batchTokens: batchTokens)
            XCTAssertEqual(together.count, texts.count)
            for (text, got) in zip(texts, together) {
                let alone = try model.fillMask(text, options: FillMaskOptions(topK: 7))
                XCTAssertEqual(got.masks, alone.masks, text)
                XCTAssertEqual(got.maskLogits, alone.maskLogits, text)
                XCTAssertEqual(got.maskLogits, try model.logits(alone.encoder, at: alone.masks.map(\.position)), text)
                XCTAssertEqual(got.ids, alone.ids)
            }
        }
        XCTAssertThrowsError(try model.fillMask(texts: ["a <mask>", "no mask here"])) { error in
            XCTAssertEqual(error as? InferenceError, .noMaskToken(text: "no mask here", mask: "<mask>"))
        }
    }

    func testBadRowsAndIdsAreErrors() throws {
        let model = try RobertaModel.load(directory: Fixtures.model("tiny"))
        let ids = try model.inputIDs(for: "Paris is the <mask> of France.")
        XCTAssertThrowsError(try model.logits(batch: [ids], at: [[ids.count]])) { error in
            XCTAssertEqual(error as? InferenceError, .positionOutOfRange(position: ids.count, tokens: ids.count))
        }
        XCTAssertThrowsError(try model.logits(batch: [ids, []], at: [[1], []])) { error in
            XCTAssertEqual(error as? InferenceError, .emptyInput)
        }
        XCTAssertThrowsError(try model.encode(batch: [ids, [0, 99_999, 2]])) { error in
            XCTAssertEqual(error as? InferenceError, .tokenOutOfRange(id: 99_999, vocabSize: model.config.vocabSize))
        }
    }
}
