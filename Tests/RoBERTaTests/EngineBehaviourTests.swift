import Foundation
import TestSupport
import XCTest
@testable import RoBERTa

/// Engine behaviour that the reference dumps do not pin down on their own.
final class EngineBehaviourTests: XCTestCase {
    static let tiny = Result { try RobertaModel.load(directory: Fixtures.model("tiny")) }

    func model() throws -> RobertaModel { try Self.tiny.get() }

    func testPositionIDsStartAfterPaddingIndexAndSkipPadTokens() throws {
        let m = try model()
        // <s> x <pad> y </s>: the pad keeps padding_idx and does not advance the count.
        XCTAssertEqual(m.weights.positionIDs(for: [0, 50, 1, 60, 2]), [2, 3, 1, 4, 5])
    }

    func testTextWithoutMaskIsAnError() throws {
        XCTAssertThrowsError(try model().fillMask("Paris is the capital of France.")) { error in
            guard case InferenceError.noMaskToken = error else { return XCTFail("got \(error)") }
            XCTAssertTrue("\(error)".contains("<mask>"))
        }
    }

    func testInputLongerThanPositionsSaysHowLong() throws {
        let m = try model()
        let text = String(repeating: "word ", count: 600) + "<mask>."
        let count = m.tokenizer.encode(text).ids.count
        XCTAssertGreaterThan(count, 512)
        XCTAssertThrowsError(try m.fillMask(text)) { error in
            XCTAssertEqual(error as? InferenceError, .inputTooLong(tokens: count, maximum: 512))
            XCTAssertTrue("\(error)".contains("\(count) tokens"))
        }
    }

    func testTruncationKeepsTheFirstTokensAndClosesWithEOS() throws {
        let m = try model()
        let text = "The <mask> " + String(repeating: "word ", count: 600)
        let ids = try m.inputIDs(for: text, truncate: true)
        XCTAssertEqual(ids.count, 512)
        XCTAssertEqual(ids.first, m.tokenizer.bosID)
        XCTAssertEqual(ids.last, m.tokenizer.eosID)
        XCTAssertEqual(try m.fillMask(text, options: FillMaskOptions(truncate: true)).masks.count, 1)
    }

    func testTopKIsCappedAtVocabularyAndOrdered() throws {
        let m = try model()
        let result = try m.fillMask("Paris is the <mask> of France.", options: FillMaskOptions(topK: m.config.vocabSize + 10))
        let scores = result.masks[0].candidates.map(\.score)
        XCTAssertEqual(scores.count, m.config.vocabSize)
        XCTAssertEqual(scores, scores.sorted(by: >))
        assertClose(scores.reduce(0, +), 1.0, tolerance: 1e-4, "sum of all scores")
    }

    func testTargetMissingFromVocabularyFallsBackToItsFirstTokenWithWarning() throws {
        let m = try model()
        let result = try m.fillMask("Paris is the <mask> of France.", options: FillMaskOptions(targets: ["zzqx-not-a-word"]))
        XCTAssertEqual(result.warnings.count, 1)
        XCTAssertTrue(result.warnings[0].contains("does not exist in the model vocabulary"))
        let first = m.tokenizer.encode("zzqx-not-a-word", addSpecialTokens: false).ids[0]
        XCTAssertEqual(result.masks[0].candidates.map(\.token), [first])
    }

    func testAttentionRowsAreDistributions() throws {
        let result = try model().fillMask("Today is a <mask> day!", options: FillMaskOptions(capture: CaptureOptions(attention: true)))
        let maps = try XCTUnwrap(result.attention)
        var sums: [Float] = []
        for layer in 0..<maps.layers {
            for head in 0..<maps.heads {
                for q in 0..<maps.tokens {
                    sums.append((0..<maps.tokens).reduce(Float(0)) { $0 + maps[layer, head, q, $1] })
                }
            }
        }
        XCTAssertEqual(sums.count, maps.layers * maps.heads * maps.tokens)
        assertClose(sums, [Double](repeating: 1, count: sums.count), tolerance: 1e-5, "attention row sums")
    }

    func testAttentionCaptureIsOffByDefault() throws {
        let result = try model().fillMask("Today is a <mask> day!")
        XCTAssertNil(result.attention)
        XCTAssertNil(result.encoder.hiddenStates)
    }

    func testCheckpointSavedByTransformers5WithoutVocabFilesLoads() throws {
        // transformers 5 save_pretrained writes tokenizer.json but no vocab.json / merges.txt.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("maskscope-v5-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for name in ["config.json", "tokenizer.json", "tokenizer_config.json", "model.safetensors"] {
            try FileManager.default.copyItem(at: Fixtures.model("tiny").appendingPathComponent(name), to: dir.appendingPathComponent(name))
        }
        let copy = try RobertaModel.load(directory: dir)
        for text in ["Paris is the <mask> of France.", "Today is a <mask> day!"] {
            XCTAssertEqual(try copy.fillMask(text).masks, try model().fillMask(text).masks)
        }
    }

    func testHalfToFloatIsExactForEveryBitPattern() {
        #if arch(x86_64) || arch(arm64)
        for bits in 0...UInt16.max {
            let want = Float(Float16(bitPattern: bits))
            let got = halfToFloat(bits)
            if want.isNaN { XCTAssertTrue(got.isNaN) } else { XCTAssertEqual(got.bitPattern, want.bitPattern, "bits \(bits)") }
        }
        #endif
    }
}
