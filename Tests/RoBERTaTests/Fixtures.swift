import Foundation
import XCTest
@testable import RoBERTa

/// Paths to the committed fixtures (made by Scripts/make_fixtures.py with transformers).
enum Fixtures {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let models = repoRoot.appendingPathComponent("Tests/Fixtures/models")
    static let reference = repoRoot.appendingPathComponent("Tests/Fixtures/reference")

    static func model(_ name: String) -> URL { models.appendingPathComponent(name) }

    /// The reference dump for a fixture model, parsed.
    static func referenceJSON(_ name: String) throws -> [String: Any] {
        let url = reference.appendingPathComponent(name + ".json")
        let data = try Data(contentsOf: url)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any], "\(url.path) is not a JSON object")
    }
}

/// Every number in a nested JSON list, flattened in order (compare with `assertClose`, which checks the count).
func doubles(_ any: Any?) -> [Double] {
    if let list = any as? [Any] { return list.flatMap { doubles($0) } }
    if let n = any as? NSNumber { return [n.doubleValue] }
    return []
}
