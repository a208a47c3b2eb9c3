import Foundation
import XCTest
@testable import ModelStore

/// Names, paths and the hub cache: what `--model` accepts.
final class ResolverTests: XCTestCase {
    func testCacheLocationFollowsHuggingFaceHubPrecedence() {
        let home = ["HOME": "/home/u"]
        XCTAssertEqual(HubCache.locate(environment: home).root.path, "/home/u/.cache/huggingface/hub")
        XCTAssertEqual(HubCache.locate(environment: home.merging(["XDG_CACHE_HOME": "/xdg"]) { $1 }).root.path, "/xdg/huggingface/hub")
        XCTAssertEqual(HubCache.locate(environment: home.merging(["HF_HOME": "/hf", "XDG_CACHE_HOME": "/xdg"]) { $1 }).root.path, "/hf/hub")
        XCTAssertEqual(HubCache.locate(environment: home.merging(["HF_HUB_CACHE": "~/c", "HF_HOME": "/hf"]) { $1 }).root.path, "/home/u/c")
        XCTAssertEqual(HubCache.locate(environment: home.merging(["HUGGINGFACE_HUB_CACHE": "/old"]) { $1 }).root.path, "/old")
    }

    func testShortNameResolvesThroughRefsMainUnderTheCurrentID() throws {
        let cache = try scratchDirectory()
        try makeCachedModel(in: cache, repoID: "FacebookAI/roberta-large", commit: "1111111111111111111111111111111111111111", writeRef: false)
        let current = try makeCachedModel(in: cache, repoID: "FacebookAI/roberta-large", commit: "2222222222222222222222222222222222222222")
        // An older snapshot next to it must not be picked: refs/main decides.
        let resolved = try ModelResolver(cache: HubCache(root: cache)).resolve("roberta-large")
        XCTAssertEqual(resolved.directory.path, current.path)
        XCTAssertEqual(resolved.name, "roberta-large")
        XCTAssertEqual(resolved.repoID, "FacebookAI/roberta-large")
        XCTAssertEqual(resolved.revision, "2222222222222222222222222222222222222222")
        XCTAssertEqual(resolved.source, .cache)
        XCTAssertEqual(resolved.notes, [])
        // The hub id itself, in any case, finds the same snapshot.
        XCTAssertEqual(try ModelResolver(cache: HubCache(root: cache)).resolve("facebookai/roberta-large").directory.path, current.path)
    }

    func testOldShortIDFolderIsFoundAndSaidSo() throws {
        let cache = try scratchDirectory()
        let old = try makeCachedModel(in: cache, repoID: "distilroberta-base")
        let resolved = try ModelResolver(cache: HubCache(root: cache)).resolve("distilroberta-base")
        XCTAssertEqual(resolved.directory.path, old.path)
        XCTAssertEqual(resolved.repoID, "distilroberta-base")
        XCTAssertTrue(resolved.notes.contains { $0.contains("old id distilroberta-base") && $0.contains("distilbert/distilroberta-base") }, "\(resolved.notes)")
        // The current id wins over the old one when both are there.
        let current = try makeCachedModel(in: cache, repoID: "distilbert/distilroberta-base")
        XCTAssertEqual(try ModelResolver(cache: HubCache(root: cache)).resolve("distilroberta-base").directory.path, current.path)
    }

