import Foundation
import XCTest
@testable import RoBERTa

/// pytorch_model.bin: the same model as model.safetensors, and a pickle reader that refuses anything but a state dict.
final class PyTorchCheckpointTests: XCTestCase {
    let sentences = ["Paris is the <mask> of France.", "The <mask> sat on the <mask>.", "<mask> is a day."]

    func assertSamePredictions(_ a: RobertaModel, _ b: RobertaModel, file: StaticString = #filePath, line: UInt = #line) throws {
        for text in sentences {
            let x = try a.fillMask(text, options: FillMaskOptions(topK: 10))
            let y = try b.fillMask(text, options: FillMaskOptions(topK: 10))
            XCTAssertEqual(x.masks, y.masks, "fill-mask differs for \(text)", file: file, line: line)
        }
    }

    func testBinModelFillsMaskExactlyAsTheSafetensorsOne() throws {
        let safetensors = try RobertaModel.load(directory: Fixtures.model("tiny"))
        let bin = try RobertaModel.load(directory: Fixtures.model("tiny-bin"))
        try assertSamePredictions(safetensors, bin)
        XCTAssertEqual(bin.weightsSummary.files, [Fixtures.model("tiny-bin").appendingPathComponent("pytorch_model.bin").path])
        XCTAssertEqual(bin.weightsSummary.dtypes, ["F32"])
        // torch.save aligns storages to 64 bytes, so float32 tensors are used in place, never copied.
        XCTAssertEqual(bin.weightsSummary.copiedBytes, 0)
        XCTAssertTrue(bin.weightsSummary.ignoredTensors.contains("roberta.embeddings.position_ids"))
    }

    func testHalfPrecisionBinMatchesHalfPrecisionSafetensors() throws {
        let safetensors = try RobertaModel.load(directory: Fixtures.model("tiny-f16"))
        let bin = try RobertaModel.load(directory: Fixtures.model("tiny-bin-f16"))
        try assertSamePredictions(safetensors, bin)
        XCTAssertEqual(bin.weightsSummary.dtypes, ["F16"])
    }

    func testStorageOffsetOfAViewIsHonoured() throws {
        // The fixture stores lm_head.bias as a view 7 elements into a larger storage.
        let checkpoint = try PyTorchCheckpoint(path: Fixtures.model("tiny-bin").appendingPathComponent("pytorch_model.bin").path)
        let reference = try SafetensorsFile(path: Fixtures.model("tiny").appendingPathComponent("model.safetensors").path)
        let bias = try XCTUnwrap(checkpoint.tensors["lm_head.bias"])
        let expected = try XCTUnwrap(reference.tensors["lm_head.bias"])
        XCTAssertEqual(bias.shape, [1000])
        XCTAssertEqual(Array(bias.bytes), Array(expected.bytes))
        XCTAssertEqual(bias.dtypeName, "F32")
        XCTAssertEqual(checkpoint.tensors["roberta.embeddings.position_ids"]?.dtypeName, "I64")
    }

    func testDTypeProbeReadsThePickleWithoutLoading() throws {
        XCTAssertEqual(try checkpointDTypes(inModelDirectory: Fixtures.model("tiny-bin")), ["F32"])
        XCTAssertEqual(try checkpointDTypes(inModelDirectory: Fixtures.model("tiny-bin-f16")), ["F16"])
        XCTAssertEqual(try checkpointDTypes(inModelDirectory: Fixtures.model("tiny-bf16")), ["BF16"])
    }

    // MARK: - Refusals

