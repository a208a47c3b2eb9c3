import Foundation
import XCTest
@testable import RoBERTa

/// Small hostile files are made by the tests themselves, in a temporary directory removed after each test.
extension XCTestCase {
    /// A fresh empty directory, removed when the test ends.
    func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("maskscope-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    /// A model directory holding the tiny fixture's config.json, vocab.json and merges.txt, and no weights.
    func temporaryModelDirectory() throws -> URL {
        let directory = try temporaryDirectory()
        for name in ["config.json", "vocab.json", "merges.txt"] {
            try FileManager.default.copyItem(at: Fixtures.model("tiny").appendingPathComponent(name),
                                             to: directory.appendingPathComponent(name))
        }
        return directory
    }

    /// Runs `body` on another thread and fails if it has not returned after `seconds`: a call that would block
    /// forever (opening a FIFO) fails the test instead of hanging it. `release` is called on timeout to unblock it.
    func finishesPromptly<T>(within seconds: Double = 10, release: @escaping () -> Void = {}, _ body: @escaping @Sendable () throws -> T,
                             file: StaticString = #filePath, line: UInt = #line) -> Result<T, Error>? {
        let done = DispatchSemaphore(value: 0)
        let box = ResultBox<T>()
        Thread.detachNewThread {
            box.set(Result { try body() })
            done.signal()
        }
        if done.wait(timeout: .now() + seconds) == .timedOut {
            XCTFail("still blocked after \(seconds) s", file: file, line: line)
            release()
            _ = done.wait(timeout: .now() + 5)
            return nil
        }
        return box.get()
    }
}

/// Hands a result from one thread to another.
final class ResultBox<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Result<T, Error>?
    func set(_ v: Result<T, Error>) { lock.lock(); value = v; lock.unlock() }
    func get() -> Result<T, Error>? { lock.lock(); defer { lock.unlock() }; return value }
}

/// The tensors of the tiny fixture, as entries a test can edit and write back with `writeSafetensors`.
func tinySafetensorsEntries() throws -> [SafetensorsEntry] {
    let file = try SafetensorsFile(path: Fixtures.model("tiny").appendingPathComponent("model.safetensors").path)
    return file.tensors.values.sorted { $0.begin < $1.begin }.map {
        SafetensorsEntry(name: $0.name, dtype: $0.dtypeName, shape: $0.shape, data: [UInt8]($0.bytes))
    }
}

/// Little-endian bytes of an integer, for hand-made headers.
func littleEndian<I: FixedWidthInteger>(_ value: I) -> [UInt8] {
    withUnsafeBytes(of: value.littleEndian) { Array($0) }
}
