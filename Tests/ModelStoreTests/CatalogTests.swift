import Foundation
import XCTest
@testable import ModelStore

/// `maskscope models` and the first-run choice of models.
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

    func testFirstRunOpensTheDemoWithABannerAndThePullCommand() throws {
        let cache = try scratchDirectory()
        let startup = try ModelCatalog(cache: HubCache(root: cache)).startupModels(demo: TestPaths.tiny)
        XCTAssertTrue(startup.isDemo)
        XCTAssertEqual(startup.models.map(\.source), [.demo])
        XCTAssertEqual(startup.models.first?.directory.path, TestPaths.tiny.path)
        let banner = try XCTUnwrap(startup.banner)
        XCTAssertTrue(banner.contains("mean nothing"))
        XCTAssertTrue(banner.contains("maskscope pull roberta-base roberta-large distilroberta-base"), banner)
        XCTAssertEqual(startup.pullable.map(\.name), ["roberta-base", "roberta-large", "distilroberta-base"])
        XCTAssertThrowsError(try ModelCatalog(cache: HubCache(root: cache)).startupModels(demo: nil)) { error in
            guard case ModelStoreError.noModels = error else { return XCTFail("got \(error)") }
        }
    }

    func testRealModelsInTheCacheReplaceTheDemo() throws {
        let cache = try scratchDirectory()
        try makeCachedModel(in: cache, repoID: "roberta-large")            // old id
        try makeCachedModel(in: cache, repoID: "FacebookAI/roberta-base")
        let startup = try ModelCatalog(cache: HubCache(root: cache)).startupModels(demo: TestPaths.tiny)
        XCTAssertFalse(startup.isDemo)
        XCTAssertNil(startup.banner)
        XCTAssertEqual(startup.models.map(\.name), ["roberta-base", "roberta-large"])
        XCTAssertEqual(startup.pullable.map(\.name), ["distilroberta-base"])
    }

    func testDemoModelIsFoundFromTheEnvironmentTheExecutableOrTheRepository() throws {
        XCTAssertEqual(DemoModel.locate(environment: ["MASKSCOPE_DEMO_MODEL": TestPaths.tiny.path], executable: nil,
                                        workingDirectory: try scratchDirectory())?.path, TestPaths.tiny.path)
        // A build inside the repository: .build/debug/maskscope finds models/demo three folders up.
        let executable = TestPaths.repoRoot.appendingPathComponent(".build/x86_64-unknown-linux-gnu/debug/maskscope")
        XCTAssertEqual(DemoModel.locate(environment: [:], executable: executable, workingDirectory: try scratchDirectory())?.standardizedFileURL.path,
                       TestPaths.repoRoot.appendingPathComponent("models/demo").standardizedFileURL.path)
        XCTAssertNil(DemoModel.locate(environment: [:], executable: nil, workingDirectory: try scratchDirectory()))
    }

    func testBundledDemoIsTheTinyFixture() throws {
        for file in TestPaths.modelFiles {
            XCTAssertEqual(try Data(contentsOf: TestPaths.repoRoot.appendingPathComponent("models/demo/\(file)")),
                           try Data(contentsOf: TestPaths.tiny.appendingPathComponent(file)), file)
        }
    }
}