    func testMissingRefsMainFallsBackToTheNewestCompleteSnapshotAndSaysSo() throws {
        let cache = try scratchDirectory()
        let older = try makeCachedModel(in: cache, repoID: "FacebookAI/roberta-base", commit: "aaaa000000000000000000000000000000000000", writeRef: false)
        let newer = try makeCachedModel(in: cache, repoID: "FacebookAI/roberta-base", commit: "bbbb000000000000000000000000000000000000", writeRef: false)
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -3600)], ofItemAtPath: older.path)
        try FileManager.default.setAttributes([.modificationDate: Date()], ofItemAtPath: newer.path)
        // A third, newer snapshot without weights is skipped.
        try makeCachedModel(in: cache, repoID: "FacebookAI/roberta-base", commit: "cccc000000000000000000000000000000000000",
                            files: ["config.json"], writeRef: false)
        let resolved = try ModelResolver(cache: HubCache(root: cache)).resolve("roberta-base")
        XCTAssertEqual(resolved.directory.path, newer.path)
        XCTAssertTrue(resolved.notes.contains { $0.contains("has no refs/main") }, "\(resolved.notes)")
        XCTAssertTrue(resolved.notes.contains { $0.contains("newest of 2 complete snapshots") }, "\(resolved.notes)")
    }

    func testRefToAMissingSnapshotFallsBack() throws {
        let cache = try scratchDirectory()
        let only = try makeCachedModel(in: cache, repoID: "org/model", commit: "dddd000000000000000000000000000000000000")
        try Data("eeee000000000000000000000000000000000000".utf8).write(to: cache.appendingPathComponent("models--org--model/refs/main"))
        let resolved = try ModelResolver(cache: HubCache(root: cache)).resolve("org/model")
        XCTAssertEqual(resolved.directory.path, only.path)
        XCTAssertTrue(resolved.notes.first?.contains("names snapshot eeee") == true, "\(resolved.notes)")
    }

    func testUnknownNameSaysWhereItLookedAndTheExactPullCommand() throws {
        let cache = try scratchDirectory()
        let work = try scratchDirectory()
        let resolver = ModelResolver(cache: HubCache(root: cache), workingDirectory: work)
        XCTAssertThrowsError(try resolver.resolve("roberta-large")) { error in
            guard case ModelStoreError.notFound(let name, let looked, let pull) = error else { return XCTFail("got \(error)") }
            XCTAssertEqual(name, "roberta-large")
            XCTAssertEqual(pull, "maskscope pull roberta-large")
            XCTAssertEqual(Array(looked.prefix(2)), [cache.appendingPathComponent("models--FacebookAI--roberta-large").path,
                                                      cache.appendingPathComponent("models--roberta-large").path])
            XCTAssertTrue("\(error)".hasSuffix("Download it with: maskscope pull roberta-large"), "\(error)")
        }
        XCTAssertThrowsError(try resolver.resolve("someone/bert-ish")) { error in
            guard case ModelStoreError.notFound(_, _, let pull) = error else { return XCTFail("got \(error)") }
            XCTAssertEqual(pull, "maskscope pull someone/bert-ish")
        }
    }

    func testCacheFolderWithoutAUsableSnapshotIsCalledIncomplete() throws {
        let cache = try scratchDirectory()
        try makeCachedModel(in: cache, repoID: "FacebookAI/roberta-base", files: ["config.json", "vocab.json"])
        XCTAssertThrowsError(try ModelResolver(cache: HubCache(root: cache)).resolve("roberta-base")) { error in
            guard case ModelStoreError.incompleteCache(_, _, let detail, let pull) = error else { return XCTFail("got \(error)") }
            XCTAssertTrue(detail.contains("merges.txt"), detail)
            XCTAssertEqual(pull, "maskscope pull roberta-base")
        }
    }

    func testAnExistingDirectoryWinsEvenWhenItLooksLikeAnID() throws {
        let work = try scratchDirectory()
        let directory = work.appendingPathComponent("org/name")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let resolver = ModelResolver(cache: HubCache(root: try scratchDirectory()), workingDirectory: work)
        let resolved = try resolver.resolve("org/name")
        XCTAssertEqual(resolved.source, .directory)
        XCTAssertEqual(resolved.directory.path, directory.path)
        XCTAssertEqual(try resolver.resolve(TestPaths.tiny.path).directory.path, TestPaths.tiny.path)
    }

    func testPathThatDoesNotExistAndBadNamesAreTold() throws {
        let resolver = ModelResolver(cache: HubCache(root: try scratchDirectory()), workingDirectory: try scratchDirectory())
        XCTAssertThrowsError(try resolver.resolve("./nowhere/model")) { error in
            guard case ModelStoreError.directoryNotFound(let path) = error else { return XCTFail("got \(error)") }
            XCTAssertTrue(path.hasSuffix("/nowhere/model"), path)
        }
        XCTAssertThrowsError(try resolver.resolve("a/b/c")) { error in
            XCTAssertEqual(error as? ModelStoreError, .invalidName("a/b/c"))
        }
        XCTAssertThrowsError(try resolver.resolve("has space")) { error in
            XCTAssertEqual(error as? ModelStoreError, .invalidName("has space"))
        }
    }

    func testKnownModelsAndTheirAliases() {
        XCTAssertEqual(KnownModels.find("roberta-large")?.repoID, "FacebookAI/roberta-large")
        XCTAssertEqual(KnownModels.find("FacebookAI/roberta-base")?.name, "roberta-base")
        XCTAssertEqual(KnownModels.find("distilbert/distilroberta-base")?.cacheIDs, ["distilbert/distilroberta-base", "distilroberta-base"])
        XCTAssertNil(KnownModels.find("bert-base-uncased"))
        XCTAssertEqual(HubCache.folderName(for: "FacebookAI/roberta-large"), "models--FacebookAI--roberta-large")
        XCTAssertEqual(HubCache.repoID(forFolder: "models--distilbert--distilroberta-base"), "distilbert/distilroberta-base")
        XCTAssertNil(HubCache.repoID(forFolder: "datasets--x--y"))
    }
}
