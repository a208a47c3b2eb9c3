import Foundation
import XCTest
@testable import ModelStore

/// `maskscope models`: what the cache holds and what can be pulled.
final class CatalogTests: XCTestCase {
    func testListingDescribesCachedModelsAndOffersTheMissingKnownOnes() throws {
        let cache = try scratchDirectory()
        try makeCachedModel(in: cache, repoID: "FacebookAI/roberta-base")
        try makeCachedModel(in: cache, repoID: "someone/tiny-bin", source: TestPaths.tinyBin,
                            files: ["config.json", "vocab.json", "merges.txt", "pytorch_model.bin"])
        let entries = ModelCatalog(cache: HubCache(root: cache)).entries()
        XCTAssertEqual(entries.map(\.name), ["roberta-base", "someone/tiny-bin", "roberta-large", "distilroberta-base"])
        XCTAssertEqual(entries.map(\.present), [true, true, false, false])

        let base = entries[0]
        XCTAssertEqual(base.dtypes, ["F32"])
        XCTAssertEqual(base.layers, 2)      // the fixture stands in for roberta-base: its own config is read
        XCTAssertEqual(base.hiddenSize, 32)
        XCTAssertTrue(base.loadable)
        let expectedSize = try TestPaths.modelFiles.reduce(Int64(0)) { total, file in
            total + ((try FileManager.default.attributesOfItem(atPath: TestPaths.tiny.appendingPathComponent(file).path)[.size] as? NSNumber)?.int64Value ?? 0)
        }
        XCTAssertEqual(base.sizeBytes, expectedSize)
        XCTAssertEqual(entries[1].dtypes, ["F32"])
        XCTAssertTrue(entries[1].loadable)
        XCTAssertEqual(entries[2].pullCommand, "maskscope pull roberta-large")
        XCTAssertEqual(entries[2].layers, 24)
        XCTAssertNil(entries[2].directory)
    }

    func testNonRobertaModelsAreListedAsNotLoadable() throws {
        let cache = try scratchDirectory()
        let snapshot = try makeCachedModel(in: cache, repoID: "google-bert/bert-base-uncased")
        let config = snapshot.appendingPathComponent("config.json")
        let target = try FileManager.default.destinationOfSymbolicLink(atPath: config.path)
        try Data(#"{"model_type": "bert", "num_hidden_layers": 12, "hidden_size": 768}"#.utf8)
            .write(to: snapshot.appendingPathComponent(target).standardizedFileURL)
        let entry = try XCTUnwrap(ModelCatalog(cache: HubCache(root: cache)).entries().first { $0.name == "google-bert/bert-base-uncased" })
        XCTAssertFalse(entry.loadable)
        XCTAssertTrue(entry.notes.contains { $0.contains("model_type bert") }, "\(entry.notes)")
    }
}
