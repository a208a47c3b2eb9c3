import Foundation
import XCTest
@testable import RoBERTa

/// Every broken checkpoint is a typed error that names the file (or tensor) and the problem.
final class LoadErrorTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("maskscope-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for name in ["config.json", "vocab.json", "merges.txt"] {
            try FileManager.default.copyItem(at: Fixtures.model("tiny").appendingPathComponent(name),
                                             to: directory.appendingPathComponent(name))
        }
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    var weightsURL: URL { directory.appendingPathComponent("model.safetensors") }

    /// The tensors of the tiny fixture, as entries we can edit and write back.
    func tinyEntries() throws -> [SafetensorsEntry] {
        let file = try SafetensorsFile(path: Fixtures.model("tiny").appendingPathComponent("model.safetensors").path)
        return file.tensors.values.sorted { $0.begin < $1.begin }.map {
            SafetensorsEntry(name: $0.name, dtype: $0.dtypeName, shape: $0.shape, data: [UInt8]($0.bytes))
        }
    }

    func expectLoadError(_ check: (ModelLoadError) -> Bool, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try RobertaModel.load(directory: directory), file: file, line: line) { error in
            guard let loadError = error as? ModelLoadError else {
                return XCTFail("expected a ModelLoadError, got \(error)", file: file, line: line)
            }
            XCTAssertTrue(check(loadError), "unexpected error: \(loadError)", file: file, line: line)
        }
    }

    func setConfig(_ edit: (inout [String: Any]) -> Void) throws {
        let url = directory.appendingPathComponent("config.json")
        var config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        edit(&config)
        try JSONSerialization.data(withJSONObject: config).write(to: url)
    }

    func testValidCopyLoads() throws {
        try writeSafetensors(try tinyEntries(), to: weightsURL)
        XCTAssertNoThrow(try RobertaModel.load(directory: directory))
    }

    func testMissingConfigIsNamed() throws {
        try FileManager.default.removeItem(at: directory.appendingPathComponent("config.json"))
        expectLoadError { if case .missingFile(let path) = $0 { return path.hasSuffix("config.json") } else { return false } }
    }

    func testBadConfigJSONNamesTheFile() throws {
        try Data("{\"hidden_size\": 32,".utf8).write(to: directory.appendingPathComponent("config.json"))
        expectLoadError { if case .badJSON(let file, _) = $0 { return file.hasSuffix("config.json") } else { return false } }
    }

    func testUnsupportedModelTypeIsNamed() throws {
        try setConfig { $0["model_type"] = "bert" }
        expectLoadError { if case .unsupportedModelType(_, "bert") = $0 { return true } else { return false } }
        XCTAssertTrue(ModelLoadError.unsupportedModelType(file: "config.json", modelType: "bert").description.contains("\"bert\""))
    }

    func testUnsupportedActivationIsNamed() throws {
        try setConfig { $0["hidden_act"] = "swish" }
        expectLoadError { if case .unsupportedActivation(_, "swish") = $0 { return true } else { return false } }
    }

    func testMissingConfigKeyIsNamed() throws {
        try setConfig { $0.removeValue(forKey: "hidden_size") }
        expectLoadError { if case .invalidConfig(_, let detail) = $0 { return detail.contains("hidden_size") } else { return false } }
    }

    func testMissingWeightsFileIsNamed() throws {
        expectLoadError { if case .missingFile(let path) = $0 { return path.hasSuffix("model.safetensors") } else { return false } }
    }

    func testTruncatedSafetensorsIsReported() throws {
        try writeSafetensors(try tinyEntries(), to: weightsURL)
        let data = try Data(contentsOf: weightsURL)
        try data.prefix(data.count - 100).write(to: weightsURL)
        expectLoadError { if case .truncatedSafetensors(let file, _) = $0 { return file == self.weightsURL.path } else { return false } }
    }

    func testHeaderLengthBeyondFileIsReported() throws {
        var bytes = withUnsafeBytes(of: UInt64(5000).littleEndian) { [UInt8]($0) }
        bytes += [UInt8](repeating: 0x20, count: 100)
        try Data(bytes).write(to: weightsURL)
        expectLoadError { if case .headerBeyondFile(_, 5000, 108) = $0 { return true } else { return false } }
    }

    func testHeaderAbove100MBIsRefused() throws {
        var bytes = withUnsafeBytes(of: UInt64(200_000_000).littleEndian) { [UInt8]($0) }
        bytes += Array("{}".utf8)
        try Data(bytes).write(to: weightsURL)
        expectLoadError { if case .headerTooLarge(_, 200_000_000) = $0 { return true } else { return false } }
    }

    func testHeaderThatIsNotJSONIsReported() throws {
        var bytes = withUnsafeBytes(of: UInt64(4).littleEndian) { [UInt8]($0) }
        bytes += Array("nope".utf8)
        try Data(bytes).write(to: weightsURL)
        expectLoadError { if case .badSafetensorsHeader = $0 { return true } else { return false } }
    }

    func testOffsetsOutOfRangeNameTheTensor() throws {
        var entries = try tinyEntries()
        entries.append(SafetensorsEntry(name: "roberta.pooler.dense.bias", dtype: "F32", shape: [2], data: [UInt8](repeating: 0, count: 8)))
        try writeSafetensors(entries, to: weightsURL) { header, dataLength in
            header["roberta.pooler.dense.bias"] = ["dtype": "F32", "shape": [2], "data_offsets": [dataLength + 16, dataLength + 24]]
        }
        expectLoadError { if case .offsetsOutOfRange(_, "roberta.pooler.dense.bias", _) = $0 { return true } else { return false } }
    }

    func testOverlappingTensorsAreReported() throws {
        let entries = try tinyEntries()
        try writeSafetensors(entries, to: weightsURL) { header, _ in
            // Point a tiny extra tensor into the middle of the first real one.
            header["roberta.pooler.dense.bias"] = ["dtype": "F32", "shape": [1], "data_offsets": [4, 8]]
        }
        expectLoadError { if case .overlappingTensors = $0 { return true } else { return false } }
    }

    func testByteCountThatDisagreesWithShapeIsReported() throws {
        try writeSafetensors(try tinyEntries(), to: weightsURL) { header, _ in
            var entry = header["lm_head.bias"] as! [String: Any]
            entry["shape"] = [3]
            header["lm_head.bias"] = entry
        }
        expectLoadError { if case .byteCountMismatch(_, "lm_head.bias", 12, _) = $0 { return true } else { return false } }
    }

    func testShapeThatDisagreesWithConfigIsNamed() throws {
        var entries = try tinyEntries()
        let i = try XCTUnwrap(entries.firstIndex { $0.name == "roberta.encoder.layer.0.intermediate.dense.bias" })
        entries[i].shape = [entries[i].shape[0] / 2]
        entries[i].data = Array(entries[i].data.prefix(entries[i].data.count / 2))
        try writeSafetensors(entries, to: weightsURL)
        expectLoadError {
            if case .shapeMismatch(_, "roberta.encoder.layer.0.intermediate.dense.bias", let expected, let actual) = $0 {
                return expected == [actual[0] * 2]
            }
            return false
        }
    }

    func testUnsupportedDTypeIsNamed() throws {
        var entries = try tinyEntries()
        let i = try XCTUnwrap(entries.firstIndex { $0.name == "lm_head.dense.weight" })
        entries[i].dtype = "I32"
        try writeSafetensors(entries, to: weightsURL)
        expectLoadError { if case .unsupportedDType(_, "lm_head.dense.weight", "I32") = $0 { return true } else { return false } }
    }

    func testMissingTensorIsNamedInError() throws {
        let entries = try tinyEntries().filter { $0.name != "roberta.encoder.layer.1.output.dense.bias" }
        try writeSafetensors(entries, to: weightsURL)
        expectLoadError { if case .missingTensor("roberta.encoder.layer.1.output.dense.bias", _) = $0 { return true } else { return false } }
    }

    func testPoolerAndPositionIDsAreIgnoredOnPurpose() throws {
        var entries = try tinyEntries()
        entries.append(SafetensorsEntry(name: "roberta.pooler.dense.weight", dtype: "F32", shape: [2, 2], data: [UInt8](repeating: 0, count: 16)))
        entries.append(SafetensorsEntry(name: "roberta.embeddings.position_ids", dtype: "I64", shape: [1, 3], data: [UInt8](repeating: 0, count: 24)))
        try writeSafetensors(entries, to: weightsURL)
        let model = try RobertaModel.load(directory: directory)
        XCTAssertEqual(model.weightsSummary.ignoredTensors, ["roberta.embeddings.position_ids", "roberta.pooler.dense.weight"])
    }

    func testMisalignedFloat32TensorsAreCopiedAndStillCorrect() throws {
        // A header length that is not a multiple of 4 leaves every F32 tensor misaligned.
        try writeSafetensors(try tinyEntries(), to: weightsURL, headerPadding: 1)
        let misaligned = try RobertaModel.load(directory: directory)
        let aligned = try RobertaModel.load(directory: Fixtures.model("tiny"))
        XCTAssertGreaterThan(misaligned.weightsSummary.copiedBytes, 0)
        let text = "Paris is the <mask> of France."
        XCTAssertEqual(try misaligned.fillMask(text).masks, try aligned.fillMask(text).masks)
    }

    func testFloat32WeightsAreMappedNotCopied() throws {
        let model = try RobertaModel.load(directory: Fixtures.model("tiny"))
        XCTAssertEqual(model.weightsSummary.copiedBytes, 0)
        XCTAssertGreaterThan(model.weightsSummary.mappedBytes, 0)
        XCTAssertEqual(model.weightsSummary.dtypes, ["F32"])
    }

    func testHalfPrecisionWeightsAreWidened() throws {
        let f16 = try RobertaModel.load(directory: Fixtures.model("tiny-f16"))
        XCTAssertEqual(f16.weightsSummary.dtypes, ["F16"])
        XCTAssertGreaterThan(f16.weightsSummary.copiedBytes, 0)
        let bf16 = try RobertaModel.load(directory: Fixtures.model("tiny-bf16"))
        XCTAssertEqual(bf16.weightsSummary.dtypes, ["BF16"])
    }

    func testBadShardIndexIsNamed() throws {
        try Data("{\"metadata\": {}}".utf8).write(to: directory.appendingPathComponent("model.safetensors.index.json"))
        expectLoadError { if case .badShardIndex(let file, _) = $0 { return file.hasSuffix("model.safetensors.index.json") } else { return false } }
    }
}

/// One tensor to write into a test safetensors file.
struct SafetensorsEntry {
    var name: String
    var dtype: String
    var shape: [Int]
    var data: [UInt8]
}

/// Writes a safetensors file; `edit` may tamper with the header (given the data section's length) before it is written.
func writeSafetensors(_ entries: [SafetensorsEntry], to url: URL, headerPadding: Int = 0,
                      edit: ((inout [String: Any], Int) -> Void)? = nil) throws {
    var header: [String: Any] = ["__metadata__": ["format": "pt"]]
    var data: [UInt8] = []
    for entry in entries {
        header[entry.name] = ["dtype": entry.dtype, "shape": entry.shape, "data_offsets": [data.count, data.count + entry.data.count]]
        data += entry.data
    }
    edit?(&header, data.count)
    var headerBytes = [UInt8](try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
    // Pad with spaces to 8-byte alignment (as the safetensors library does), plus any deliberate misalignment.
    while headerBytes.count % 8 != 0 { headerBytes.append(0x20) }
    headerBytes += [UInt8](repeating: 0x20, count: headerPadding)
    var bytes = withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { [UInt8]($0) }
    bytes += headerBytes
    bytes += data
    try Data(bytes).write(to: url)
}
