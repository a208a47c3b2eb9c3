import Foundation
import RoBERTa
import XCTest
@testable import ModelStore

/// Which models open when none is named: the cache's, else the pocket pair; broken ones skipped and said so.
/// The pocket models here are copies of the fixtures: `tiny` (2 layers) as the teacher, `tiny-untied`
/// (3 layers) as the student, so the layer count tells which one opened.
final class StartupPolicyTests: XCTestCase {
    /// A folder holding pocket-teacher/ and pocket-student/ (nil leaves that one out).
    func pocketFolder(teacher: URL? = TestPaths.tiny, student: URL? = TestPaths.tinyUntied) throws -> URL {
        let folder = try scratchDirectory()
        for (name, source) in [(PocketModels.teacher, teacher), (PocketModels.student, student)] {
            guard let source else { continue }
            try FileManager.default.copyItem(at: source, to: folder.appendingPathComponent(name))
        }
        return folder
    }

    func policy(cache: URL, pocket: [URL]) -> StartupPolicy {
        StartupPolicy(catalog: ModelCatalog(cache: HubCache(root: cache)), pocketFolders: pocket)
    }

    func load(_ model: ResolvedModel) throws -> RobertaModel { try RobertaModel.load(directory: model.directory, threads: 1) }

    func testModelsInTheCacheOpenFirstAndThePocketPairStaysClosed() throws {
        let cache = try scratchDirectory()
        try makeCachedModel(in: cache, repoID: "roberta-large")            // old id
        try makeCachedModel(in: cache, repoID: "FacebookAI/roberta-base", source: TestPaths.tinyUntied)
        let selection = try policy(cache: cache, pocket: [try pocketFolder()]).open(limit: 2, load: load)
        XCTAssertFalse(selection.isPocket)
        XCTAssertNil(selection.banner)
        XCTAssertNil(selection.notice)
        XCTAssertEqual(selection.models.map(\.resolved.name), ["roberta-base", "roberta-large"])
        XCTAssertEqual(selection.models.map(\.resolved.source), [.cache, .cache])
        XCTAssertEqual(selection.models.map(\.model.config.numHiddenLayers), [3, 2])
        XCTAssertEqual(selection.warnings, [])
    }

    func testEmptyCacheOpensThePocketPairTeacherFirstUnderTheBanner() throws {
        let folder = try pocketFolder()
        let selection = try policy(cache: try scratchDirectory(), pocket: [folder]).open(limit: 2, load: load)
        XCTAssertTrue(selection.isPocket)
        XCTAssertEqual(selection.models.map(\.resolved.name), ["pocket-teacher", "pocket-student"])
        XCTAssertEqual(selection.models.map(\.resolved.title), ["pocket-teacher", "pocket-student"])
        XCTAssertEqual(selection.models.map(\.resolved.source), [.pocket, .pocket])
        XCTAssertEqual(selection.models.map(\.model.config.numHiddenLayers), [2, 3])
        XCTAssertEqual(selection.first.resolved.directory.path, folder.appendingPathComponent("pocket-teacher").path)
        XCTAssertNil(selection.notice)
        XCTAssertEqual(selection.banner, PocketModels.banner)
        XCTAssertTrue(PocketModels.banner.contains("not RoBERTa"), PocketModels.banner)
        XCTAssertTrue(PocketModels.banner.hasSuffix("\nReal models: maskscope pull roberta-base roberta-large distilroberta-base"),
                      PocketModels.banner)
        XCTAssertEqual(selection.warnings, ["using the pocket model pocket-teacher (not RoBERTa); the real models: maskscope pull roberta-base roberta-large distilroberta-base"])

        // A single-model command takes the first: the teacher, and nothing else is loaded.
        var loaded: [String] = []
        let one = try policy(cache: try scratchDirectory(), pocket: [folder]).open(limit: 1) { model -> String in
            loaded.append(model.name)
            return model.name
        }
        XCTAssertEqual(one.models.map(\.model), ["pocket-teacher"])
        XCTAssertEqual(loaded, ["pocket-teacher"])
    }

    func testBannerFitsTwoRowsOfAnEightyColumnScreenWithTheCommandWhole() {
        let rows = PocketModels.banner.split(separator: "\n")
        XCTAssertEqual(rows.count, 2)
        for row in rows { XCTAssertLessThanOrEqual(row.count, 78, String(row)) }   // 80 columns less a margin each side
        XCTAssertEqual(rows.last.map(String.init), "Real models: \(KnownModels.pullAllCommand)")
    }

