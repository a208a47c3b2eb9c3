import Foundation
import Requests
import XCTest

/// The endpoint's request JSON, parsed without a model: its shapes, its parameters, and errors that say what to send.
final class FillMaskRequestTests: XCTestCase {
    func parse(_ json: String) throws -> FillMaskRequest { try FillMaskRequest.parse(Data(json.utf8)) }

    func message(_ json: String) -> String {
        do { _ = try parse(json) } catch { return String(describing: error) }
        return "no error"
    }

    func testRequestShapes() throws {
        let one = try parse(#"{"inputs": "A <mask>."}"#)
        XCTAssertEqual(one.texts, ["A <mask>."])
        XCTAssertEqual(one.shape, .single)
        let list = try parse(#"{"inputs": {"input_string": ["a <mask>", "b <mask>"]}, "parameters": {"top_k": 2, "targets": "x"}}"#)
        XCTAssertEqual(list.texts, ["a <mask>", "b <mask>"])
        XCTAssertEqual(list.shape, .list)
        XCTAssertEqual(list.topK, 2)
        XCTAssertEqual(list.targets, ["x"])
        XCTAssertThrowsError(try parse(#"{"inputs": "a", "parameters": {"top_k": true}}"#))
        XCTAssertThrowsError(try parse(#"{"inputs": "a", "parameters": {"top_k": 0}}"#))
        XCTAssertThrowsError(try parse(#"{"text": "a"}"#))
        XCTAssertEqual(try parse(#"{"inputs": "a", "parameters": {"top_k": 1}}"#).topK, 1)
    }

    func testAnInputStringThatIsOneTextAnswersAsOneText() throws {
        XCTAssertEqual(try parse(#"{"inputs": {"input_string": "a <mask>"}}"#), FillMaskRequest(texts: ["a <mask>"], shape: .single))
        XCTAssertEqual(try parse(#"{"inputs": ["a <mask>"]}"#), FillMaskRequest(texts: ["a <mask>"], shape: .list))
    }

    func testUnknownParametersAreKeptForAWarningAndNullParametersAreNone() throws {
        let request = try parse(#"{"inputs": "a", "parameters": {"zeta": 1, "alpha": 2, "truncation": true}}"#)
        XCTAssertEqual(request.ignoredParameters, ["alpha", "zeta"])
        XCTAssertEqual(request.truncate, true)
        XCTAssertEqual(try parse(#"{"inputs": "a", "parameters": null}"#), FillMaskRequest(texts: ["a"], shape: .single))
    }

    func testErrorsSayWhatIsWrongAndWhatToSend() {
        XCTAssertTrue(message("{").hasPrefix("the request is not valid JSON ("), message("{"))
        XCTAssertEqual(message(#"{"inputs": "a", "parameters": {"top_k": "3"}}"#),
                       #"parameters.top_k must be a whole number of at least 1 but is the string "3"; write the number without quotes: "top_k": 3"#)
        XCTAssertEqual(message(#"{"inputs": ["a", 2]}"#), "input 1 is the number 2, not a string; every input must be a text with <mask>")
        XCTAssertEqual(message(#"{"inputs": []}"#), "\"inputs\" is an empty list; give at least one text")
        XCTAssertEqual(message(#"{"inputs": "a", "parameters": {"targets": []}}"#),
                       "parameters.targets must be a word or a non-empty list of words but is an empty list")
    }

    func testBytesThatAreNotUTF8AreNamedByLineAndByte() {
        XCTAssertThrowsError(try FillMaskRequest.parse(line: Array(#"{"inputs": "a"#.utf8) + [0xFF])) { error in
            XCTAssertEqual(String(describing: error), "not UTF-8 text (byte 0xFF at byte 14 of the line); send the requests as UTF-8")
        }
        let document = Array("{\n  \"inputs\": \"".utf8) + [0xC3] + Array("\"}".utf8)
        XCTAssertThrowsError(try FillMaskRequest.parse(document: document, source: "request.json", firstLine: 3)) { error in
            XCTAssertEqual(String(describing: error), "request.json is not UTF-8 text (byte 0xC3 at byte 14 of line 4); send the request as UTF-8")
        }
        XCTAssertEqual(try FillMaskRequest.parse(document: Array("{\"inputs\":\n\"é\"}".utf8), source: "x", firstLine: 1).texts, ["é"])
    }

    func testRequestBytesFindTheFirstInvalidByteAndOpenDocuments() {
        XCTAssertNil(RequestBytes.firstInvalidUTF8(Array("é <mask>".utf8)))
        XCTAssertEqual(RequestBytes.firstInvalidUTF8([0x61, 0x62, 0x80]).map { [$0.offset, Int($0.byte)] }, [2, 0x80])
        XCTAssertTrue(RequestBytes.leaveJSONOpen(Array("{".utf8)))
        XCTAssertTrue(RequestBytes.leaveJSONOpen(Array(#"{"inputs": ["#.utf8)))
        XCTAssertFalse(RequestBytes.leaveJSONOpen(Array(#"{"inputs": "{["}"#.utf8)), "brackets inside strings do not count")
        XCTAssertFalse(RequestBytes.leaveJSONOpen(Array(#"{"a": "\"{"}"#.utf8)), "nor after an escaped quote")
        XCTAssertFalse(RequestBytes.leaveJSONOpen(Array("}{".utf8)))
    }
}
