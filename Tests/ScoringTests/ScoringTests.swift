import Foundation
import RoBERTa
import TestSupport
import XCTest
@testable import Scoring

enum ScoringFixtures {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Tests/Fixtures/reference/scoring.json: transformers' and numpy's numbers (Scripts/make_scoring_fixtures.py).
    static func reference() throws -> [String: Any] {
        let url = repoRoot.appendingPathComponent("Tests/Fixtures/reference/scoring.json")
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    }

    static func model(_ path: String) throws -> RobertaModel {
        try RobertaModel.load(directory: repoRoot.appendingPathComponent(path))
    }
}

/// KL, JS, top-1 agreement, top-k overlap and Spearman's rho against numpy's on the same logits.
final class DistributionTests: XCTestCase {
    func testMeasuresAgreeWithNumpy() throws {
        let cases = try XCTUnwrap(ScoringFixtures.reference()["distributions"] as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(cases.count, 6)
        var worst = 0.0
        for c in cases {
            let name = c["name"] as? String ?? "?"
            let p = LogDistribution(logits: try XCTUnwrap(c["p_logits"] as? [Double]).map(Float.init))
            let q = LogDistribution(logits: try XCTUnwrap(c["q_logits"] as? [Double]).map(Float.init))
            let got = DistributionComparison(p, q, k: try XCTUnwrap(c["k"] as? Int))
            worst = max(worst, assertClose(got.kl, try XCTUnwrap(c["kl"] as? Double), tolerance: 1e-9, "\(name): KL"))
            worst = max(worst, assertClose(got.js, try XCTUnwrap(c["js"] as? Double), tolerance: 1e-9, "\(name): JS"))
            XCTAssertEqual(got.top1Agree, c["top1_agree"] as? Bool, "\(name): top-1 agreement")
            worst = max(worst, assertClose(got.overlap, try XCTUnwrap(c["overlap"] as? Double), tolerance: 1e-12, "\(name): overlap"))
            if let want = c["spearman"] as? Double {
                worst = max(worst, assertClose(try XCTUnwrap(got.spearman, "\(name): rho"), want, tolerance: 1e-9, "\(name): Spearman"))
            } else {
                XCTAssertNil(got.spearman, "\(name): Spearman should be undefined")
            }
        }
        print("distributions: \(cases.count) cases, largest difference from numpy \(worst)")
    }

    func testAverageRanksAndSpearman() {
        XCTAssertEqual(averageRanks([3, 1, 2]), [1, 3, 2])
        XCTAssertEqual(averageRanks([5, 5, 1, 7]), [2.5, 2.5, 4, 1])
        XCTAssertEqual(spearmanRho([1, 2, 3], [10, 20, 30]), 1)
        XCTAssertEqual(spearmanRho([1, 2, 3], [3, 2, 1]), -1)
        XCTAssertNil(spearmanRho([1, 1], [1, 2]))
        XCTAssertNil(spearmanRho([1], [1]))
    }

    func testVocabulariesMatchedByString() throws {
        let a = VocabularyAlignment(firstTokens: ["<s>", "a", "b", "c"], secondTokens: ["c", "a", "x"])
        XCTAssertFalse(a.identical)
        XCTAssertEqual(a.first, [1, 3])
        XCTAssertEqual(a.second, [1, 0])
        let p = LogDistribution(logits: [0, 1, 2, 3] as [Float]), q = LogDistribution(logits: [3, 1, 0] as [Float])
        // Over the shared strings "a" and "c", both renormalised: p = softmax(1, 3), q = softmax(1, 3).
        let same = a.compare(p, q, k: 2)
        XCTAssertEqual(same.compared, 2)
        XCTAssertEqual(same.kl, 0, accuracy: 1e-15)
        XCTAssertTrue(same.top1Agree)
        XCTAssertTrue(VocabularyAlignment(firstTokens: ["a", "b"], secondTokens: ["a", "b"]).identical)
    }
}

/// Pseudo-log-likelihoods against transformers' (the awslabs mlm-scoring definition), within 1e-4.
final class PseudoLikelihoodTests: XCTestCase {
    func testAgreesWithTransformers() throws {
        let cases = try XCTUnwrap(ScoringFixtures.reference()["pll"] as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(cases.count, 8)
        var models: [String: RobertaModel] = [:]
        var worst = 0.0
        for c in cases {
            let path = try XCTUnwrap(c["path"] as? String), text = try XCTUnwrap(c["text"] as? String)
            if models[path] == nil { models[path] = try ScoringFixtures.model(path) }
            let got = try XCTUnwrap(models[path]).pseudoLogLikelihood(text)
            XCTAssertEqual(got.ids, c["ids"] as? [Int], "\(path): ids of \(text)")
            // The fixture lists every token of the ids, <s> and </s> included; only those between are scored.
            XCTAssertEqual(got.tokens, (c["tokens"] as? [String]).map { Array($0.dropFirst().dropLast()) }, "\(path): tokens of \(text)")
            worst = max(worst, assertClose(got.tokenLogProbs, try XCTUnwrap(c["token_log_probs"] as? [Double]), tolerance: 1e-4, "\(path): \(text)"))
            worst = max(worst, assertClose(got.pll, try XCTUnwrap(c["pll"] as? Double), tolerance: 1e-4, "\(path): pll of \(text)"))
            worst = max(worst, assertClose(got.pseudoPerplexity, try XCTUnwrap(c["pseudo_perplexity"] as? Double), tolerance: 1e-4, relative: true, "\(path): pseudo-perplexity of \(text)"))
        }
        print("pll: \(cases.count) texts, largest difference from transformers \(worst)")
    }

    func testBatchedEqualsOneAtATime() throws {
        let model = try ScoringFixtures.model("Tests/Fixtures/models/tiny")
        let texts = ["Paris is the capital of France.", "Hello", "A longer sentence, with commas, and several words in it."]
        let together = try model.pseudoLogLikelihoods(texts, batchTokens: 64)
        for (text, score) in zip(texts, together) {
            let alone = try model.pseudoLogLikelihood(text, batchTokens: 1)
            _ = assertClose(score.tokenLogProbs, alone.tokenLogProbs, tolerance: 1e-6, text)
            XCTAssertEqual(score.tokens.count, score.ids.count - 2)
        }
    }

    func testNothingToScoreIsAnError() throws {
        let model = try ScoringFixtures.model("Tests/Fixtures/models/tiny")
        XCTAssertThrowsError(try model.pseudoLogLikelihood("")) { error in
            XCTAssertEqual(error as? ScoringError, .nothingToScore(text: ""))
        }
    }
}
