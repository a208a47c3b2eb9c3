import Foundation
import TestSupport
import XCTest
@testable import RoBERTa

/// Fill-mask, logits, attention and hidden states agree with what transformers computed on the same checkpoints.
final class ReferenceAgreementTests: XCTestCase {
    static let probabilityTolerance = 1e-5

    func checkAgreement(model name: String, minimum: (logits: Int, attention: Int),
                        file: StaticString = #filePath, line: UInt = #line) throws {
        var checked = (logits: 0, attention: 0)
        let model = try RobertaModel.load(directory: Fixtures.model(name))
        let reference = try Fixtures.referenceJSON(name)
        let cases = try XCTUnwrap(reference["cases"] as? [[String: Any]])
        XCTAssertGreaterThan(cases.count, 5, "reference \(name) has too few cases")
        // Each comparison fails on its own (NaN, count, tolerance); the worst values are kept for the summary only.
        var worstScore = 0.0, worstLogit = 0.0, worstAttention = 0.0, worstHidden = 0.0
        func worst(_ a: Double, _ b: Double) -> Double { a.isNaN || b.isNaN ? .nan : max(a, b) }
        for c in cases {
            let text = try XCTUnwrap(c["text"] as? String)
            let ids = try XCTUnwrap(c["ids"] as? [Int])
            XCTAssertEqual(try model.inputIDs(for: text), ids, "ids of \(text.debugDescription)", file: file, line: line)
            let result = try model.fillMask(ids: ids, options: FillMaskOptions(topK: 5, capture: CaptureOptions(attention: true)), text: text)
            XCTAssertEqual(result.masks.map(\.position), c["mask_positions"] as? [Int], "mask positions of \(text.debugDescription)")

            // Pipeline output: a list of candidates for one mask, a list of lists for several.
            let pipeline = try XCTUnwrap(c["pipeline_top5"] as? [Any])
            let expectedLists: [[[String: Any]]] = result.masks.count == 1
                ? [try XCTUnwrap(pipeline as? [[String: Any]])]
                : try XCTUnwrap(pipeline as? [[[String: Any]]])
            XCTAssertEqual(expectedLists.count, result.masks.count)
            for (mask, expected) in zip(result.masks, expectedLists) {
                XCTAssertEqual(mask.candidates.map(\.token), expected.map { $0["token"] as? Int ?? -1 },
                               "ranked tokens of \(text.debugDescription)", file: file, line: line)
                for (got, want) in zip(mask.candidates, expected) {
                    XCTAssertEqual(got.tokenStr, want["token_str"] as? String, "token_str in \(text.debugDescription)", file: file, line: line)
                    XCTAssertEqual(got.sequence, want["sequence"] as? String, "sequence in \(text.debugDescription)", file: file, line: line)
                }
                let scores = expected.map { ($0["score"] as? NSNumber)?.doubleValue ?? .nan }
                worstScore = worst(worstScore, assertClose(mask.candidates.map(\.score), scores, tolerance: Self.probabilityTolerance,
                                                           "\(name): scores of \(text.debugDescription)", file: file, line: line))
            }

            // Raw logits at the masks, relative to their size (only some cases carry them, to keep fixtures small).
            if let expectedLogits = c["logits_at_masks"] as? [[Any]] {
                checked.logits += 1
                let logits = try model.logits(result.encoder, at: result.masks.map(\.position))
                XCTAssertEqual(logits.count, expectedLogits.count, "\(name): logit rows of \(text.debugDescription)", file: file, line: line)
                for (row, want) in zip(logits, expectedLogits) {
                    // Relative to the row's largest logit (at least 1).
                    let w = doubles(want)
                    let scale = max(1, w.map(abs).max() ?? 1)
                    let difference = assertClose(row, w, tolerance: 1e-5 * scale,
                                                 "\(name): logits at the masks of \(text.debugDescription)", file: file, line: line)
                    worstLogit = worst(worstLogit, difference / scale)
                }
            }
            // Attention probabilities [layer][head][query][key] and the final hidden states.
            if c["attention"] != nil {
                checked.attention += 1
                let attention = try XCTUnwrap(result.attention)
                worstAttention = worst(worstAttention, assertClose(attention.values, doubles(c["attention"]), tolerance: Self.probabilityTolerance,
                                                                   "\(name): attention of \(text.debugDescription)", file: file, line: line))
            }
            if c["last_hidden_state"] != nil {
                worstHidden = worst(worstHidden, assertClose(result.encoder.lastHiddenState, doubles(c["last_hidden_state"]), tolerance: 1e-4,
                                                             "\(name): last hidden state of \(text.debugDescription)", file: file, line: line))
            }
        }
        XCTAssertGreaterThanOrEqual(checked.logits, minimum.logits, "\(name): too few cases with logits")
        XCTAssertGreaterThanOrEqual(checked.attention, minimum.attention, "\(name): too few cases with attention")
        print("\(name): max differences from transformers: score \(worstScore), attention \(worstAttention), logit (rel) \(worstLogit), hidden \(worstHidden)")
    }

