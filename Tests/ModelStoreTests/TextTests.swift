import Foundation
import XCTest
@testable import ModelStore

/// SHA-256 and the progress text.
final class TextTests: XCTestCase {
    /// FIPS 180 test vectors: "", "abc" and the two-block message.
    func testKnownVectors() throws {
        let messages = ["", "abc", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"]
        let sha256 = ["e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"]
        let sha1 = ["da39a3ee5e6b4b0d3255bfef95601890afd80709", "a9993e364706816aba3e25717850c26c9cd0d89d",
                    "84983e441c3bd26ebaae4aa1f95129e5e54670f1"]
        for (i, message) in messages.enumerated() {
            var a = SHA256(), b = SHA1()
            a.update(Data(message.utf8))
            b.update(Data(message.utf8))
            XCTAssertEqual(a.hexDigest(), sha256[i])
            XCTAssertEqual(b.hexDigest(), sha1[i])
        }
        // `git hash-object` of a file holding "hello world\n"
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("maskscope-blob-\(UUID().uuidString)")
        try Data("hello world\n".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        XCTAssertEqual(try SHA1.gitBlobID(ofFile: file), "3b18e512dba79e4c8300dd08aeb37f8e728b8dad")
    }

    func testSHA256IsTheSameWhateverTheChunking() {
        let bytes = Data((0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        var whole = SHA256()
        whole.update(bytes)
        var pieces = SHA256()
        var i = 0
        for size in [1, 63, 64, 65, 127, 1000, 3] + Array(repeating: 997, count: 20) where i < bytes.count {
            let end = min(bytes.count, i + size)
            pieces.update(bytes.subdata(in: i..<end))
            i = end
        }
        if i < bytes.count { pieces.update(bytes.subdata(in: i..<bytes.count)) }
        XCTAssertEqual(whole.hexDigest(), pieces.hexDigest())
        // 1,000,000 x "a": the FIPS long-message vector.
        var million = SHA256()
        million.update(Data(repeating: 0x61, count: 1_000_000))
        XCTAssertEqual(million.hexDigest(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    func testProgressBarShowsSizeRateAndTimeLeft() {
        let line = ProgressText.bar(file: "model.safetensors", done: 249_409_027, total: 498_818_054, bytesPerSecond: 12_500_000, width: 100)
        XCTAssertEqual(line, "model.safetensors  [###############---------------]   50%  249 MB / 499 MB  12.5 MB/s  0:20 left")
        XCTAssertEqual(ProgressText.bar(file: "x", done: 1500, total: nil, bytesPerSecond: 0), "x  1.50 KB")
        XCTAssertLessThanOrEqual(ProgressText.bar(file: "model.safetensors", done: 1, total: 2, bytesPerSecond: 5, width: 40).count, 40)
    }

    func testFinishedLinesAndSizes() {
        XCTAssertEqual(ProgressText.finished(file: "config.json", bytes: 481, seconds: 0, outcome: .alreadyPresent), "config.json  481 B  already present")
        XCTAssertEqual(ProgressText.finished(file: "m", bytes: 2_000_000, seconds: 2, outcome: .resumed), "m  2.00 MB  resumed, in 2.0 s (1.00 MB/s)")
        XCTAssertEqual(formatBytes(1_421_700_479), "1.42 GB")
        XCTAssertEqual(ProgressText.duration(3725), "1:02:05")
    }
}
