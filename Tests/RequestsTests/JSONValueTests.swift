import JSONText
import XCTest
@testable import Requests

/// The JSON writer behind every answer (predict, serve): Python's json.dumps byte for byte.
final class JSONValueTests: XCTestCase {
    func testJSONWriterMatchesPythonJSONDumps() {
        let value = JSONValue.array([.object([("score", .float(0.1)), ("token", .int(5)), ("token_str", .string(" \"é\"\n")),
                                              ("sequence", .number(1e-05))])])
        XCTAssertEqual(value.serialized(), #"[{"score": 0.10000000149011612, "token": 5, "token_str": " \"é\"\n", "sequence": 1e-05}]"#)
    }
}
