import CKernels
import Foundation
import XCTest
@testable import RoBERTa

/// The panel cache (PanelCache.swift): packed panels written by one process and read by the next give the same bits,
/// and a file that does not belong to the checkpoint (damaged, truncated, stale) is not read but written again.
final class PanelCacheTests: XCTestCase {
    // MARK: - Checksums against a bitwise CRC-32C written from the definition

    /// CRC-32C one bit at a time (reflected polynomial 0x82f63b78, initial value and final xor 0xffffffff).
    private func bitwiseCRC32C(_ bytes: [UInt8], continuing crc: UInt32 = 0) -> UInt32 {
        var c = ~crc
        for byte in bytes {
            c ^= UInt32(byte)
            for _ in 0..<8 { c = c & 1 == 1 ? (c >> 1) ^ 0x82f6_3b78 : c >> 1 }
        }
        return ~c
    }

    private func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
    }

    /// Runs `body` with SSE 4.2's crc32 (where the CPU has it) and with the table.
    private func bothPaths(_ body: (String) -> Void) {
        body("crc32 instruction")
        ms_crc32c_force_software(1)
        defer { ms_crc32c_force_software(0) }
        body("table")
    }

    func testCRC32CIsTheStandardOne() {
        bothPaths { path in
        XCTAssertEqual(ms_crc32c(0, Array("123456789".utf8), 9), 0xe306_9283, "the check value of CRC-32C (RFC 3720), \(path)")
        for (n, seed) in [(0, 1), (1, 2), (7, 3), (8, 4), (9, 5), (63, 6), (4097, 7), (100_003, 8)] as [(Int, UInt64)] {
            let bytes = randomBytes(n, seed: seed)
            XCTAssertEqual(ms_crc32c(0, bytes, n), bitwiseCRC32C(bytes), "\(n) bytes")
            // Continuing from an earlier CRC is the CRC of the concatenation.
            let cut = n / 3
            let head = ms_crc32c(0, Array(bytes[..<cut]), cut)
            XCTAssertEqual(Array(bytes[cut...]).withUnsafeBytes { ms_crc32c(head, $0.baseAddress, n - cut) }, bitwiseCRC32C(bytes), path)
        }
        }
    }

    func testBlockChecksumIsTheCRCOfTheBlocksCRCs() {
        bothPaths { path in
        let block = 65536
        for n in [0, 100, block, block + 1, 4 * block, 5 * block + 17, 9 * block] {
            let bytes = randomBytes(n, seed: UInt64(n) + 11)
            var list: [UInt8] = []
            for start in stride(from: 0, to: n, by: block) {
                let crc = bitwiseCRC32C(Array(bytes[start..<min(start + block, n)]))
                list += [UInt8(crc & 0xff), UInt8(crc >> 8 & 0xff), UInt8(crc >> 16 & 0xff), UInt8(crc >> 24)]
            }
            XCTAssertEqual(ms_block_checksum(bytes, n), n == 0 ? 0 : bitwiseCRC32C(list), "\(n) bytes, \(path)")
        }
        }
    }

    // MARK: - Settings

    func testSettingsComeFromTheEnvironment() {
        XCTAssertNil(PanelCacheSettings.fromEnvironment(["MASKSCOPE_PANEL_CACHE": "off", "HOME": "/h"]).folder)
        XCTAssertEqual(PanelCacheSettings.fromEnvironment(["MASKSCOPE_PANEL_CACHE": "/x/y", "HOME": "/h"]).folder, "/x/y")
        XCTAssertEqual(PanelCacheSettings.fromEnvironment(["XDG_CACHE_HOME": "/c", "HOME": "/h"]).folder, "/c/maskscope/panels")
        XCTAssertEqual(PanelCacheSettings.fromEnvironment(["XDG_CACHE_HOME": "relative", "HOME": "/h"]).folder, "/h/.cache/maskscope/panels")
        XCTAssertEqual(PanelCacheSettings.fromEnvironment(["HOME": "/h"]).minimumBytes, 64 << 20)
        let none = PanelCacheSettings.fromEnvironment([:])
        XCTAssertNil(none.folder)
        XCTAssertTrue(none.offReason.contains("HOME"), none.offReason)
    }

    // MARK: - Written, read, replaced

    private var kernels: Bool { Compute.kernelsAvailable }

    /// A copy of a fixture model (its files may be touched) and a cache folder, both removed after the test.
    private func modelCopy(_ fixture: String) throws -> (model: URL, folder: String) {
        let root = try temporaryDirectory()
        let model = root.appendingPathComponent(fixture)
        try FileManager.default.copyItem(at: Fixtures.model(fixture), to: model)
        return (model, root.appendingPathComponent("cache").path)
    }

    private func settings(_ folder: String) -> PanelCacheSettings { PanelCacheSettings(folder: folder, minimumBytes: 0) }

    private let sentences = ["Paris is the <mask> of France.", "The quick brown fox jumps over the <mask> dog, and <mask> runs."]

    /// The logits at every mask of `sentences`.
    private func answers(_ model: RobertaModel) throws -> [[[Float]]] {
        try sentences.map { text in
            let ids = try model.inputIDs(for: text)
            let masks = ids.indices.filter { ids[$0] == model.tokenizer.maskID }
            return try model.logits(model.encode(ids: ids), at: masks)
        }
    }

    /// The matrices the products read (untied, the word embeddings are only looked up by row: not cached).
    private func allMatrices(_ model: RobertaModel) -> [LinearWeight] {
        let w = model.weights
        return [w.lmDense, w.decoder] + w.layers.flatMap { [$0.query, $0.key, $0.value, $0.attentionOutput, $0.intermediate, $0.output] }
    }

    /// Loads `model` with the cache and runs the passes that pack and write it.
    private func writeCache(_ model: URL, folder: String, precision: RobertaModel.Precision,
                            file: StaticString = #filePath, line: UInt = #line) throws -> (path: String, answers: [[[Float]]]) {
        let writer = try RobertaModel.load(directory: model, threads: 2, precision: precision, panelCache: settings(folder))
        guard case .writing(let path, _) = writer.panelCacheState else {
            XCTFail("expected a file to write, got \(writer.panelCacheState)", file: file, line: line)
            return ("", [])
        }
        let result = try answers(writer)
        _ = try answers(writer) // the pass that packs (every matrix packed after it)
        RobertaModel.waitForPanelCaches() // as the command line does before it exits
        XCTAssertEqual(writer.panelCacheState, .written(path: path), file: file, line: line)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path), file: file, line: line)
        XCTAssertEqual(try answers(writer), result, "the writer's answers after writing", file: file, line: line)
        return (path, result)
    }

    func testPanelsReadBackGiveTheSameBitsAsPacking() throws {
        try XCTSkipUnless(kernels, "this CPU has no AVX2/FMA/F16C: the kernels (and so the panels) are not used here")
        for (fixture, precision) in [("tiny", RobertaModel.Precision.auto), ("tiny", .bf16), ("tiny", .f16), ("tiny-untied", .auto),
                                     ("tiny-sharded", .auto), ("tiny-bf16", .auto), ("tiny-bin-f16", .auto)] {
            let (model, folder) = try modelCopy(fixture)
            let reference = try answers(RobertaModel.load(directory: model, threads: 1, precision: precision, panelCache: .off))
            let (path, written) = try writeCache(model, folder: folder, precision: precision)
            XCTAssertEqual(written, reference, "\(fixture) \(precision): the writer")
            XCTAssertTrue(URL(fileURLWithPath: path).lastPathComponent.hasPrefix("\(fixture)-\(precision.rawValue)-"), path)

            let reader = try RobertaModel.load(directory: model, threads: 2, precision: precision, panelCache: settings(folder))
            XCTAssertEqual(reader.panelCacheState, .read(path: path), "\(fixture) \(precision)")
            XCTAssertTrue(allMatrices(reader).allSatisfy { $0.panels?.isPacked == true }, "packed at load: no pass packs")
            XCTAssertEqual(try answers(reader), reference, "\(fixture) \(precision): read from the file, bit for bit")
            // The summary says what a load without the cache says.
            let plain = try RobertaModel.load(directory: model, threads: 1, precision: precision, panelCache: .off)
            XCTAssertEqual(reader.weightsSummary.matrixDType, plain.weightsSummary.matrixDType)
            XCTAssertEqual(reader.weightsSummary.roundedFrom, plain.weightsSummary.roundedFrom)
            XCTAssertEqual(reader.weightsSummary.dtypes, plain.weightsSummary.dtypes)
            XCTAssertEqual(reader.weightsSummary.mappedBytes, plain.weightsSummary.mappedBytes)
            XCTAssertEqual(reader.weightsSummary.ignoredTensors, plain.weightsSummary.ignoredTensors)
            // Embedding rows come from the read panels.
            let h = reader.config.hiddenSize
            var row = [Float](repeating: .nan, count: h), expected = [Float](repeating: .nan, count: h)
            reader.weights.wordEmbeddings.widenRow(7, width: h, into: &row)
            withExtendedLifetime(plain) { plain.weights.wordEmbeddings.widenRow(7, width: h, into: &expected) }
            XCTAssertEqual(row, expected, "\(fixture) \(precision)")
        }
    }

    /// Flips one byte at `offset` of the file.
    private func damage(_ path: String, at offset: Int) throws {
        let handle = try XCTUnwrap(FileHandle(forUpdatingAtPath: path))
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(offset))
        let byte = try XCTUnwrap(handle.readData(ofLength: 1).first)
        try handle.seek(toOffset: UInt64(offset))
        handle.write(Data([byte ^ 0x40]))
    }

    private func dataOffset(_ path: String) throws -> Int {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return Int(data[8..<16].withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) })
    }

    /// The header's matrices: name, offset from the data, bytes.
    private func matrices(_ path: String) throws -> [(name: String, offset: Int, bytes: Int)] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let length = Int(data[16..<24].withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) })
        let header = try XCTUnwrap(JSONSerialization.jsonObject(with: data[24..<(24 + length)]) as? [String: Any])
        return try XCTUnwrap(header["matrices"] as? [[String: Any]]).map {
            (try XCTUnwrap($0["name"] as? String), try XCTUnwrap($0["offset"] as? Int), try XCTUnwrap($0["bytes"] as? Int))
        }
    }

    /// Loads with the cache, expecting the file to be written again for `reason`, and checks the answers.
    private func expectReplaced(_ model: URL, folder: String, reason: String, reference: [[[Float]]],
                                file: StaticString = #filePath, line: UInt = #line) throws {
        let loaded = try RobertaModel.load(directory: model, threads: 2, panelCache: settings(folder))
        guard case .writing(_, let replacing) = loaded.panelCacheState else {
            return XCTFail("expected the file to be written again, got \(loaded.panelCacheState)", file: file, line: line)
        }
        XCTAssertTrue(replacing?.contains(reason) == true, "\(replacing ?? "nil") should say \(reason)", file: file, line: line)
        XCTAssertFalse(allMatrices(loaded).contains { $0.panels?.isPacked == true }, "nothing read from it", file: file, line: line)
        XCTAssertEqual(try answers(loaded), reference, file: file, line: line)
        _ = try answers(loaded)
        loaded.waitForPanelCache()
        if case .written = loaded.panelCacheState {} else { XCTFail("\(loaded.panelCacheState)", file: file, line: line) }
        let again = try RobertaModel.load(directory: model, threads: 1, panelCache: settings(folder))
        if case .read = again.panelCacheState {} else { XCTFail("\(again.panelCacheState)", file: file, line: line) }
        XCTAssertEqual(try answers(again), reference, file: file, line: line)
    }

    func testAFileThatDoesNotMatchIsWrittenAgain() throws {
        try XCTSkipUnless(kernels, "this CPU has no AVX2/FMA/F16C: the kernels (and so the panels) are not used here")
        let (model, folder) = try modelCopy("tiny")
        let (path, reference) = try writeCache(model, folder: folder, precision: .auto)
        let start = try dataOffset(path)

        // One bit of the word embeddings' panels.
        try damage(path, at: start + 1000)
        try expectReplaced(model, folder: folder, reason: "the checksum of roberta.embeddings.word_embeddings.weight does not match",
                           reference: reference)
        // One bit of the last matrix's last byte.
        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        let last = try XCTUnwrap(try matrices(path).last)
        XCTAssertEqual(last.name, "lm_head.dense.weight")
        try damage(path, at: start + last.offset + last.bytes - 1)
        try expectReplaced(model, folder: folder, reason: "the checksum of lm_head.dense.weight does not match", reference: reference)
        // The header: its JSON, then the magic.
        try damage(path, at: 30)
        try expectReplaced(model, folder: folder, reason: "header is damaged", reference: reference)
        try damage(path, at: 0)
        try expectReplaced(model, folder: folder, reason: "not a MaskScope panel file", reference: reference)
        // Cut short.
        XCTAssertEqual(truncate(path, off_t(size / 2)), 0)
        try expectReplaced(model, folder: folder, reason: "bytes where this model's panels take \(size)", reference: reference)
        // The checkpoint changed since (its modification time): the file names the old one.
        var times = [timespec(tv_sec: 1_000_000_000, tv_nsec: 0), timespec(tv_sec: 1_000_000_000, tv_nsec: 0)]
        XCTAssertEqual(utimensat(AT_FDCWD, model.appendingPathComponent("model.safetensors").path, &times, 0), 0)
        try expectReplaced(model, folder: folder, reason: "written for other checkpoint files or matrices", reference: reference)
    }

    func testAFileOfAnotherPrecisionIsAnotherFile() throws {
        try XCTSkipUnless(kernels, "this CPU has no AVX2/FMA/F16C: the kernels (and so the panels) are not used here")
        let (model, folder) = try modelCopy("tiny")
        let (f32, _) = try writeCache(model, folder: folder, precision: .auto)
        let (bf16, _) = try writeCache(model, folder: folder, precision: .bf16)
        XCTAssertNotEqual(f32, bf16)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder).sorted(),
                       [f32, bf16].map { URL(fileURLWithPath: $0).lastPathComponent }.sorted(), "no temporary file left behind")
    }

    func testSmallModelsAndOpenBLASAreNotCached() throws {
        let (model, folder) = try modelCopy("tiny")
        let small = try RobertaModel.load(directory: model, threads: 1, panelCache: PanelCacheSettings(folder: folder))
        guard case .off(let reason) = small.panelCacheState else { return XCTFail("\(small.panelCacheState)") }
        XCTAssertTrue(reason.contains("below the 64 MiB worth caching"), reason)
        let off = try RobertaModel.load(directory: model, threads: 1, panelCache: .off)
        XCTAssertEqual(off.panelCacheState, .off(reason: "off"))
        let blas = try RobertaModel.load(directory: model, threads: 1, kernels: .openblas, panelCache: settings(folder))
        guard case .off(let why) = blas.panelCacheState else { return XCTFail("\(blas.panelCacheState)") }
        XCTAssertTrue(why.contains("OpenBLAS"), why)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder))
    }

    func testAFolderThatCannotBeMadeFailsWithoutHarm() throws {
        try XCTSkipUnless(kernels, "this CPU has no AVX2/FMA/F16C: the kernels (and so the panels) are not used here")
        let (model, root) = try modelCopy("tiny")
        _ = FileManager.default.createFile(atPath: root, contents: Data("a file".utf8))
        let reference = try answers(RobertaModel.load(directory: model, threads: 1, panelCache: .off))
        let loaded = try RobertaModel.load(directory: model, threads: 2, panelCache: settings(root + "/panels"))
        XCTAssertEqual(try answers(loaded), reference)
        XCTAssertEqual(try answers(loaded), reference)
        loaded.waitForPanelCache()
        guard case .failed(_, let reason) = loaded.panelCacheState else { return XCTFail("\(loaded.panelCacheState)") }
        XCTAssertTrue(reason.contains("cannot make the folder \(root)/panels"), reason)
        XCTAssertEqual(try answers(loaded), reference)
    }

    /// A copy of the tiny model whose panel cache file was written, and a model loaded from that file.
    private func readerOfAWrittenFile(file: StaticString = #filePath, line: UInt = #line)
        throws -> (model: URL, folder: String, path: String, reader: RobertaModel) {
        let (model, folder) = try modelCopy("tiny")
        let (path, _) = try writeCache(model, folder: folder, precision: .auto, file: file, line: line)
        let reader = try RobertaModel.load(directory: model, threads: 1, panelCache: settings(folder))
        XCTAssertEqual(reader.panelCacheState, .read(path: path), file: file, line: line)
        return (model, folder, path, reader)
    }

    func testAFileCutShortDuringAPassIsAnErrorNotSIGBUS() throws {
        try XCTSkipUnless(kernels, "this CPU has no AVX2/FMA/F16C: the kernels (and so the panels) are not used here")
        let (model, folder, path, reader) = try readerOfAWrittenFile()
        // After the check before the pass, while the pass reads the panels: every page past the new end is a
        // SIGBUS, which the map guard turns into zeros; the pass ends and its answer is refused.
        XCTAssertThrowsError(try reader.guardedPass { () throws -> EncoderOutput in
            XCTAssertEqual(truncate(path, 4096), 0)
            return try reader.weights.encode(ids: [0, 5, 2], capture: .none, compute: reader.compute)
        }) { error in
            guard case ModelLoadError.fileChanged(let file, let detail) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(file, path)
            XCTAssertTrue(detail.contains("truncated while a forward pass read it"), detail)
            XCTAssertTrue(detail.contains("load the model again"), detail)
        }
        // A new load writes the file again and answers.
        let again = try RobertaModel.load(directory: model, threads: 1, panelCache: settings(folder))
        if case .writing = again.panelCacheState {} else { XCTFail("\(again.panelCacheState)") }
        XCTAssertGreaterThan(try again.fillMask("Paris is the <mask> of France.").masks[0].candidates.count, 0)
    }

    func testAFileCutShortUnderAModelIsAnError() throws {
        try XCTSkipUnless(kernels, "this CPU has no AVX2/FMA/F16C: the kernels (and so the panels) are not used here")
        let (_, _, path, reader) = try readerOfAWrittenFile()
        XCTAssertEqual(truncate(path, 4096), 0)
        XCTAssertThrowsError(try reader.fillMask("Paris is the <mask> of France.")) { error in
            guard case ModelLoadError.fileChanged(let file, let detail) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(file, path)
            XCTAssertTrue(detail.contains("bytes when loaded"), detail)
        }
    }
}
