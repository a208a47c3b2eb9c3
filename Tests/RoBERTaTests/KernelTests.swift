import Foundation
import XCTest
import CKernels
import TestSupport
@testable import RoBERTa

/// Deterministic pseudo-random floats in [-1, 1).
func kernelTestValues(_ count: Int, seed: UInt64) -> [Float] {
    var state = seed
    return (0..<count).map { _ in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(Int64(bitPattern: state >> 11) % 2_000_000) / 1_000_000 - 1
    }
}

/// y = x W^T + b in float64: the reference the float32 kernels are held to.
func float64Linear(x: [Float], rows n: Int, inFeatures k: Int, w: [Float], outFeatures out: Int, bias b: [Float]) -> [Double] {
    var reference = [Double](repeating: 0, count: n * out)
    for r in 0..<n {
        for o in 0..<out {
            var sum = Double(b[o])
            for i in 0..<k { sum += Double(x[r * k + i]) * Double(w[o * k + i]) }
            reference[r * out + o] = sum
        }
    }
    return reference
}

/// The AVX2/FMA few-row kernels agree with a plain float64 reference and with the OpenBLAS path.
final class KernelTests: XCTestCase {
    func values(_ count: Int, seed: UInt64) -> [Float] { kernelTestValues(count, seed: seed) }

    func checkLinear(rows n: Int, inFeatures k: Int, outFeatures out: Int, compute: Compute) {
        let x = values(n * k, seed: 1), w = values(out * k, seed: 2), b = values(out, seed: 3)
        var y = [Float](repeating: .nan, count: n * out)
        w.withUnsafeBufferPointer { wb in
        b.withUnsafeBufferPointer { bb in
        x.withUnsafeBufferPointer { xb in
        y.withUnsafeMutableBufferPointer { yb in
            linear(xb.baseAddress!, rows: n, inFeatures: k,
                   weight: LinearWeight(FloatTensor(name: "w", shape: [out, k], pointer: wb.baseAddress!)),
                   bias: FloatTensor(name: "b", shape: [out], pointer: bb.baseAddress!),
                   outFeatures: out, into: yb.baseAddress!, compute: compute)
        }}}}
        // y starts as NaN: a row or column the kernel skipped stays NaN and fails the comparison.
        let reference = float64Linear(x: x, rows: n, inFeatures: k, w: w, outFeatures: out, bias: b)
        assertClose(y, reference, tolerance: 2e-6, relative: true, "n=\(n) k=\(k) out=\(out) \(compute)")
    }

    func testKernelMatchesReferenceForEveryRowRemainderAndOddSizes() throws {
        try XCTSkipUnless(Compute.kernelsAvailable, "this CPU has no AVX2/FMA: the kernels are not used here (OpenBLAS is)")
        for n in [1, 2, 3, 4, 5, 7, 9, 13, 40] {
            for (k, out) in [(16, 4), (13, 7), (64, 130), (40, 33)] {
                checkLinear(rows: n, inFeatures: k, outFeatures: out, compute: Compute(threads: 1, useKernels: true))
            }
        }
    }

    func testKernelSplitOverThreadsMatchesReference() throws {
        try XCTSkipUnless(Compute.kernelsAvailable, "this CPU has no AVX2/FMA: the kernels are not used here (OpenBLAS is)")
        for n in [1, 9] {
            checkLinear(rows: n, inFeatures: 96, outFeatures: 1003, compute: Compute(threads: 2, useKernels: true))
            checkLinear(rows: n, inFeatures: 96, outFeatures: 1003, compute: Compute(threads: 3, useKernels: true))
        }
    }

    /// The pool shares heads, GELU slices and blocks of weight rows between threads; each piece is computed
    /// by the same code whichever thread takes it, so the answers are bit for bit those of one thread.
    func testPoolGivesBitIdenticalAnswersToOneThread() throws {
        try XCTSkipUnless(Compute.kernelsAvailable, "this CPU has no AVX2/FMA: the kernels are not used here (OpenBLAS is)")
        let one = try RobertaModel.load(directory: Fixtures.model("tiny"), threads: 1)
        let three = try RobertaModel.load(directory: Fixtures.model("tiny"), threads: 3)
        // 16 tokens and more: the heads go to the pool
        let ids = try one.inputIDs(for: "The quick brown fox jumps over the <mask> dog, and the cat watches it from the wall.")
        XCTAssertGreaterThanOrEqual(ids.count, 16)
        let a = try one.encode(ids: ids, capture: CaptureOptions(attention: true))
        let b = try three.encode(ids: ids, capture: CaptureOptions(attention: true))
        XCTAssertEqual(a.lastHiddenState, b.lastHiddenState)
        XCTAssertEqual(a.attention, b.attention)

        let values = self.values(100_003, seed: 7).map { $0 * 6 }  // several GELU slices and a ragged tail
        var pooled = values, single = values
        let pool = try XCTUnwrap(WorkerPool(threads: 3))
        pooled.withUnsafeMutableBufferPointer { ms_pool_gelu(pool.pointer, $0.baseAddress!, $0.count) }
        single.withUnsafeMutableBufferPointer { ms_gelu_erf($0.baseAddress!, $0.count) }
        XCTAssertEqual(pooled, single)
        XCTAssertNotEqual(pooled, values)
    }

