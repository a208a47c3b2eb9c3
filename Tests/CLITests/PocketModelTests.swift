import Foundation
import XCTest

/// The committed pocket models (models/pocket-teacher, models/pocket-student, made by Scripts/train_pocket.py):
/// `maskscope predict` on them answers as transformers' fill-mask pipeline did on the same directories
/// (Tests/Fixtures/reference/pocket.json, written by the same script), and a few answers are pinned so
/// that an accidental change of the weight or tokenizer files is caught.
final class PocketModelTests: XCTestCase {
    static let names = ["pocket-teacher", "pocket-student"]

    static func directory(_ name: String) -> String { repoRoot.appendingPathComponent("models/\(name)").path }

    func reference() throws -> [String: Any] {
        let url = repoRoot.appendingPathComponent("Tests/Fixtures/reference/pocket.json")
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    }

    /// predict with every case of the fixture in one endpoint request (top_k 5), for one model.
    func predict(_ name: String, texts: [String]) throws -> [Any] {
        let request: [String: Any] = ["inputs": ["input_string": texts], "parameters": ["top_k": 5]]
        let body = String(decoding: try JSONSerialization.data(withJSONObject: request), as: UTF8.self)
        let result = try runMaskscope(["predict", "--model", Self.directory(name)], stdin: body)
        XCTAssertEqual(result.status, 0, result.stderr)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [Any], result.stdout)
    }

    /// A pipeline answer for one text: a list of candidates, or for several masks a list of such lists.
    func candidateLists(_ answer: Any) throws -> [[[String: Any]]] {
        if let one = answer as? [[String: Any]] { return [one] }
        return try XCTUnwrap(answer as? [[[String: Any]]])
    }

    func testPredictOnThePocketModelsEqualsTheTransformersPipeline() throws {
        let models = try XCTUnwrap(try reference()["models"] as? [String: Any])
        for name in Self.names {
            let cases = try XCTUnwrap((models[name] as? [String: Any])?["cases"] as? [[String: Any]], name)
            XCTAssertGreaterThanOrEqual(cases.count, 8)
            let texts = cases.compactMap { $0["text"] as? String }
            let got = try predict(name, texts: texts)
            XCTAssertEqual(got.count, cases.count, name)
            var worst = 0.0, compared = 0
            for (answer, c) in zip(got, cases) {
                let text = c["text"] as? String ?? ""
                let want = try candidateLists(try XCTUnwrap(c["pipeline"]))
                let have = try candidateLists(answer)
                XCTAssertEqual(have.count, want.count, "\(name): masks in \(text)")
                for (h, w) in zip(have, want) {
                    XCTAssertEqual(h.map { $0["token"] as? Int ?? -1 }, w.map { $0["token"] as? Int ?? -2 }, "\(name): ranked tokens of \(text)")
                    for (g, e) in zip(h, w) {
                        XCTAssertEqual(g["token_str"] as? String, e["token_str"] as? String, "\(name): token_str in \(text)")
                        XCTAssertEqual(g["sequence"] as? String, e["sequence"] as? String, "\(name): sequence in \(text)")
                        let diff = abs(((g["score"] as? NSNumber)?.doubleValue ?? .nan) - ((e["score"] as? NSNumber)?.doubleValue ?? 0))
                        worst = max(worst, diff.isNaN ? .infinity : diff)
                        compared += 1
                    }
                }
            }
            XCTAssertGreaterThanOrEqual(compared, 40, name)
            XCTAssertLessThanOrEqual(worst, 1e-5, "\(name): max |score - transformers| = \(worst)")
            print("\(name): \(compared) candidates compared, max |score - transformers| = \(worst)")
        }
    }

    /// A few answers written down by hand from the trained models (independent of pocket.json), so that a changed
    /// weight or tokenizer file fails here even if the fixture were regenerated with it.
    func testPinnedAnswers() throws {
        let pinned: [(model: String, text: String, top3: [Int], topScore: Double)] = [
            ("pocket-teacher", "Paris is the <mask> of France.", [1959, 1459, 2138], 0.06900212913751602),  // capital city branch
            ("pocket-teacher", "The dog <mask> at the mailman.", [504, 276, 1203], 0.05684938654303551),   // was is had
            ("pocket-teacher", "She drank a cup of <mask> before work.", [853, 1039, 389], 0.03665712848305702),  // something water it
            ("pocket-student", "Paris is the <mask> of France.", [1959, 2138, 1459], 0.06350342929363251),  // capital branch city
            ("pocket-student", "The dog <mask> at the mailman.", [504, 276, 1203], 0.07742825895547867),
        ]
        for name in Self.names {
            let rows = pinned.filter { $0.model == name }
            let got = try predict(name, texts: rows.map(\.text))
            for (row, answer) in zip(rows, got) {
                let candidates = try candidateLists(answer)[0]
                XCTAssertEqual(Array(candidates.prefix(3)).map { $0["token"] as? Int ?? -1 }, row.top3, "\(name): \(row.text)")
                XCTAssertEqual((candidates.first?["score"] as? NSNumber)?.doubleValue ?? .nan, row.topScore, accuracy: 1e-5, "\(name): \(row.text)")
            }
        }
    }
}
