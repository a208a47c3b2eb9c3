import Foundation
import XCTest
@testable import RoBERTa
import CMapGuard
#if canImport(Glibc)
import Glibc
#endif

/// Files made to break the readers: sizes and offsets that overflow, pickles nested past any stack, empty files,
/// FIFOs. Each must end in an error naming the file and the problem, never a trap, a crash or a hang.
final class HostileFileTests: XCTestCase {
    func write(_ bytes: [UInt8], name: String = "pytorch_model.bin") throws -> String {
        let url = try temporaryDirectory().appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    func expectCheckpointError(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line,
                               _ check: (PyTorchCheckpointError, String) -> Void) throws {
        let path = try write(bytes)
        XCTAssertThrowsError(try PyTorchCheckpoint(path: path), file: file, line: line) { error in
            guard let error = error as? PyTorchCheckpointError else { return XCTFail("got \(error)", file: file, line: line) }
            check(error, path)
        }
    }

    // MARK: - Pickle depth

    func testPickleNestedHundredThousandMarksDeepIsRefusedByDepth() throws {
        // ((((...)))) built with MARK ... TUPLE: the reader refuses it once it is deeper than any state dict.
        var p = Pickle()
        p.proto(2)
        for _ in 0..<100_000 { p.mark() }
        for _ in 0..<100_000 { p.tuple() }
        p.stop()
        try expectCheckpointError(ZipWriter.archive([("archive/data.pkl", p.bytes)], method: 0)) { error, path in
            guard case .tooDeep(let file, let limit, _) = error else { return XCTFail("got \(error)") }
            XCTAssertEqual(file, path)
            XCTAssertTrue("\(error)".contains("more than \(limit) deep"), "\(error)")
        }
    }

    func testPickleNestedHundredThousandTuplesDeepIsRefusedByDepth() throws {
        // None wrapped 100,000 times with TUPLE1: no MARK involved.
        var p = Pickle()
        p.proto(2)
        p.op(0x4e)
        for _ in 0..<100_000 { p.op(0x85) }
        p.stop()
        try expectCheckpointError(ZipWriter.archive([("archive/data.pkl", p.bytes)], method: 0)) { error, _ in
            guard case .tooDeep = error else { return XCTFail("got \(error)") }
        }
    }

    func testDictsLinkedHundredThousandDeepThroughTheMemoAreFreedWithoutRecursion() throws {
        // d0["k"] = d1, d1["k"] = d2, ...: each dict is empty when it is stored into its parent and filled later
        // through the memo, so no depth is ever seen while building; freeing the chain must still not recurse.
        var p = Pickle()
        p.proto(2)
        p.op(0x7d); p.longPut(0)
        for i in 1...100_000 {
            p.longGet(i - 1); p.shortUnicode("k"); p.op(0x7d); p.longPut(i); p.op(0x73)
        }
        p.stop()
        try expectCheckpointError(ZipWriter.archive([("archive/data.pkl", p.bytes)], method: 0)) { error, _ in
            guard case .notAStateDict = error else { return XCTFail("got \(error)") }
        }
    }

    // MARK: - Sizes and offsets near 2^63

    func testStorageOffsetNear2To63IsOutOfRangeNotATrap() throws {
        let p = Pickle.stateDict(name: "w", storage: "0", numel: 6, offset: Int.max - 1, size: [3], stride: [1])
        try expectCheckpointError(ZipWriter.archive([("m/data.pkl", p), ("m/data/0", [UInt8](repeating: 0, count: 24))], method: 0)) { error, _ in
            guard case .storageOutOfRange(_, let tensor, _) = error else { return XCTFail("got \(error)") }
            XCTAssertEqual(tensor, "w")
        }
    }

    func testStorageElementCountNear2To63IsOutOfRange() throws {
        let p = Pickle.stateDict(name: "w", storage: "0", numel: Int.max / 2, offset: 0, size: [3], stride: [1])
        try expectCheckpointError(ZipWriter.archive([("m/data.pkl", p), ("m/data/0", [UInt8](repeating: 0, count: 24))], method: 0)) { error, _ in
            guard case .storageOutOfRange(_, "w", _) = error else { return XCTFail("got \(error)") }
        }
    }

    func testZip64EndRecordOffsetNear2To63IsABadZip() throws {
        // A zip64 locator pointing 2^63 - 10 bytes into the file.
        var zip = ZipWriter.archive([("archive/data.pkl", [0x80, 0x02, 0x4e, 0x2e])], method: 0)
        let eocd = zip.count - 22
        var tail = Array(zip[eocd...])
        tail.replaceSubrange(8..<12, with: [0xff, 0xff, 0xff, 0xff])  // entry counts saturated: look for zip64
        let locator = littleEndian(UInt32(0x0706_4b50)) + littleEndian(UInt32(0)) + littleEndian(UInt64(Int.max - 10)) + littleEndian(UInt32(1))
        zip = Array(zip[..<eocd]) + locator + tail
        try expectCheckpointError(zip) { error, path in
            guard case .badZip(let file, let detail) = error else { return XCTFail("got \(error)") }
            XCTAssertEqual(file, path)
            XCTAssertTrue(detail.contains("zip64"), detail)
        }
    }

    func testZip64ExtraFieldIsReadWithinItsOwnLength() throws {
        // The central directory entry's sizes and offset are saturated, and its zip64 extra field claims 65535
        // bytes where the entry holds only its 4-byte header; the file ends a page boundary after it, so reading
        // the claimed values would run off the mapping.
        let name = Array("archive/data.pkl".utf8)
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let fixed = 30 + name.count + 46 + name.count + 4 + 22
        let data = [UInt8](repeating: 0x4e, count: page - fixed)
        var zip: [UInt8] = littleEndian(UInt32(0x0403_4b50)) + littleEndian(UInt16(20)) + littleEndian(UInt16(0)) + littleEndian(UInt16(0))
        zip += littleEndian(UInt32(0)) + littleEndian(UInt32(0)) + littleEndian(UInt32(data.count)) + littleEndian(UInt32(data.count))
        zip += littleEndian(UInt16(name.count)) + littleEndian(UInt16(0)) + name + data
        let directoryOffset = zip.count
        zip += littleEndian(UInt32(0x0201_4b50)) + littleEndian(UInt16(20)) + littleEndian(UInt16(20)) + littleEndian(UInt16(0))
        zip += littleEndian(UInt16(0)) + littleEndian(UInt32(0)) + littleEndian(UInt32(0))
        zip += littleEndian(UInt32.max) + littleEndian(UInt32.max)                                 // sizes: see zip64
        zip += littleEndian(UInt16(name.count)) + littleEndian(UInt16(4)) + littleEndian(UInt16(0))  // 4 bytes of extra
        zip += littleEndian(UInt16(0)) + littleEndian(UInt16(0)) + littleEndian(UInt32(0)) + littleEndian(UInt32.max) // offset: see zip64
        zip += name + littleEndian(UInt16(1)) + littleEndian(UInt16(0xffff))
        let directorySize = zip.count - directoryOffset
        zip += littleEndian(UInt32(0x0605_4b50)) + littleEndian(UInt16(0)) + littleEndian(UInt16(0)) + littleEndian(UInt16(1))
        zip += littleEndian(UInt16(1)) + littleEndian(UInt32(directorySize)) + littleEndian(UInt32(directoryOffset)) + littleEndian(UInt16(0))
        XCTAssertEqual(zip.count, page)
        try expectCheckpointError(zip) { error, _ in
            guard case .badZip(_, let detail) = error else { return XCTFail("got \(error)") }
            XCTAssertTrue(detail.contains("extra field"), detail)
            XCTAssertTrue(detail.contains("archive/data.pkl"), detail)
        }
    }

    func testSafetensorsShapeWhoseByteCountOverflowsIsAMismatch() throws {
        // 2^52 x 2^11 elements: the element count wraps to -2^63, and times 4 bytes would trap.
        let url = try temporaryDirectory().appendingPathComponent("model.safetensors")
        try writeSafetensors([], to: url) { header, _ in
            header["w"] = ["dtype": "F32", "shape": [4_503_599_627_370_496, 2048], "data_offsets": [0, 0]]
        }
        XCTAssertThrowsError(try SafetensorsFile(path: url.path)) { error in
            guard case ModelLoadError.byteCountMismatch(let file, "w", _, 0) = error else { return XCTFail("got \(error)") }
            XCTAssertEqual(file, url.path)
        }
    }

    // MARK: - Empty files and files that are not files

    func testEmptyBinIsCalledAnEmptyFileNotATruncatedSafetensors() throws {
        let directory = try temporaryModelDirectory()
        let bin = directory.appendingPathComponent("pytorch_model.bin")
        try Data().write(to: bin)
        XCTAssertThrowsError(try RobertaModel.load(directory: directory)) { error in
            XCTAssertEqual(error as? ModelLoadError, .emptyFile(bin.path))
            let message = "\(error)"
            XCTAssertTrue(message.hasPrefix(bin.path), message)
            XCTAssertTrue(message.contains("empty"), message)
            XCTAssertFalse(message.contains("safetensors"), message)
        }
    }

    func testEmptySafetensorsIsCalledEmpty() throws {
        let directory = try temporaryModelDirectory()
        let weights = directory.appendingPathComponent("model.safetensors")
        try Data().write(to: weights)
        XCTAssertThrowsError(try RobertaModel.load(directory: directory)) { error in
            XCTAssertEqual(error as? ModelLoadError, .emptyFile(weights.path))
        }
    }

    /// Makes `name` in `directory` a FIFO, and returns what unblocks a reader stuck opening it.
    func makeFIFO(_ url: URL) throws -> () -> Void {
        try? FileManager.default.removeItem(at: url)
        guard mkfifo(url.path, 0o644) == 0 else { throw XCTSkip("mkfifo failed: \(String(cString: strerror(errno)))") }
        return {
            let fd = open(url.path, O_WRONLY | O_NONBLOCK)
            if fd >= 0 { close(fd) }
        }
    }

    func checkFIFOIsRefused(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let directory = try temporaryModelDirectory()
        if name != "model.safetensors" {
            try FileManager.default.copyItem(at: Fixtures.model("tiny").appendingPathComponent("model.safetensors"),
                                             to: directory.appendingPathComponent("model.safetensors"))
        }
        let fifo = directory.appendingPathComponent(name)
        let release = try makeFIFO(fifo)
        let result = finishesPromptly(release: release, { try RobertaModel.load(directory: directory) }, file: file, line: line)
        guard case .failure(let error)? = result else {
            if result != nil { XCTFail("loaded a model whose \(name) is a FIFO", file: file, line: line) }
            return
        }
        XCTAssertEqual(error as? ModelLoadError, .notARegularFile(fifo.path, kind: "a named pipe (FIFO)"), file: file, line: line)
        XCTAssertTrue("\(error)".contains("FIFO"), "\(error)", file: file, line: line)
    }

    func testWeightsFileThatIsAFIFOIsRefusedWithoutBlocking() throws { try checkFIFOIsRefused("model.safetensors") }

    func testBinThatIsAFIFOIsRefusedWithoutBlocking() throws {
        let directory = try temporaryModelDirectory()
        let fifo = directory.appendingPathComponent("pytorch_model.bin")
        let release = try makeFIFO(fifo)
        let result = finishesPromptly(release: release, { try RobertaModel.load(directory: directory) })
        guard case .failure(let error)? = result else { return }
        XCTAssertEqual(error as? ModelLoadError, .notARegularFile(fifo.path, kind: "a named pipe (FIFO)"))
    }

    func testConfigThatIsAFIFOIsRefusedWithoutBlocking() throws { try checkFIFOIsRefused("config.json") }

    func testVocabularyThatIsAFIFOIsRefusedWithoutBlocking() throws { try checkFIFOIsRefused("vocab.json") }

    func testShardIndexThatIsAFIFOIsRefusedWithoutBlocking() throws {
        let directory = try temporaryModelDirectory()
        let fifo = directory.appendingPathComponent("model.safetensors.index.json")
        let release = try makeFIFO(fifo)
        let result = finishesPromptly(release: release, { try RobertaModel.load(directory: directory) })
        guard case .failure(let error)? = result else { return }
        XCTAssertEqual(error as? ModelLoadError, .notARegularFile(fifo.path, kind: "a named pipe (FIFO)"))
    }

    func testDirectoryWhereTheWeightsFileShouldBeIsNamed() throws {
        let directory = try temporaryModelDirectory()
        let weights = directory.appendingPathComponent("model.safetensors")
        try FileManager.default.createDirectory(at: weights, withIntermediateDirectories: false)
        XCTAssertThrowsError(try RobertaModel.load(directory: directory)) { error in
            XCTAssertEqual(error as? ModelLoadError, .notARegularFile(weights.path, kind: "a directory"))
        }
    }
}

/// A weights file truncated or rewritten in place after loading: the next run says so instead of dying of SIGBUS
/// (a mapped page past the new end of the file) or computing with other bytes.
final class ChangedWeightsFileTests: XCTestCase {
    func loadedCopy() throws -> (RobertaModel, URL) {
        let directory = try temporaryModelDirectory()
        let weights = directory.appendingPathComponent("model.safetensors")
        try FileManager.default.copyItem(at: Fixtures.model("tiny").appendingPathComponent("model.safetensors"), to: weights)
        let model = try RobertaModel.load(directory: directory)
        _ = try model.fillMask("Paris is the <mask> of France.")
        return (model, weights)
    }