    func testOsSystemGlobalIsRefusedAndNothingRuns() throws {
        let marker = FileManager.default.temporaryDirectory.appendingPathComponent("maskscope-pwned-\(UUID().uuidString)")
        // The classic payload: os.system("touch marker") via GLOBAL + REDUCE.
        var p = Pickle()
        p.proto(2); p.global("os", "system"); p.mark(); p.unicode("touch \(marker.path)"); p.tuple(); p.reduce(); p.stop()
        let path = try writeCheckpoint(["archive/data.pkl": p.bytes])
        XCTAssertThrowsError(try PyTorchCheckpoint(path: path)) { error in
            XCTAssertEqual(error as? PyTorchCheckpointError, .forbiddenGlobal(file: path, global: "os.system", offset: 2))
            XCTAssertTrue("\(error)".contains("os.system"))
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker.path))
    }

    func testModelDirectoryWithMaliciousBinFailsToLoadNamingTheGlobal() throws {
        var p = Pickle()
        p.proto(4); p.unicode("builtins"); p.unicode("eval"); p.op(0x93); p.unicode("1+1"); p.op(0x85); p.reduce(); p.stop()
        let directory = try temporaryModelDirectory(bin: ["archive/data.pkl": p.bytes])
        XCTAssertThrowsError(try RobertaModel.load(directory: directory)) { error in
            guard case PyTorchCheckpointError.forbiddenGlobal(_, let global, _) = error else { return XCTFail("got \(error)") }
            XCTAssertEqual(global, "builtins.eval")
        }
    }

    func testOpcodesAStateDictNeverUsesAreRefusedByName() throws {
        // INST (protocol 0 object creation) would import and call a class.
        let bytes: [UInt8] = [0x80, 0x02] + Array("isubprocess\nPopen\n".utf8) + [0x2e]
        let path = try writeCheckpoint(["archive/data.pkl": bytes])
        XCTAssertThrowsError(try PyTorchCheckpoint(path: path)) { error in
            XCTAssertEqual(error as? PyTorchCheckpointError, .forbiddenOpcode(file: path, opcode: "INST", offset: 2))
        }
        var p = Pickle()
        p.proto(2); p.global("collections", "OrderedDict"); p.op(0x29); p.op(0x81); p.stop() // NEWOBJ
        let other = try writeCheckpoint(["archive/data.pkl": p.bytes])
        XCTAssertThrowsError(try PyTorchCheckpoint(path: other)) { error in
            guard case PyTorchCheckpointError.forbiddenOpcode(_, let opcode, _) = error else { return XCTFail("got \(error)") }
            XCTAssertEqual(opcode, "NEWOBJ")
        }
    }

    func testAllowedCallableWithUnexpectedArgumentsIsRefused() throws {
        var p = Pickle()
        p.proto(2); p.global("collections", "OrderedDict"); p.mark(); p.unicode("x"); p.tuple(); p.reduce(); p.stop()
        let path = try writeCheckpoint(["archive/data.pkl": p.bytes])
        XCTAssertThrowsError(try PyTorchCheckpoint(path: path)) { error in
            guard case PyTorchCheckpointError.badPickle(_, let detail, _) = error else { return XCTFail("got \(error)") }
            XCTAssertTrue(detail.contains("OrderedDict"), detail)
        }
    }

    func testNonContiguousTensorIsAClearError() throws {
        // A transposed 2x3 view: size (3, 2), stride (1, 3).
        let p = Pickle.stateDict(name: "w", storage: "0", numel: 6, offset: 0, size: [3, 2], stride: [1, 3])
        let path = try writeCheckpoint(["m/data.pkl": p, "m/data/0": [UInt8](repeating: 0, count: 24)])
        XCTAssertThrowsError(try PyTorchCheckpoint(path: path)) { error in
            XCTAssertEqual(error as? PyTorchCheckpointError, .nonContiguous(file: path, tensor: "w", shape: [3, 2], stride: [1, 3]))
        }
    }

    func testTensorReachingPastItsStorageIsAnError() throws {
        let p = Pickle.stateDict(name: "w", storage: "0", numel: 6, offset: 4, size: [3], stride: [1])
        let path = try writeCheckpoint(["m/data.pkl": p, "m/data/0": [UInt8](repeating: 0, count: 24)])
        XCTAssertThrowsError(try PyTorchCheckpoint(path: path)) { error in
            guard case PyTorchCheckpointError.storageOutOfRange(_, let tensor, _) = error else { return XCTFail("got \(error)") }
            XCTAssertEqual(tensor, "w")
        }
    }

    func testAnyTopFolderNameAndOffsetsInsideTheStorage() throws {
        let floats: [Float] = [0, 1, 2, 3, 4, 5]
        let data = floats.withUnsafeBytes { Array($0) }
        let p = Pickle.stateDict(name: "w", storage: "0", numel: 6, offset: 2, size: [2, 2], stride: [2, 1])
        let path = try writeCheckpoint(["some_other_name/data.pkl": p, "some_other_name/data/0": data])
        let checkpoint = try PyTorchCheckpoint(path: path)
        let record = try XCTUnwrap(checkpoint.tensors["w"])
        XCTAssertEqual(record.shape, [2, 2])
        XCTAssertEqual(Array(record.bytes.bindMemory(to: Float.self)), [2, 3, 4, 5])
    }

    func testCompressedEntryIsRefused() throws {
        let p = Pickle.stateDict(name: "w", storage: "0", numel: 1, offset: 0, size: [1], stride: [1])
        let path = try writeCheckpoint(["archive/data.pkl": p, "archive/data/0": [0, 0, 0, 0]], method: 8)
        XCTAssertThrowsError(try PyTorchCheckpoint(path: path)) { error in
            guard case PyTorchCheckpointError.compressedEntry(_, _, let method) = error else { return XCTFail("got \(error)") }
            XCTAssertEqual(method, 8)
            XCTAssertTrue("\(error)".contains("compressed"))
        }
    }

    func testTruncatedArchiveIsNamed() throws {
        let original = try Data(contentsOf: Fixtures.model("tiny-bin").appendingPathComponent("pytorch_model.bin"))
        let path = try temporaryFile(Array(original.prefix(original.count / 2)))
        XCTAssertThrowsError(try PyTorchCheckpoint(path: path)) { error in
            guard case PyTorchCheckpointError.badZip(let file, _) = error else { return XCTFail("got \(error)") }
            XCTAssertEqual(file, path)
        }
    }

    func testLegacyPickleFormatIsNamedWithAWayOut() throws {
        // Pre-1.6 torch.save starts with a protocol-2 pickle of the magic number.
        let path = try temporaryFile([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e])
        XCTAssertThrowsError(try PyTorchCheckpoint(path: path)) { error in
            XCTAssertEqual(error as? PyTorchCheckpointError, .legacyFormat(file: path))
            XCTAssertTrue("\(error)".contains("maskscope pull"))
        }
    }

    // MARK: - Helpers

    func temporaryFile(_ bytes: [UInt8]) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("maskscope-test-\(UUID().uuidString).bin")
        try Data(bytes).write(to: url)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url.path
    }

    func writeCheckpoint(_ entries: [String: [UInt8]], method: UInt16 = 0) throws -> String {
        try temporaryFile(ZipWriter.archive(entries.sorted { $0.key < $1.key }, method: method))
    }

    func temporaryModelDirectory(bin entries: [String: [UInt8]]) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("maskscope-model-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
        for name in ["config.json", "vocab.json", "merges.txt"] {
            try FileManager.default.copyItem(at: Fixtures.model("tiny").appendingPathComponent(name), to: directory.appendingPathComponent(name))
        }
        try Data(ZipWriter.archive(entries.sorted { $0.key < $1.key }, method: 0)).write(to: directory.appendingPathComponent("pytorch_model.bin"))
        return directory
    }
}

