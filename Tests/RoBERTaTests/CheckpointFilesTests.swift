import Foundation
import XCTest
@testable import RoBERTa

/// Which file a model directory's weights are read from, when it holds one, several or none.
final class CheckpointFilesTests: XCTestCase {
    /// A directory holding empty files with these names (the choice reads no weights, only the index).
    func directory(holding names: [String], index: String = #"{"weight_map": {"b": "two.safetensors", "a": "one.safetensors"}}"#) throws -> URL {
        let directory = try temporaryDirectory()
        for name in names {
            let contents = name == CheckpointFiles.Kind.shardedSafetensors.fileName ? Data(index.utf8) : Data()
            try contents.write(to: directory.appendingPathComponent(name))
        }
        return directory
    }

    func testTheKindsAreInTheOrderOfPreference() {
        XCTAssertEqual(CheckpointFiles.Kind.allCases.map(\.fileName),
                       ["model.safetensors", "model.safetensors.index.json", "pytorch_model.bin"])
    }

    func testSafetensorsWinsOverAnIndexAndPyTorch() throws {
        let all = try directory(holding: ["pytorch_model.bin", "model.safetensors.index.json", "model.safetensors"])
        XCTAssertEqual(try CheckpointFiles.choose(in: all), .safetensors(all.appendingPathComponent("model.safetensors")))
        XCTAssertEqual(CheckpointFiles.Kind.present(in: all), .safetensors)
    }

    func testAnIndexWinsOverPyTorchAndNamesItsShardsInFirstSeenOrder() throws {
        let sharded = try directory(holding: ["pytorch_model.bin", "model.safetensors.index.json"])
        let choice = try CheckpointFiles.choose(in: sharded)
        XCTAssertEqual(choice, .shardedSafetensors(index: sharded.appendingPathComponent("model.safetensors.index.json"),
                                                   shards: ["one.safetensors", "two.safetensors"].map(sharded.appendingPathComponent)))
        XCTAssertEqual(choice.kind, .shardedSafetensors)
    }

    func testPyTorchIsTakenWhenAlone() throws {
        let bin = try directory(holding: ["pytorch_model.bin", "config.json"])
        XCTAssertEqual(try CheckpointFiles.choose(in: bin), .pytorch(bin.appendingPathComponent("pytorch_model.bin")))
    }

    func testNoWeightsIsAMissingFileNamingModelSafetensors() throws {
        let none = try directory(holding: ["config.json", "model.bin"])
        XCTAssertNil(CheckpointFiles.Kind.present(in: none))
        XCTAssertThrowsError(try CheckpointFiles.choose(in: none)) { error in
            XCTAssertEqual(error as? ModelLoadError, .missingFile(none.appendingPathComponent("model.safetensors").path))
        }
    }

    func testASymlinkedWeightsFileCountsAndADanglingOneDoesNot() throws {
        // Hub snapshots hold symlinks into blobs/.
        let linked = try directory(holding: ["blob"])
        try FileManager.default.createSymbolicLink(atPath: linked.appendingPathComponent("pytorch_model.bin").path, withDestinationPath: "blob")
        try FileManager.default.createSymbolicLink(atPath: linked.appendingPathComponent("model.safetensors").path, withDestinationPath: "gone")
        XCTAssertEqual(CheckpointFiles.Kind.present(in: linked), .pytorch)
    }

    func testABadIndexIsAnErrorNamingIt() throws {
        let bad = try directory(holding: ["model.safetensors.index.json", "pytorch_model.bin"], index: #"{"weight_map": {"a": "../x"}}"#)
        XCTAssertThrowsError(try CheckpointFiles.choose(in: bad)) { error in
            guard case .badShardIndex(let file, let detail)? = error as? ModelLoadError else { return XCTFail("\(error)") }
            XCTAssertTrue(file.hasSuffix("model.safetensors.index.json"))
            XCTAssertTrue(detail.contains("must be a plain file name"), detail)
        }
    }

    func testTheFixturesChooseAsTheEngineLoadsThem() throws {
        XCTAssertEqual(try CheckpointFiles.choose(in: Fixtures.model("tiny")).kind, .safetensors)
        XCTAssertEqual(try CheckpointFiles.choose(in: Fixtures.model("tiny-sharded")).kind, .shardedSafetensors)
        XCTAssertEqual(try CheckpointFiles.choose(in: Fixtures.model("tiny-bin")).kind, .pytorch)
    }
}