    func testTruncatedAfterLoadingIsAnErrorNotSIGBUS() throws {
        let (model, weights) = try loadedCopy()
        XCTAssertEqual(truncate(weights.path, 100), 0)
        XCTAssertThrowsError(try model.fillMask("Paris is the <mask> of France.")) { error in
            guard case ModelLoadError.fileChanged(let path, let detail) = error else { return XCTFail("got \(error)") }
            XCTAssertEqual(path, weights.path)
            XCTAssertTrue(detail.contains("100 bytes"), detail)
        }
        XCTAssertThrowsError(try model.encode(ids: [0, 5, 2]))
    }

    func testRewrittenInPlaceAfterLoadingIsAnError() throws {
        let (model, weights) = try loadedCopy()
        usleep(20_000)  // a later modification time even on coarse clocks
        let handle = try FileHandle(forWritingTo: weights)
        try handle.write(contentsOf: Data(try Data(contentsOf: Fixtures.model("tiny").appendingPathComponent("model.safetensors")).prefix(16)))
        try handle.close()
        XCTAssertThrowsError(try model.fillMask("Paris is the <mask> of France.")) { error in
            guard case ModelLoadError.fileChanged(let path, _) = error else { return XCTFail("got \(error)") }
            XCTAssertEqual(path, weights.path)
        }
    }