    func testIncompletePocketTeacherIsSkippedWithANoticeAndTheStudentOpens() throws {
        let folder = try pocketFolder()
        try FileManager.default.removeItem(at: folder.appendingPathComponent("pocket-teacher/model.safetensors"))
        let selection = try policy(cache: try scratchDirectory(), pocket: [folder]).open(limit: 2, load: load)
        XCTAssertTrue(selection.isPocket)
        XCTAssertEqual(selection.models.map(\.resolved.name), ["pocket-student"])
        XCTAssertEqual(selection.skipped.map(\.name), ["pocket-teacher"])
        let notice = try XCTUnwrap(selection.notice)
        XCTAssertTrue(notice.hasPrefix("pocket-teacher skipped: \(folder.path)/pocket-teacher lacks model.safetensors"), notice)
        XCTAssertEqual(selection.warnings.first, notice)
    }

    func testPocketModelThatFailsToLoadIsSkippedWithTheLoadError() throws {
        let folder = try pocketFolder()
        try Data("{ not json".utf8).write(to: folder.appendingPathComponent("pocket-student/config.json"))
        let selection = try policy(cache: try scratchDirectory(), pocket: [folder]).open(limit: 2, load: load)
        XCTAssertEqual(selection.models.map(\.resolved.name), ["pocket-teacher"])
        let notice = try XCTUnwrap(selection.notice)
        XCTAssertTrue(notice.hasPrefix("pocket-student skipped: "), notice)
        XCTAssertTrue(notice.contains("pocket-student/config.json") && notice.contains("not valid JSON"), notice)
    }

    func testMissingPocketStudentIsSkippedWithANotice() throws {
        let folder = try pocketFolder(student: nil)
        let selection = try policy(cache: try scratchDirectory(), pocket: [folder]).open(limit: 2, load: load)
        XCTAssertEqual(selection.models.map(\.resolved.name), ["pocket-teacher"])
        XCTAssertEqual(selection.notice, "pocket-student skipped: \(folder.path)/pocket-student does not exist")
    }

    func testCachedModelsThatAllFailToLoadFallBackToThePocketPairAndAreNamed() throws {
        let cache = try scratchDirectory()
        try makeCachedModel(in: cache, repoID: "FacebookAI/roberta-base")
        struct Broken: Error, CustomStringConvertible { var description: String { "weights are corrupt" } }
        let selection = try policy(cache: cache, pocket: [try pocketFolder()]).open(limit: 2) { model -> String in
            if model.source == .cache { throw Broken() }
            return model.name
        }
        XCTAssertTrue(selection.isPocket)
        XCTAssertEqual(selection.models.map(\.model), ["pocket-teacher", "pocket-student"])
        XCTAssertEqual(selection.notice, "roberta-base skipped: weights are corrupt")
    }

    func testNothingToOpenIsAnErrorNamingWhatWasTriedAndThePullCommand() throws {
        let cache = try scratchDirectory()
        let empty = try scratchDirectory()
        XCTAssertThrowsError(try policy(cache: cache, pocket: [empty]).open(limit: 2, load: load)) { error in
            guard case ModelStoreError.noModels = error else { return XCTFail("got \(error)") }
            let text = String(describing: error)
            XCTAssertEqual(text, "no model to open; tried the Hugging Face cache \(cache.path) (no RoBERTa model in it); "
                           + "the pocket models in \(empty.path) (not there; MASKSCOPE_POCKET_MODELS names the folder that holds "
                           + "pocket-teacher/ and pocket-student/). Download the real models with: "
                           + "maskscope pull roberta-base roberta-large distilroberta-base")
        }
        // Both pocket models there but broken: each is named with why.
        let folder = try pocketFolder()
        for name in PocketModels.names {
            try FileManager.default.removeItem(at: folder.appendingPathComponent("\(name)/config.json"))
        }
        XCTAssertThrowsError(try policy(cache: cache, pocket: [folder]).open(limit: 2, load: load)) { error in
            let text = String(describing: error)
            XCTAssertTrue(text.contains("pocket-teacher (\(folder.path)/pocket-teacher lacks config.json)"), text)
            XCTAssertTrue(text.contains("pocket-student (\(folder.path)/pocket-student lacks config.json)"), text)
            XCTAssertFalse(text.contains("not there"), text)
            XCTAssertTrue(text.hasSuffix("Download the real models with: \(KnownModels.pullAllCommand)"), text)
        }
    }