/// Builds pickle bytes opcode by opcode, for checkpoints no torch would write.
struct Pickle {
    var bytes: [UInt8] = []

    mutating func op(_ code: UInt8) { bytes.append(code) }
    mutating func proto(_ v: UInt8) { bytes += [0x80, v] }
    mutating func global(_ module: String, _ name: String) { bytes += [0x63] + Array("\(module)\n\(name)\n".utf8) }
    mutating func mark() { op(0x28) }
    mutating func tuple() { op(0x74) }
    mutating func reduce() { op(0x52) }
    mutating func stop() { op(0x2e) }
    mutating func unicode(_ s: String) {
        let utf8 = Array(s.utf8)
        bytes += [0x58] + withUnsafeBytes(of: UInt32(utf8.count).littleEndian) { Array($0) } + utf8
    }
    /// BININT, or LONG1 with 8 bytes for a value outside Int32.
    mutating func int(_ v: Int) {
        if let small = Int32(exactly: v) {
            bytes += [0x4a] + withUnsafeBytes(of: small.littleEndian) { Array($0) }
        } else {
            bytes += [0x8a, 8] + withUnsafeBytes(of: v.littleEndian) { Array($0) }
        }
    }
    mutating func shortUnicode(_ s: String) { bytes += [0x8c, UInt8(s.utf8.count)] + Array(s.utf8) }
    mutating func longPut(_ index: Int) { bytes += [0x72] + withUnsafeBytes(of: UInt32(index).littleEndian) { Array($0) } }
    mutating func longGet(_ index: Int) { bytes += [0x6a] + withUnsafeBytes(of: UInt32(index).littleEndian) { Array($0) } }
    mutating func ints(_ values: [Int]) { mark(); for v in values { int(v) }; tuple() }