    func testTruncatedDuringAPassIsAnErrorNotSIGBUS() throws {
        // The file shrinks after the check before the pass, while the pass reads the map: every page past the new
        // end is a SIGBUS, which the map guard turns into zeros; the pass ends and its answer is refused.
        let (model, weights) = try loadedCopy()
        XCTAssertThrowsError(try model.guardedPass { () throws -> EncoderOutput in
            XCTAssertEqual(truncate(weights.path, 100), 0)
            return try model.weights.encode(ids: [0, 5, 2], capture: .none, compute: model.compute)
        }) { error in
            guard case ModelLoadError.fileChanged(let path, let detail) = error else { return XCTFail("got \(error)") }
            XCTAssertEqual(path, weights.path)
            XCTAssertTrue(detail.contains("while a forward pass was reading it"), detail)
            XCTAssertTrue(detail.contains("100 bytes now"), detail)
        }
        // And every later run says so too.
        XCTAssertThrowsError(try model.fillMask("Paris is the <mask> of France.")) { error in
            guard case ModelLoadError.fileChanged = error else { return XCTFail("got \(error)") }
        }
    }

    func testReplacedByRenameKeepsAnsweringFromTheOldFile() throws {
        // pull and huggingface_hub write a new file and rename it over the old: the map keeps the old inode.
        let (model, weights) = try loadedCopy()
        let before = try model.fillMask("Paris is the <mask> of France.").masks
        let fresh = weights.deletingLastPathComponent().appendingPathComponent("fresh.safetensors")
        try Data("not a model".utf8).write(to: fresh)
        XCTAssertEqual(rename(fresh.path, weights.path), 0)
        XCTAssertEqual(try model.fillMask("Paris is the <mask> of France.").masks, before)
    }
}

/// The map guard on its own: a read past the end of a file that shrank after it was mapped.
final class MapGuardTests: XCTestCase {
    func testReadPastANewEndReadsZerosAndIsRecorded() throws {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let url = try temporaryDirectory().appendingPathComponent("pages.bin")
        try Data(repeating: 7, count: 3 * page).write(to: url)
        let mapped = try MappedFile(path: url.path)
        XCTAssertEqual(mapped.base.load(fromByteOffset: 2 * page + 5, as: UInt8.self), 7)
        XCTAssertFalse(mapped.faulted)
        XCTAssertEqual(truncate(url.path, page), 0)
        // Without the guard this read ends the process with SIGBUS.
        XCTAssertEqual(mapped.base.load(fromByteOffset: 2 * page + 5, as: UInt8.self), 0)
        XCTAssertTrue(mapped.faulted)
        XCTAssertEqual(mapped.base.load(fromByteOffset: 10, as: UInt8.self), 7, "pages inside the file are untouched")
        XCTAssertThrowsError(try mapped.checkNotFaulted()) { error in
            guard case ModelLoadError.fileChanged(let path, _) = error else { return XCTFail("got \(error)") }
            XCTAssertEqual(path, url.path)
        }
    }

