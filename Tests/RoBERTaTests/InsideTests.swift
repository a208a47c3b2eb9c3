import Foundation
import TestSupport
import XCTest
@testable import RoBERTa

/// The logit lens, head knock-out and importance, attention norms, rollout and head statistics against
/// Scripts/make_inside_fixtures.py (transformers with forward hooks, and numpy), within 1e-5.
final class InsideTests: XCTestCase {
    static let tolerance = 1e-5

    func cases() throws -> [[String: Any]] {
        let data = try Data(contentsOf: Fixtures.reference.appendingPathComponent("inside.json"))
        let root = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        return try XCTUnwrap(root["cases"] as? [[String: Any]])
    }

    func model(_ c: [String: Any], _ cache: inout [String: RobertaModel]) throws -> RobertaModel {
        let path = try XCTUnwrap(c["path"] as? String)
        if let model = cache[path] { return model }
        let model = try RobertaModel.load(directory: Fixtures.repoRoot.appendingPathComponent(path))
        cache[path] = model
        return model
    }

    /// Compares lens rows with the fixture's: the same top-5 ids in order, scores, the final top's rank and probability.
    func checkLens(_ got: [MaskLens], _ want: [[String: Any]], _ context: String) throws -> Double {
        XCTAssertEqual(got.count, want.count, context)
        var worst = 0.0
        for (lens, w) in zip(got, want) {
            XCTAssertEqual(lens.position, w["position"] as? Int, context)
            let layers = try XCTUnwrap(w["layers"] as? [[[String: Any]]])
            XCTAssertEqual(lens.layers.count, layers.count, context)
            for (l, (row, wantRow)) in zip(lens.layers, layers).enumerated() {
                XCTAssertEqual(row.candidates.map(\.token), wantRow.map { $0["token"] as? Int ?? -1 }, "\(context): layer \(l) ids")
                XCTAssertEqual(row.candidates.map(\.tokenStr), wantRow.map { $0["token_str"] as? String ?? "" }, "\(context): layer \(l)")
                worst = max(worst, assertClose(row.candidates.map(\.score), wantRow.map { ($0["score"] as? NSNumber)?.doubleValue ?? .nan },
                                               tolerance: Self.tolerance, "\(context): layer \(l) scores"))
            }
            XCTAssertEqual(lens.layers.map(\.finalTopRank), w["target_rank"] as? [Int], "\(context): final top's rank per layer")
            worst = max(worst, assertClose(lens.layers.map(\.finalTopScore), doubles(w["target_prob"]), tolerance: Self.tolerance, "\(context): final top's probability"))
        }
        return worst
    }

    func testLensAndKnockOutAgreeWithTransformers() throws {
        var cache: [String: RobertaModel] = [:]
        var worst = 0.0, lenses = 0, knockouts = 0
        for c in try cases() {
            let model = try model(c, &cache)
            let ids = try XCTUnwrap(c["ids"] as? [Int])
            let name = "\(c["model"] ?? "?"): \(c["text"] ?? "?")"
            let lens = try model.logitLens(ids: ids, topK: 5)
            worst = max(worst, try checkLens(lens, try XCTUnwrap(c["lens"] as? [[String: Any]]), name))
            // The last row is fill-mask's answer, bit for bit.
            let result = try model.fillMask(ids: ids)
            for (l, mask) in zip(lens, result.masks) {
                XCTAssertEqual(l.layers.last?.candidates.map(\.token), mask.candidates.map(\.token), name)
                XCTAssertEqual(l.layers.last?.candidates.map(\.score), mask.candidates.map(\.score), name)
            }
            lenses += lens.count
            for k in try XCTUnwrap(c["knockout"] as? [[String: Any]]) {
                let heads = Set(try XCTUnwrap(k["heads"] as? [[Int]]).map { HeadRef(layer: $0[0], head: $0[1]) })
                XCTAssertEqual(heads.sorted().map(\.description), (k["names"] as? [String])?.sorted(), name)
                let knocked = try model.fillMask(ids: ids, options: FillMaskOptions(knockout: heads))
                let masks = try XCTUnwrap(k["masks"] as? [[String: Any]])
                for (got, want) in zip(knocked.masks, masks) {
                    let top = try XCTUnwrap(want["top"] as? [[String: Any]])
                    XCTAssertEqual(got.candidates.map(\.token), top.map { $0["token"] as? Int ?? -1 }, "\(name) without \(heads.sorted())")
                    worst = max(worst, assertClose(got.candidates.map(\.score), top.map { ($0["score"] as? NSNumber)?.doubleValue ?? .nan },
                                                   tolerance: Self.tolerance, "\(name) without \(heads.sorted())"))
                }
                if let logits = k["logits"] as? [[Any]] {
                    worst = max(worst, assertClose(knocked.maskLogits.flatMap { $0 }, logits.flatMap { doubles($0) }, tolerance: Self.tolerance,
                                                   relative: true, "\(name) logits without \(heads.sorted())"))
                }
                worst = max(worst, try checkLens(try model.logitLens(ids: ids, topK: 5, knockout: heads), try XCTUnwrap(k["lens"] as? [[String: Any]]),
                                                 "\(name) lens without \(heads.sorted())"))
                knockouts += 1
            }
        }
        print("inside: \(lenses) lenses and \(knockouts) knock-outs, largest difference from transformers \(worst)")
    }