    /// {name: _rebuild_tensor_v2(('storage', FloatStorage, key, 'cpu', numel), offset, size, stride, False, OrderedDict())}
    static func stateDict(name: String, storage: String, numel: Int, offset: Int, size: [Int], stride: [Int]) -> [UInt8] {
        var p = Pickle()
        p.proto(2)
        p.global("collections", "OrderedDict"); p.op(0x29); p.reduce()
        p.mark()
        p.unicode(name)
        p.global("torch._utils", "_rebuild_tensor_v2")
        p.mark()
        p.mark(); p.unicode("storage"); p.global("torch", "FloatStorage"); p.unicode(storage); p.unicode("cpu"); p.int(numel); p.tuple()
        p.op(0x51) // BINPERSID
        p.int(offset); p.ints(size); p.ints(stride); p.op(0x89)
        p.global("collections", "OrderedDict"); p.op(0x29); p.reduce()
        p.tuple()
        p.reduce()
        p.op(0x75) // SETITEMS
        p.stop()
        return p.bytes
    }
}

/// A minimal zip writer (no compression, unless a method is claimed for the refusal test).
enum ZipWriter {
    static func archive(_ entries: [(key: String, value: [UInt8])], method: UInt16) -> [UInt8] {
        func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8 & 0xff)] }
        func le32(_ v: Int) -> [UInt8] { le16(v & 0xffff) + le16(v >> 16 & 0xffff) }
        var out: [UInt8] = []
        var central: [UInt8] = []
        for (name, data) in entries {
            let offset = out.count
            let nameBytes = Array(name.utf8)
            out += le32(0x0403_4b50) + le16(20) + le16(0) + le16(Int(method)) + le16(0) + le16(0)
            out += le32(0) + le32(data.count) + le32(data.count) + le16(nameBytes.count) + le16(0) + nameBytes + data
            central += le32(0x0201_4b50) + le16(20) + le16(20) + le16(0) + le16(Int(method)) + le16(0) + le16(0)
            central += le32(0) + le32(data.count) + le32(data.count) + le16(nameBytes.count) + le16(0) + le16(0)
            central += le16(0) + le16(0) + le32(0) + le32(offset) + nameBytes
        }
        let directoryOffset = out.count
        out += central
        out += le32(0x0605_4b50) + le16(0) + le16(0) + le16(entries.count) + le16(entries.count)
        out += le32(central.count) + le32(directoryOffset) + le16(0)
        return out
    }
}