    func testASIGBUSOutsideEveryMapStillEndsTheProcess() throws {
        // The guard must not swallow other faults: a child process that touches a truncated map nobody
        // registered dies of SIGBUS. (fork is enough: the child only maps, truncates, reads and exits.)
        let url = try temporaryDirectory().appendingPathComponent("unguarded.bin")
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        try Data(repeating: 1, count: 2 * page).write(to: url)
        let registered = try MappedFile(path: url.path)  // installs the guard's handler in this process
        _ = registered
        let fd = open(url.path, O_RDONLY)
        XCTAssertGreaterThanOrEqual(fd, 0)
        let raw = mmap(nil, 2 * page, PROT_READ, MAP_PRIVATE, fd, 0)
        XCTAssertNotEqual(raw, MAP_FAILED)
        let child = fork()
        if child == 0 {
            // The action before the guard's is the default one here (not the Swift runtime's backtracer, which
            // would print a report first): the guard must pass the fault on to it.
            _ = signal(SIGBUS, SIG_DFL)
            _ = ms_mapguard_install()
            _ = ftruncate(open(url.path, O_WRONLY), 0)
            let value = raw!.load(fromByteOffset: page + 1, as: UInt8.self)
            _exit(Int32(value) + 10)
        }
        var status: Int32 = 0
        XCTAssertEqual(waitpid(child, &status, 0), child)
        let signalled = (status & 0x7f) != 0 && (status & 0x7f) != 0x7f
        XCTAssertTrue(signalled, "status \(status)")
        XCTAssertEqual(status & 0x7f, SIGBUS)
        munmap(raw, 2 * page)
        close(fd)
    }
}