    func testPocketFolderComesFromTheEnvironmentThenBesideTheExecutableThenTheWorkingDirectory() throws {
        let fm = FileManager.default
        let explicit = try pocketFolder()
        let working = try scratchDirectory()
        // Installed: PREFIX/bin/maskscope reads PREFIX/share/maskscope.
        let prefix = try scratchDirectory()
        try fm.createDirectory(at: prefix.appendingPathComponent("share/maskscope/pocket-student"), withIntermediateDirectories: true)
        // A build inside a repository: REPO/.build/x86_64-unknown-linux-gnu/debug/maskscope reads REPO/models.
        let repo = try scratchDirectory()
        try fm.createDirectory(at: repo.appendingPathComponent("models/pocket-teacher"), withIntermediateDirectories: true)

        func located(_ environment: [String: String], executable: URL?) -> String? {
            PocketModels.locate(in: PocketModels.candidateFolders(environment: environment, executable: executable,
                                                                  workingDirectory: working))?.path
        }
        let installed = prefix.appendingPathComponent("bin/maskscope")
        let built = repo.appendingPathComponent(".build/x86_64-unknown-linux-gnu/debug/maskscope")
        XCTAssertEqual(located(["MASKSCOPE_POCKET_MODELS": explicit.path], executable: installed), explicit.path)
        XCTAssertEqual(located([:], executable: installed), prefix.appendingPathComponent("share/maskscope").path)
        XCTAssertEqual(located([:], executable: built), repo.appendingPathComponent("models").path)
        // A variable naming a folder without them falls through to the next place.
        XCTAssertEqual(located(["MASKSCOPE_POCKET_MODELS": working.path], executable: built), repo.appendingPathComponent("models").path)
        XCTAssertNil(located([:], executable: nil))
        try fm.createDirectory(at: working.appendingPathComponent("models/pocket-teacher"), withIntermediateDirectories: true)
        XCTAssertEqual(located([:], executable: nil), working.appendingPathComponent("models").path)

        let order = PocketModels.candidateFolders(environment: ["MASKSCOPE_POCKET_MODELS": explicit.path], executable: installed,
                                                  workingDirectory: working).map(\.path)
        XCTAssertEqual(Array(order.prefix(3)), [explicit.path, prefix.appendingPathComponent("share/maskscope").path,
                                                prefix.appendingPathComponent("bin/models").path])
        XCTAssertEqual(order.last, working.appendingPathComponent("models").path)
    }

    func testPocketNamesResolveWhereThePocketModelsAreAndSayWhereTheyWereLookedFor() throws {
        let folder = try pocketFolder()
        let resolver = ModelResolver(cache: HubCache(root: try scratchDirectory()), workingDirectory: try scratchDirectory(),
                                     environment: ["MASKSCOPE_POCKET_MODELS": folder.path], executable: nil)
        let student = try resolver.resolve("pocket-student")
        XCTAssertEqual(student.source, .pocket)
        XCTAssertEqual(student.directory.path, folder.appendingPathComponent("pocket-student").path)

        let working = try scratchDirectory()
        let nowhere = ModelResolver(cache: HubCache(root: try scratchDirectory()), workingDirectory: working, environment: [:], executable: nil)
        XCTAssertThrowsError(try nowhere.resolve("pocket-teacher")) { error in
            guard case ModelStoreError.pocketNotFound = error else { return XCTFail("got \(error)") }
            let text = String(describing: error)
            XCTAssertTrue(text.contains(working.appendingPathComponent("models").path), text)
            XCTAssertTrue(text.contains("MASKSCOPE_POCKET_MODELS"), text)
        }
    }
}

/// The pocket models committed in the repository. This test FAILS (it does not skip) while
/// models/pocket-teacher and models/pocket-student are missing: they ship with the code that opens them.
final class RepositoryPocketModelsTests: XCTestCase {
    func testRepositoryPocketModelsLoadAsSixAndThreeLayersWithOneVocabulary() throws {
        let folder = TestPaths.repoRoot.appendingPathComponent("models")
        var models: [RobertaModel] = []
        for name in PocketModels.names {
            let directory = folder.appendingPathComponent(name)
            XCTAssertNil(ModelFiles.problem(in: directory), "models/\(name) is missing or incomplete in the repository")
            models.append(try RobertaModel.load(directory: directory, threads: 1))
        }
        guard models.count == 2 else { return }
        XCTAssertEqual(models.map(\.config.numHiddenLayers), [6, 3])
        XCTAssertEqual(models.first?.config.hiddenSize, 256)
        XCTAssertEqual(models[0].config.vocabSize, models[1].config.vocabSize)
        for file in ["vocab.json", "merges.txt"] {
            XCTAssertEqual(try Data(contentsOf: folder.appendingPathComponent("pocket-teacher/\(file)")),
                           try Data(contentsOf: folder.appendingPathComponent("pocket-student/\(file)")), "\(file) differs")
        }
        for model in models {
            let result = try model.fillMask("Paris is the <mask> of France.")
            XCTAssertEqual(result.masks.count, 1)
            XCTAssertFalse(result.masks[0].candidates.isEmpty)
        }
    }
}