    /// bfloat16 and float16 weights are widened exactly in the kernel: the same bits as the float32 kernel on
    /// the widened weights, for every row remainder, odd sizes (scalar tails) and a left-over weight row.
    func testSixteenBitKernelsEqualTheFloat32KernelOnWidenedWeights() throws {
        try XCTSkipUnless(Compute.kernelsAvailable, "this CPU has no AVX2/FMA/F16C: the kernels are not used here (OpenBLAS is)")
        for n in [1, 2, 3, 4, 9, 40] {
            for (k, out) in [(16, 4), (13, 7), (64, 130), (1024, 9)] {
                let x = values(n * k, seed: 11), b = values(out, seed: 12)
                let source = values(out * k, seed: 13).map { $0 * 3 }
                let bf = source.map { UInt16($0.bitPattern >> 16) }  // any bfloat16 bits will do
                let hf = source.map { Float16($0).bitPattern }
                for (bits, type, widen) in [(bf, Int32(MS_BF16), { (h: UInt16) in Float(bitPattern: UInt32(h) << 16) }),
                                            (hf, Int32(MS_F16), { (h: UInt16) in Float(Float16(bitPattern: h)) })] {
                    let widened = bits.map(widen)
                    var y16 = [Float](repeating: .nan, count: n * out), y32 = y16
                    ms_linear(x, Int32(n), Int32(k), bits, type, b, 0, Int32(out), &y16, Int32(out))
                    ms_linear_nt(x, Int32(n), Int32(k), widened, b, 0, Int32(out), &y32, Int32(out))
                    XCTAssertEqual(y16, y32, "n=\(n) k=\(k) out=\(out) type=\(type)")
                }
            }
        }
    }

    func testOpenBLASPathMatchesReference() {
        for n in [1, 4] { checkLinear(rows: n, inFeatures: 13, outFeatures: 7, compute: Compute(threads: 1, useKernels: false)) }
    }

    func testKernelGELUMatchesExactGELU() throws {
        try XCTSkipUnless(Compute.kernelsAvailable, "this CPU has no AVX2/FMA: the kernels are not used here (OpenBLAS is)")
        var x = (0..<2001).map { Float($0 - 1000) / 100 }  // -10 ... 10, 2001 values (a scalar tail too)
        let exact = x.map { v -> Double in 0.5 * Double(v) * (1 + erf(Double(v) / 2.0.squareRoot())) }
        x.withUnsafeMutableBufferPointer { activate($0.baseAddress!, count: $0.count, .gelu, compute: Compute(threads: 1, useKernels: true)) }
        assertClose(x, exact, tolerance: 2e-6, "gelu against exact erf GELU")
    }

    func testModelAnswersTheSameWithKernelsAndWithOpenBLAS() throws {
        try XCTSkipUnless(Compute.kernelsAvailable, "this CPU has no AVX2/FMA: the kernels are not used here (OpenBLAS is)")
        let kernels = try RobertaModel.load(directory: Fixtures.model("tiny"), kernels: .auto)
        let blas = try RobertaModel.load(directory: Fixtures.model("tiny"), kernels: .openblas)
        XCTAssertEqual(kernels.kernelName, ms_panels_width() == 512 ? "avx512" : "avx2")
        XCTAssertEqual(blas.kernelName, "openblas")
        for text in ["Paris is the <mask> of France.", "<mask> is a <mask> day in <mask>!"] {
            let a = try kernels.fillMask(text).masks, b = try blas.fillMask(text).masks
            XCTAssertEqual(a.map { $0.candidates.map(\.token) }, b.map { $0.candidates.map(\.token) })
            assertClose(a.flatMap(\.candidates).map(\.score), b.flatMap(\.candidates).map(\.score), tolerance: 1e-6, text)
        }
    }
}
