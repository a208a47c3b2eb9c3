import Foundation
import XCTest
@testable import RoBERTa

/// `--precision bf16|f16`: float32 matrices rounded once at load (Rounding.swift, RobertaWeights.matrix).
final class PrecisionTests: XCTestCase {
    /// (float32 bits, float16 bits from numpy's astype(float16), bfloat16 bits from torch's .to(torch.bfloat16)),
    /// printed by /root/msvenv/bin/python (numpy 1.26 / torch 2.x): ties, the largest float16, its overflow to
    /// infinity, subnormals and what rounds to zero, signed zero, infinities, bfloat16's own overflow.
    static let known: [(UInt32, UInt16, UInt16)] = [
        (0x3f80_0000, 0x3c00, 0x3f80),  // 1.0
        (0x3f80_8000, 0x3c04, 0x3f80),  // 1 + 2^-8: bfloat16 tie, to even (down)
        (0x3f80_c000, 0x3c06, 0x3f81),  // 1 + 3 * 2^-9: bfloat16 tie, to even (up)
        (0x3f80_4000, 0x3c02, 0x3f80),  // 1 + 2^-9
        (0x3f80_1000, 0x3c00, 0x3f80),  // 1 + 2^-11: float16 tie, to even (down)
        (0x3f80_3000, 0x3c02, 0x3f80),  // 1 + 3 * 2^-11: float16 tie, to even (up)
        (0x477f_e000, 0x7bff, 0x4780),  // 65504, the largest float16
        (0x477f_effd, 0x7bff, 0x4780),  // 65519.99
        (0x477f_f000, 0x7c00, 0x4780),  // 65520: float16 tie to even = infinity
        (0x47c3_5000, 0x7c00, 0x47c3),  // 1e5: beyond float16
        (0x3880_0000, 0x0400, 0x3880),  // 2^-14, the smallest normal float16
        (0x3880_1000, 0x0400, 0x3880),  // 2^-14 (1 + 2^-11)
        (0x3380_0000, 0x0001, 0x3380),  // 2^-24, the smallest subnormal float16
        (0x3300_0000, 0x0000, 0x3300),  // 2^-25: tie between 0 and 2^-24, to even (0)
        (0x3300_0001, 0x0001, 0x3300),  // just above 2^-25
        (0x3340_0000, 0x0001, 0x3340),  // 1.5 * 2^-25
        (0x337f_fae5, 0x0001, 0x3380),  // 5.96e-8
        (0x2edb_e6ff, 0x0000, 0x2edc),  // 1e-10: float16 zero
        (0x8000_0000, 0x8000, 0x8000),  // -0.0
        (0x7f80_0000, 0x7c00, 0x7f80),  // infinity
        (0xff80_0000, 0xfc00, 0xff80),  // -infinity
        (0x7f61_b1e6, 0x7c00, 0x7f62),  // 3e38
        (0x7f7f_7e82, 0x7c00, 0x7f7f),  // 3.3961e38
        (0x7f7f_ffff, 0x7c00, 0x7f80),  // the largest float32: bfloat16 rounds it to infinity
        (0x3dcc_cccd, 0x2e66, 0x3dcd),  // 0.1
        (0xc02d_f854, 0xc170, 0xc02e),  // -2.7182817
        (0x3eaa_aaab, 0x3555, 0x3eab),  // 1/3
    ]
    static let nans: [UInt32] = [0x7fc0_0000, 0xffc0_0000, 0x7f80_0001, 0x7fa0_0000, 0xff81_2345, 0x7fff_ffff]