    func testHeadImportanceAgreesWithTransformers() throws {
        var cache: [String: RobertaModel] = [:]
        var worst = 0.0
        for c in try cases() {
            let model = try model(c, &cache)
            let ids = try XCTUnwrap(c["ids"] as? [Int])
            let want = try XCTUnwrap(c["head_importance"] as? [String: Any])
            let got = try model.headImportance(ids: ids)
            XCTAssertEqual(got.position, want["position"] as? Int)
            XCTAssertEqual(got.token, want["target"] as? Int)
            worst = max(worst, assertClose(got.deltas.flatMap { $0 }, doubles(want["delta"]), tolerance: Self.tolerance, "head importance"))
        }
        print("head importance: largest difference from transformers \(worst)")
    }

    func testNormsRolloutAndHeadStatisticsAgreeWithNumpy() throws {
        var cache: [String: RobertaModel] = [:]
        var worst = (norms: 0.0, rollout: 0.0, stats: 0.0)
        var labels = Set<String>()
        for c in try cases() {
            let model = try model(c, &cache)
            let ids = try XCTUnwrap(c["ids"] as? [Int])
            let result = try model.fillMask(ids: ids, options: FillMaskOptions(capture: CaptureOptions(norms: true)))
            let attention = try XCTUnwrap(result.attention)
            if let norms = c["attention_norms"] as? [Any] {
                worst.norms = max(worst.norms, assertClose(try XCTUnwrap(result.encoder.norms).values, doubles(norms), tolerance: Self.tolerance, "norms"))
            }
            worst.rollout = max(worst.rollout, assertClose(attentionRollout(attention).values, doubles(c["rollout"]), tolerance: Self.tolerance, "rollout"))
            XCTAssertEqual(model.punctuationPositions(ids).sorted(), c["punct_positions"] as? [Int], "\(c["text"] ?? "")")
            let stats = model.headStatistics(attention, ids: ids)
            let want = try XCTUnwrap(c["head_stats"] as? [[[String: Any]]])
            for (row, wantRow) in zip(stats, want) {
                for (s, w) in zip(row, wantRow) {
                    let pairs: [(Double, String)] = [(s.entropy, "entropy"), (s.entropyMax, "entropy_max"), (s.toBOS, "to_bos"), (s.toEOS, "to_eos"),
                                                     (s.toPrev, "to_prev"), (s.toSelf, "to_self"), (s.toNext, "to_next")]
                    for (value, key) in pairs {
                        worst.stats = max(worst.stats, assertClose(value, (w[key] as? NSNumber)?.doubleValue ?? .nan, tolerance: Self.tolerance, key))
                    }
                    if let punct = w["to_punct"] as? NSNumber {
                        worst.stats = max(worst.stats, assertClose(try XCTUnwrap(s.toPunct), punct.doubleValue, tolerance: Self.tolerance, "to_punct"))
                    } else {
                        XCTAssertNil(s.toPunct)
                    }
                    XCTAssertEqual(s.label, w["label"] as? String)
                    labels.insert(s.label)
                }
            }
        }
        print("norms \(worst.norms), rollout \(worst.rollout), head statistics \(worst.stats): largest differences from numpy; labels seen \(labels.sorted())")
    }

    func testLabelRules() {
        // Three tokens; one head whose every query attends to the previous token (the first to itself).
        let prev: [Float] = [1, 0, 0, 1, 0, 0, 0, 1, 0]
        let maps = AttentionMaps(layers: 1, heads: 1, tokens: 3, values: prev)
        XCTAssertEqual(HeadStatistics.of(maps, layer: 0, head: 0, punctuation: []).label, "→prev")
        let uniform = AttentionMaps(layers: 1, heads: 1, tokens: 3, values: [Float](repeating: 1.0 / 3, count: 9))
        XCTAssertEqual(HeadStatistics.of(uniform, layer: 0, head: 0, punctuation: []).label, "broad")
        let selfMaps = AttentionMaps(layers: 1, heads: 1, tokens: 3, values: [1, 0, 0, 0, 1, 0, 0, 0, 1])
        XCTAssertEqual(HeadStatistics.of(selfMaps, layer: 0, head: 0, punctuation: []).label, "self")
    }

    func testBadHeadsAreErrors() throws {
        let model = try RobertaModel.load(directory: Fixtures.model("tiny"))
        XCTAssertThrowsError(try model.fillMask("a <mask>", options: FillMaskOptions(knockout: [HeadRef(layer: 2, head: 0)]))) { error in
            XCTAssertEqual("\(error)", "there is no head 3.1 (LAYER.HEAD, counted from 1): the model has 2 layers of 4 heads; name heads from 1.1 to 2.4")
        }
    }
}