    func testTinyFloat32AgreesWithTransformers() throws { try checkAgreement(model: "tiny", minimum: (19, 16)) }
    func testFloat16CheckpointAgreesWithTransformers() throws { try checkAgreement(model: "tiny-f16", minimum: (3, 0)) }
    func testBFloat16CheckpointAgreesWithTransformers() throws { try checkAgreement(model: "tiny-bf16", minimum: (3, 0)) }
    func testShardedCheckpointAgreesWithTransformers() throws { try checkAgreement(model: "tiny-sharded", minimum: (3, 0)) }
    func testUntiedDecoderAgreesWithTransformers() throws { try checkAgreement(model: "tiny-untied", minimum: (3, 3)) }

    /// transformers computes an F16/BF16 checkpoint in its own dtype by default; we widen to float32 once, so our
    /// scores may differ from that run by the dtype's rounding (a few units of its epsilon), no more.
    func checkNativeDTypeWithinPrecision(model name: String, epsilon: Double) throws {
        let model = try RobertaModel.load(directory: Fixtures.model(name))
        let native = try XCTUnwrap(try Fixtures.referenceJSON(name)["native_dtype"] as? [String: Any])
        let cases = try XCTUnwrap(native["cases"] as? [[String: Any]])
        var mine: [Float] = [], theirs: [Double] = []
        for c in cases {
            let text = try XCTUnwrap(c["text"] as? String)
            let pipeline = try XCTUnwrap(c["pipeline_top5"] as? [Any])
            let lists = (pipeline as? [[String: Any]]).map { [$0] } ?? (pipeline as? [[[String: Any]]] ?? [])
            let result = try model.fillMask(text)
            for (mask, expected) in zip(result.masks, lists) {
                let ours = Dictionary(uniqueKeysWithValues: mask.candidates.map { ($0.token, $0.score) })
                for entry in expected {
                    guard let token = entry["token"] as? Int, let score = (entry["score"] as? NSNumber)?.doubleValue,
                          let our = ours[token] else { continue }
                    mine.append(our)
                    theirs.append(score)
                }
            }
        }
        XCTAssertGreaterThan(mine.count, 50)
        assertClose(mine, theirs, tolerance: 4 * epsilon, "\(name): scores against transformers in its native dtype")
    }

    func testFloat16CheckpointAgreesWithNativeFloat16WithinItsPrecision() throws {
        try checkNativeDTypeWithinPrecision(model: "tiny-f16", epsilon: 0x1p-11)
    }

    func testBFloat16CheckpointAgreesWithNativeBFloat16WithinItsPrecision() throws {
        try checkNativeDTypeWithinPrecision(model: "tiny-bf16", epsilon: 0x1p-8)
    }