    /// Rounds `bits` with the kernels' path (`roundFloats`), from `offset` bytes into a buffer (any alignment).
    func kernelRound(_ bits: [UInt32], to format: SixteenBit, offset: Int = 0, threads: Int = 1) -> (out: [UInt16], overflow: Int) {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bits.count * 4 + offset, alignment: 64)
        defer { raw.deallocate() }
        for (i, b) in bits.enumerated() { raw.storeBytes(of: b.littleEndian, toByteOffset: offset + 4 * i, as: UInt32.self) }
        var out = [UInt16](repeating: 0xdead, count: bits.count)
        let overflow = out.withUnsafeMutableBufferPointer {
            roundFloats(UnsafeRawPointer(raw + offset), count: bits.count, to: format, into: $0.baseAddress!, threads: threads)
        }
        return (out, overflow)
    }

    func softwareRound(_ bits: [UInt32], to format: SixteenBit) -> (out: [UInt16], overflow: Int) {
        var out = [UInt16](repeating: 0, count: bits.count)
        let overflow = bits.withUnsafeBytes { source in
            out.withUnsafeMutableBufferPointer { roundFloatsInSoftware(source.baseAddress!, count: bits.count, to: format, into: $0.baseAddress!) }
        }
        return (out, overflow)
    }

    func testBFloat16RoundingMatchesTorchOnKnownValues() {
        for (bits, _, expected) in Self.known {
            XCTAssertEqual(floatToBFloat16(Float(bitPattern: bits)), expected, String(bits, radix: 16))
        }
        let (out, overflow) = kernelRound(Self.known.map(\.0), to: .bf16)
        XCTAssertEqual(out, Self.known.map(\.2), "the AVX2 rounding (16 at a time, then the tail)")
        XCTAssertEqual(overflow, 1, "only the largest float32 is finite and becomes infinite")
    }

    func testFloat16RoundingMatchesNumpyOnKnownValues() {
        for (bits, expected, _) in Self.known {
            XCTAssertEqual(floatToHalf(Float(bitPattern: bits)), expected, String(bits, radix: 16))
        }
        let (out, overflow) = kernelRound(Self.known.map(\.0), to: .f16)
        XCTAssertEqual(out, Self.known.map(\.1), "F16C's vcvtps2ph (8 at a time, then the tail)")
        XCTAssertEqual(overflow, 5, "65520, 1e5, 3e38, 3.3961e38 and the largest float32 become infinite")
        // Float16 (the Swift runtime's conversion) agrees too.
        #if arch(x86_64) || arch(arm64)
        for (bits, expected, _) in Self.known { XCTAssertEqual(Float16(Float(bitPattern: bits)).bitPattern, expected) }
        #endif
    }

    func testNaNStaysQuietNaNWithItsSignInBothFormats() {
        for bits in Self.nans {
            let bf = floatToBFloat16(Float(bitPattern: bits)), half = floatToHalf(Float(bitPattern: bits))
            XCTAssertTrue(Float(bitPattern: UInt32(bf) << 16).isNaN, String(bits, radix: 16))
            XCTAssertTrue(halfToFloat(half).isNaN, String(bits, radix: 16))
            XCTAssertEqual(bf & 0x0040, 0x0040, "quiet")
            XCTAssertEqual(half & 0x0200, 0x0200, "quiet")
            XCTAssertEqual(bf >> 15, UInt16(bits >> 31), "sign kept")
            XCTAssertEqual(half >> 15, UInt16(bits >> 31), "sign kept")
        }
        for format in [SixteenBit.bf16, .f16] {
            let (kernel, overflow) = kernelRound(Self.nans + Self.nans + Self.nans, to: format)
            XCTAssertEqual(kernel, softwareRound(Self.nans + Self.nans + Self.nans, to: format).out, "\(format)")
            XCTAssertEqual(overflow, 0, "a NaN is not an overflow")
        }
    }

    /// The kernels against the software reference on two million random bit patterns (every exponent, NaNs,
    /// infinities, subnormals), read from a misaligned address, on one thread and split over two.
    func testKernelsAgreeWithSoftwareOnRandomBitPatterns() {
        var generator = SystemRandomNumberGenerator()
        var bits = (0..<(2 * 1_048_576 + 4_099)).map { _ in UInt32.random(in: .min ... .max, using: &generator) }
        // plenty of values near the float16 range and its edges too
        for i in stride(from: 0, to: bits.count, by: 3) { bits[i] = (bits[i] & 0x8000_ffff) | UInt32.random(in: 0x3000_0000...0x4800_0000) & 0x7fff_0000 }
        for format in [SixteenBit.bf16, .f16] {
            let reference = softwareRound(bits, to: format)
            for (offset, threads) in [(0, 1), (1, 1), (2, 2), (3, 2)] {
                let kernel = kernelRound(bits, to: format, offset: offset, threads: threads)
                let firstDifference = kernel.out.indices.first { kernel.out[$0] != reference.out[$0] }
                XCTAssertNil(firstDifference.map { "\(format) offset \(offset): \(String(bits[$0], radix: 16)) -> \(String(kernel.out[$0], radix: 16)), software \(String(reference.out[$0], radix: 16))" })
                XCTAssertEqual(kernel.overflow, reference.overflow, "\(format) offset \(offset) threads \(threads)")
            }
            XCTAssertGreaterThan(reference.overflow, 0)
        }
    }

    // MARK: whole models

    static func matrixNames(_ name: String) -> Bool {
        name.hasSuffix(".weight") && !name.contains("LayerNorm") && !name.contains("layer_norm")
            && !name.contains("position_embeddings") && !name.contains("token_type_embeddings")
    }

    func entries(_ model: String) throws -> [String: SafetensorsEntry] {
        let file = try SafetensorsFile(path: Fixtures.model(model).appendingPathComponent("model.safetensors").path)
        return file.tensors.mapValues { SafetensorsEntry(name: $0.name, dtype: $0.dtypeName, shape: $0.shape, data: [UInt8]($0.bytes)) }
    }

    /// The 16-bit fixtures are torch's roundings of tiny's float32 tensors (make_fixtures.py: `.half()`,
    /// `.to(torch.bfloat16)`): our rounding of every tensor of tiny gives their bytes exactly.
    func testSixteenBitFixturesAreOurRoundingsOfTinysTensors() throws {
        let tiny = try entries("tiny")
        for (fixture, format, dtype) in [("tiny-bf16", SixteenBit.bf16, "BF16"), ("tiny-f16", .f16, "F16")] {
            let stored = try entries(fixture)
            XCTAssertEqual(Set(stored.keys), Set(tiny.keys))
            for (name, entry) in tiny {
                let bits = entry.data.withUnsafeBytes { raw in (0..<(raw.count / 4)).map { raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self) } }
                let theirs = try XCTUnwrap(stored[name])
                XCTAssertEqual(theirs.dtype, dtype)
                let ours = kernelRound(bits, to: format).out.flatMap { littleEndian($0) }
                XCTAssertEqual(ours, theirs.data, "\(fixture): \(name)")
            }
        }
    }

    /// tiny's checkpoint with the matrices replaced by the 16-bit fixture's (torch's rounding), biases and
    /// LayerNorm kept float32: exactly what `tiny --precision bf16|f16` should compute.
    func mixedCheckpoint(_ fixture: String, headerPadding: Int = 0) throws -> URL {
        let directory = try temporaryModelDirectory()
        let stored = try entries(fixture)
        var mixed = try tinySafetensorsEntries()
        for i in mixed.indices where Self.matrixNames(mixed[i].name) {
            mixed[i] = try XCTUnwrap(stored[mixed[i].name])
        }
        XCTAssertEqual(mixed.filter { $0.dtype != "F32" }.count, 14, "word embeddings + 2 layers x 6 + LM dense")
        try writeSafetensors(mixed, to: directory.appendingPathComponent("model.safetensors"), headerPadding: headerPadding)
        return directory
    }

    func assertSameAnswers(_ a: RobertaModel, _ b: RobertaModel, _ message: String, file: StaticString = #filePath, line: UInt = #line) throws {
        for text in ["Paris is the <mask> of France.", "<mask> is a <mask> day in <mask>!",
                     "The quick brown fox, who had been running all day, stopped by the <mask> river to drink."] {
            let options = FillMaskOptions(topK: 10, capture: CaptureOptions(attention: true))
            let x = try a.fillMask(text, options: options), y = try b.fillMask(text, options: options)
            XCTAssertEqual(x.masks.map { $0.candidates.map(\.token) }, y.masks.map { $0.candidates.map(\.token) }, message, file: file, line: line)
            XCTAssertEqual(x.masks.map { $0.candidates.map(\.score) }, y.masks.map { $0.candidates.map(\.score) }, message, file: file, line: line)
            XCTAssertEqual(x.attention, y.attention, message, file: file, line: line)
        }
    }

    /// The strong, independent check: tiny rounded at load answers bit for bit as the checkpoint whose matrices
    /// torch rounded (kept 16-bit in the map), for both formats, also from a misaligned float32 file.
    func testRoundedAtLoadAnswersAsTheCheckpointTorchRounded() throws {
        try XCTSkipUnless(Compute.kernelsAvailable, "16-bit precision needs the AVX2 kernels")
        for (fixture, precision, dtype) in [("tiny-bf16", RobertaModel.Precision.bf16, "BF16"), ("tiny-f16", .f16, "F16")] {
            let reference = try RobertaModel.load(directory: mixedCheckpoint(fixture))
            XCTAssertEqual(reference.weightsSummary.matrixDType, dtype)
            XCTAssertEqual(reference.weightsSummary.roundedFrom, [])
            let rounded = try RobertaModel.load(directory: Fixtures.model("tiny"), precision: precision)
            XCTAssertEqual(rounded.weightsSummary.matrixDType, dtype)
            XCTAssertEqual(rounded.weightsSummary.roundedFrom, ["F32"])
            try assertSameAnswers(rounded, reference, "tiny --precision \(precision.rawValue) vs \(fixture)'s matrices")
            // A file whose float32 tensors are not 4-byte aligned rounds the same.
            let misaligned = try temporaryModelDirectory()
            try writeSafetensors(try tinySafetensorsEntries(), to: misaligned.appendingPathComponent("model.safetensors"), headerPadding: 2)
            try assertSameAnswers(try RobertaModel.load(directory: misaligned, precision: precision), reference, "misaligned \(precision.rawValue)")
            // and it differs from float32 (the rounding did happen)
            let float32 = try RobertaModel.load(directory: Fixtures.model("tiny"))
            let text = "Paris is the <mask> of France."
            XCTAssertNotEqual(try float32.fillMask(text).masks[0].candidates.map(\.score), try rounded.fillMask(text).masks[0].candidates.map(\.score))
        }
    }

    func testSummarySaysWhatWasRoundedFromWhat() throws {
        try XCTSkipUnless(Compute.kernelsAvailable, "16-bit precision needs the AVX2 kernels")
        let cases: [(String, RobertaModel.Precision, String, [String])] = [
            ("tiny", .auto, "F32", []), ("tiny", .float32, "F32", []), ("tiny", .bf16, "BF16", ["F32"]), ("tiny", .f16, "F16", ["F32"]),
            ("tiny-bf16", .auto, "BF16", []), ("tiny-bf16", .bf16, "BF16", []), ("tiny-bf16", .f16, "F16", ["BF16"]),
            ("tiny-f16", .f16, "F16", []), ("tiny-f16", .bf16, "BF16", ["F16"]), ("tiny-f16", .float32, "F32", []),
            ("tiny-bin", .bf16, "BF16", ["F32"]), ("tiny-untied", .f16, "F16", ["F32"]), ("tiny-sharded", .bf16, "BF16", ["F32"]),
        ]
        for (name, precision, dtype, from) in cases {
            let model = try RobertaModel.load(directory: Fixtures.model(name), precision: precision)
            XCTAssertEqual(model.weightsSummary.matrixDType, dtype, "\(name) \(precision)")
            XCTAssertEqual(model.weightsSummary.roundedFrom, from, "\(name) \(precision)")
            XCTAssertNoThrow(try model.fillMask("Paris is the <mask> of France."))
        }
    }

    /// A 16-bit checkpoint asked for the other 16-bit format is converted; bfloat16 -> float16 is exact for
    /// values in float16's normal range, so the answers stay within float16's precision of the checkpoint's.
    func testOtherSixteenBitFormatIsConvertedCloseToTheStoredOne() throws {
        try XCTSkipUnless(Compute.kernelsAvailable, "16-bit precision needs the AVX2 kernels")
        let stored = try RobertaModel.load(directory: Fixtures.model("tiny-bf16"))
        let converted = try RobertaModel.load(directory: Fixtures.model("tiny-bf16"), precision: .f16)
        let a = try stored.fillMask("Paris is the <mask> of France.", options: FillMaskOptions(topK: 20))
        let b = try converted.fillMask("Paris is the <mask> of France.", options: FillMaskOptions(topK: 20))
        let scores = Dictionary(uniqueKeysWithValues: b.masks[0].candidates.map { ($0.token, $0.score) })
        for c in a.masks[0].candidates.prefix(10) {
            XCTAssertEqual(Double(c.score), Double(scores[c.token] ?? -1), accuracy: 1e-3)
        }
    }

    func testWithoutTheKernelsSixteenBitPrecisionIsRefused() throws {
        for precision in [RobertaModel.Precision.bf16, .f16] {
            XCTAssertThrowsError(try RobertaModel.load(directory: Fixtures.model("tiny"), kernels: .openblas, precision: precision)) { error in
                guard case .precisionNeedsKernels(let name, _) = error as? ModelLoadError else { return XCTFail("\(error)") }
                XCTAssertEqual(name, precision.rawValue)
                XCTAssertTrue("\(error)".contains("--precision \(precision.rawValue) needs MaskScope's AVX2 kernels"), "\(error)")
            }
        }
        // auto and f32 still load with OpenBLAS
        XCTAssertEqual(try RobertaModel.load(directory: Fixtures.model("tiny-bf16"), kernels: .openblas).weightsSummary.matrixDType, "F32")
    }

    func testAWeightBeyondFloat16IsRefusedForF16ButNotBF16() throws {
        try XCTSkipUnless(Compute.kernelsAvailable, "16-bit precision needs the AVX2 kernels")
        let directory = try temporaryModelDirectory()
        var tensors = try tinySafetensorsEntries()
        let i = try XCTUnwrap(tensors.firstIndex { $0.name == "roberta.encoder.layer.1.intermediate.dense.weight" })
        tensors[i].data.replaceSubrange(40..<48, with: littleEndian(Float(1e5).bitPattern) + littleEndian(Float(-70000).bitPattern))
        try writeSafetensors(tensors, to: directory.appendingPathComponent("model.safetensors"))
        XCTAssertThrowsError(try RobertaModel.load(directory: directory, precision: .f16)) { error in
            guard case .precisionOverflow(_, let tensor, let precision, let count) = error as? ModelLoadError else { return XCTFail("\(error)") }
            XCTAssertEqual(tensor, "roberta.encoder.layer.1.intermediate.dense.weight")
            XCTAssertEqual(precision, "f16")
            XCTAssertEqual(count, 2)
            XCTAssertTrue("\(error)".contains("use --precision bf16"), "\(error)")
        }
        XCTAssertNoThrow(try RobertaModel.load(directory: directory, precision: .bf16))
        XCTAssertNoThrow(try RobertaModel.load(directory: directory))
    }

    /// The float32 pages of the rounded matrices are given back: after a forward pass the map of a copy of tiny
    /// holds far fewer resident pages with --precision bf16 than with float32 (where the LM head read the whole
    /// word-embedding matrix from it).
    func testRoundedMatricesPagesLeaveTheResidentSet() throws {
        try XCTSkipUnless(Compute.kernelsAvailable, "16-bit precision needs the AVX2 kernels")
        func residentKB(of path: String) throws -> Int {
            // read to the end: /proc files have no size for Foundation's String(contentsOfFile:)
            let handle = try XCTUnwrap(FileHandle(forReadingAtPath: "/proc/self/smaps"))
            defer { try? handle.close() }
            let smaps = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
            var inside = false, total = 0
            for line in smaps.split(separator: "\n") {
                if line.first.map({ $0.isHexDigit }) == true, line.contains("-") {
                    inside = line.hasSuffix(path)
                } else if inside, line.hasPrefix("Rss:") {
                    total += Int(line.split(separator: " ")[1]) ?? 0
                }
            }
            return total
        }
        var resident: [RobertaModel.Precision: Int] = [:]
        for precision in [RobertaModel.Precision.auto, .bf16] {
            let directory = try temporaryModelDirectory()
            let file = directory.appendingPathComponent("model.safetensors")
            try FileManager.default.copyItem(at: Fixtures.model("tiny").appendingPathComponent("model.safetensors"), to: file)
            let model = try RobertaModel.load(directory: directory, precision: precision)
            _ = try model.fillMask("Paris is the <mask> of France.")
            resident[precision] = try withExtendedLifetime(model) { try residentKB(of: file.resolvingSymlinksInPath().path) }
        }
        let f32 = try XCTUnwrap(resident[.auto]), bf16 = try XCTUnwrap(resident[.bf16])
        XCTAssertGreaterThan(f32, 120, "the word embeddings (125 KB) were read from the map")
        XCTAssertLessThan(bf16 + 100, f32, "float32 \(f32) KB, bf16 \(bf16) KB resident")
    }
}