    /// A 16-bit checkpoint keeps its matrices 16-bit for the kernels, which widen them exactly: the answers are
    /// bit for bit those of the checkpoint widened to float32 at load.
    func testSixteenBitCheckpointsKeepTheirMatricesAndAnswerAsTheirFloat32Widening() throws {
        try XCTSkipUnless(Compute.kernelsAvailable, "this CPU has no AVX2/FMA/F16C: every weight is widened to float32 here")
        for (name, dtype) in [("tiny-bf16", "BF16"), ("tiny-f16", "F16")] {
            let kept = try RobertaModel.load(directory: Fixtures.model(name))
            let widened = try RobertaModel.load(directory: Fixtures.model(name), precision: .float32)
            XCTAssertEqual(kept.weightsSummary.matrixDType, dtype)
            XCTAssertEqual(widened.weightsSummary.matrixDType, "F32")
            XCTAssertLessThan(kept.weightsSummary.copiedBytes, widened.weightsSummary.copiedBytes)
            for text in ["Paris is the <mask> of France.", "<mask> is a <mask> day in <mask>!",
                         "The quick brown fox, who had been running all day, stopped by the <mask> river to drink."] {
                let a = try kept.fillMask(text, options: FillMaskOptions(topK: 10, capture: CaptureOptions(attention: true)))
                let b = try widened.fillMask(text, options: FillMaskOptions(topK: 10, capture: CaptureOptions(attention: true)))
                XCTAssertEqual(a.masks.map { $0.candidates.map(\.token) }, b.masks.map { $0.candidates.map(\.token) }, name)
                XCTAssertEqual(a.masks.map { $0.candidates.map(\.score) }, b.masks.map { $0.candidates.map(\.score) }, name)
                XCTAssertEqual(a.attention, b.attention, name)
            }
        }
    }

    func testTargetsScoreOnlyTheGivenWordsWithoutRenormalising() throws {
        let model = try RobertaModel.load(directory: Fixtures.model("tiny"))
        let reference = try Fixtures.referenceJSON("tiny")
        let cases = try XCTUnwrap(reference["targets_cases"] as? [[String: Any]])
        XCTAssertFalse(cases.isEmpty)
        for c in cases {
            let text = try XCTUnwrap(c["text"] as? String)
            let targets = try XCTUnwrap((c["targets"] as? [String]) ?? (c["targets"] as? String).map { [$0] })
            let topK = try XCTUnwrap(c["top_k"] as? Int)
            let pipeline = try XCTUnwrap(c["pipeline"] as? [Any])
            let expectedLists = (pipeline as? [[String: Any]]).map { [$0] } ?? (pipeline as? [[[String: Any]]] ?? [])
            let result = try model.fillMask(text, options: FillMaskOptions(topK: topK, targets: targets))
            XCTAssertEqual(result.warnings, c["warnings"] as? [String], "warnings for targets \(targets)")
            XCTAssertEqual(result.masks.count, expectedLists.count)
            for (mask, expected) in zip(result.masks, expectedLists) {
                let got = mask.candidates
                XCTAssertEqual(got.map(\.token), expected.map { $0["token"] as? Int ?? -1 }, "targets \(targets)")
                XCTAssertEqual(got.map(\.sequence), expected.map { $0["sequence"] as? String ?? "" })
                XCTAssertEqual(got.map(\.tokenStr), expected.map { $0["token_str"] as? String ?? "" })
                assertClose(got.map(\.score), expected.map { ($0["score"] as? NSNumber)?.doubleValue ?? .nan },
                            tolerance: Self.probabilityTolerance, "scores for targets \(targets)")
            }
        }
    }

    func testEndpointSampleMatchesPipeline() throws {
        let model = try RobertaModel.load(directory: Fixtures.model("tiny"))
        let endpoint = try XCTUnwrap(Fixtures.referenceJSON("tiny")["endpoint"] as? [String: Any])
        let request = try XCTUnwrap(endpoint["request"] as? [String: Any])
        let texts = try XCTUnwrap((request["inputs"] as? [String: Any])?["input_string"] as? [String])
        let topK = try XCTUnwrap((request["parameters"] as? [String: Any])?["top_k"] as? Int)
        let response = try XCTUnwrap(endpoint["response"] as? [[[String: Any]]])
        XCTAssertEqual(texts.count, response.count)
        for (text, expected) in zip(texts, response) {
            let got = try model.fillMask(text, options: FillMaskOptions(topK: topK)).masks[0].candidates
            XCTAssertEqual(got.count, topK)
            XCTAssertEqual(got.map(\.token), expected.map { $0["token"] as? Int ?? -1 })
            XCTAssertEqual(got.map(\.tokenStr), expected.map { $0["token_str"] as? String ?? "" })
            XCTAssertEqual(got.map(\.sequence), expected.map { $0["sequence"] as? String ?? "" })
        }
    }
}
