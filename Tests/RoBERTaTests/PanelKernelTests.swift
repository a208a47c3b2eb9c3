import Foundation
import XCTest
import CKernels
import TestSupport
@testable import RoBERTa

/// The panel kernels (CKernels panels.c) compute every output as the blocked chain of fused multiply-adds that
/// ckernels.h defines, bit for bit, whatever the row count, tile, vector width, thread count, or packing state.
final class PanelKernelTests: XCTestCase {
    override func tearDown() {
        ms_panels_force_width(-1)
        super.tearDown()
    }

    /// The kernel tests' deterministic floats in [-1, 1) (KernelTests.swift).
    func values(_ count: Int, seed: UInt64) -> [Float] { kernelTestValues(count, seed: seed) }

    /// The definition in ckernels.h, in Swift: addingProduct is one fused multiply-add.
    func chain(x: [Float], n: Int, k: Int, w: [Float], out: Int, bias: [Float]?) -> [Float] {
        let block = Int(MS_PANEL_K_BLOCK)
        var y = [Float](repeating: 0, count: n * out)
        for r in 0..<n {
            for o in 0..<out {
                var sum = bias?[o] ?? 0
                var i0 = 0
                while i0 < k {
                    var s: Float = 0
                    for i in i0..<min(i0 + block, k) { s = s.addingProduct(w[o * k + i], x[r * k + i]) }
                    sum += s
                    i0 += block
                }
                y[r * out + o] = sum
            }
        }
        return y
    }

    /// One product through a fresh ms_matrix; `pack` packs it in this call, `prepacked` packs it first.
    func product(x: [Float], n: Int, k: Int, w: UnsafeRawPointer, type: Int32, out: Int, bias: [Float]?, threads: Int,
                 pack: Bool = false, prepacked: Bool = false) -> [Float] {
        let m = ms_matrix_create(w, type, Int32(k), Int32(out), 0)!
        defer { ms_matrix_destroy(m) }
        if prepacked { XCTAssertEqual(ms_matrix_pack_now(m), 0) }
        let pool = threads > 1 ? WorkerPool(threads: threads) : nil
        var y = [Float](repeating: .nan, count: n * out)
        y.withUnsafeMutableBufferPointer { yb in
            x.withUnsafeBufferPointer { xb in
                if let bias {
                    bias.withUnsafeBufferPointer { ms_pool_matrix(pool?.pointer, m, pack ? 1 : 0, xb.baseAddress!, Int32(n), $0.baseAddress!, yb.baseAddress!, Int32(out)) }
                } else {
                    ms_pool_matrix(pool?.pointer, m, pack ? 1 : 0, xb.baseAddress!, Int32(n), nil, yb.baseAddress!, Int32(out))
                }
            }
        }
        if pack || prepacked { XCTAssertEqual(ms_matrix_is_packed(m), 1) }
        return y
    }

    func widths() -> [Int32] {
        [512, 256, 0].filter { $0 <= ms_panels_width() }
    }

    func testEveryWidthTileAndShapeGivesTheChainBitForBit() {
        // k: below a block, a block, ragged blocks and a tail under 16; out: a partial panel, several panels
        for (k, out) in [(13, 7), (64, 33), (100, 70), (200, 32), (1030, 65)] {
            let w = values(out * k, seed: 2), b = values(out, seed: 3)
            for n in [1, 2, 5, 6, 7, 12, 13, 25, 39] {
                let x = values(n * k, seed: UInt64(n))
                let expected = chain(x: x, n: n, k: k, w: w, out: out, bias: b)
                for width in widths() {
                    ms_panels_force_width(width)
                    w.withUnsafeBytes { wb in
                        for (threads, pack, prepacked) in [(1, false, false), (3, true, false), (2, false, true)] {
                            let y = product(x: x, n: n, k: k, w: wb.baseAddress!, type: Int32(MS_F32), out: out, bias: b,
                                            threads: threads, pack: pack, prepacked: prepacked)
                            XCTAssertEqual(y, expected, "k=\(k) out=\(out) n=\(n) width=\(width) threads=\(threads) pack=\(pack) prepacked=\(prepacked)")
                        }
                    }
                }
            }
        }
    }

    func testNoBiasStartsFromZero() {
        let k = 70, out = 40, n = 3
        let w = values(out * k, seed: 5), x = values(n * k, seed: 6)
        for width in widths() {
            ms_panels_force_width(width)
            let y = w.withUnsafeBytes { product(x: x, n: n, k: k, w: $0.baseAddress!, type: Int32(MS_F32), out: out, bias: nil, threads: 1) }
            XCTAssertEqual(y, chain(x: x, n: n, k: k, w: w, out: out, bias: nil), "width=\(width)")
        }
    }

    /// bfloat16 and float16 panels widen exactly: the chain over the widened weights.
    func testSixteenBitPanelsGiveTheChainOfTheWidenedWeights() {
        for (k, out) in [(13, 7), (100, 70), (200, 33)] {
            let source = values(out * k, seed: 13).map { $0 * 3 }
            let bf = source.map { UInt16($0.bitPattern >> 16) }
            let hf = source.map { Float16($0).bitPattern }
            let b = values(out, seed: 12)
            for n in [1, 9, 13] {
                let x = values(n * k, seed: 11)
                for (bits, type, widen) in [(bf, Int32(MS_BF16), { (h: UInt16) in Float(bitPattern: UInt32(h) << 16) }),
                                            (hf, Int32(MS_F16), { (h: UInt16) in Float(Float16(bitPattern: h)) })] {
                    let expected = chain(x: x, n: n, k: k, w: bits.map(widen), out: out, bias: b)
                    for width in widths() {
                        ms_panels_force_width(width)
                        bits.withUnsafeBytes { wb in
                            for (pack, prepacked) in [(false, false), (true, false), (false, true)] {
                                let y = product(x: x, n: n, k: k, w: wb.baseAddress!, type: type, out: out, bias: b, threads: 2,
                                                pack: pack, prepacked: prepacked)
                                XCTAssertEqual(y, expected, "k=\(k) out=\(out) n=\(n) type=\(type) width=\(width) pack=\(pack) prepacked=\(prepacked)")
                            }
                        }
                    }
                }
            }
        }
    }

    /// Against float64: the blocked chain is as close as the row kernels' 8-lane sums were.
    func testPanelsAreCloseToTheFloat64Product() {
        let k = 4096, out = 64, n = 3
        let w = values(out * k, seed: 21).map { $0 * 0.1 }, x = values(n * k, seed: 22), b = values(out, seed: 23)
        let y = w.withUnsafeBytes { product(x: x, n: n, k: k, w: $0.baseAddress!, type: Int32(MS_F32), out: out, bias: b, threads: 1) }
        let reference = float64Linear(x: x, rows: n, inFeatures: k, w: w, outFeatures: out, bias: b)
        let worst = zip(y, reference).map { abs(Double($0) - $1) }.max() ?? .infinity
        print("panels vs float64, k=4096: max |difference| \(worst)")
        XCTAssertLessThan(worst, 2e-6)
    }

    /// A model answers with the same bits on its first pass (panels packed per product), the second (packing)
    /// and later ones (packed), and every encoder matrix is packed after the second.
    func testModelAnswersTheSameBeforeWhileAndAfterPacking() throws {
        try XCTSkipUnless(Compute.kernelsAvailable, "this CPU has no AVX2/FMA: the kernels are not used here (OpenBLAS is)")
        let model = try RobertaModel.load(directory: Fixtures.model("tiny"), threads: 2)
        let matrices = model.weights.layers.flatMap { [$0.query, $0.key, $0.value, $0.attentionOutput, $0.intermediate, $0.output] }
        XCTAssertTrue(matrices.allSatisfy { $0.panels != nil })
        XCTAssertNotNil(model.weights.lmDense.panels)
        let embeddings = try XCTUnwrap(model.weights.wordEmbeddings.panels, "in place in the map: the tied decoder gets panels")
        let ids = try model.inputIDs(for: "The quick brown fox jumps over the <mask> dog.")
        let first = try model.encode(ids: ids).lastHiddenState
        XCTAssertFalse(matrices.contains { $0.panels!.isPacked }, "the first pass does not pack")
        let second = try model.encode(ids: ids).lastHiddenState
        XCTAssertTrue(matrices.allSatisfy { $0.panels!.isPacked })
        let third = try model.encode(ids: ids).lastHiddenState
        XCTAssertEqual(first, second)
        XCTAssertEqual(first, third)
        let mask = try XCTUnwrap(ids.firstIndex(of: model.tokenizer.maskID))
        let logits = try model.logits(model.encode(ids: ids), at: [mask])
        XCTAssertTrue(model.weights.lmDense.panels!.isPacked, "the LM head's dense packs on its first product after the first pass")
        XCTAssertTrue(embeddings.isPacked)
        // The embedding rows are read again from the map, whose pages the packed decoder released: same answer.
        XCTAssertEqual(try model.logits(model.encode(ids: ids), at: [mask]), logits)
    }

    /// --precision bf16 packs the rounded matrices at load and frees the row-major copies.
    func testRoundedMatricesArePackedAtLoadWithoutASecondCopy() throws {
        try XCTSkipUnless(Compute.kernelsAvailable, "this CPU has no AVX2/FMA/F16C: 16-bit weights need the kernels")
        let model = try RobertaModel.load(directory: Fixtures.model("tiny"), threads: 1, precision: .bf16)
        for layer in model.weights.layers {
            for m in [layer.query, layer.key, layer.value, layer.attentionOutput, layer.intermediate, layer.output] {
                let panels = try XCTUnwrap(m.panels)
                XCTAssertTrue(panels.isPacked)
                XCTAssertTrue(panels.sourceFreed)
                XCTAssertEqual(panels.packedBytes, (m.shape[0] + 31) / 32 * 32 * m.shape[1] * 2)
            }
        }
        // The rounded word embeddings too: the embedding lookup reads its rows from the panels.
        let embeddings = try XCTUnwrap(model.weights.wordEmbeddings.panels)
        XCTAssertTrue(embeddings.isPacked && embeddings.sourceFreed)
        let h = model.config.hiddenSize
        var row = [Float](repeating: .nan, count: h)
        model.weights.wordEmbeddings.widenRow(5, width: h, into: &row)
        let source = try RobertaModel.load(directory: Fixtures.model("tiny"), threads: 1)
        var exact = [Float](repeating: .nan, count: h)
        source.weights.wordEmbeddings.widenRow(5, width: h, into: &exact)
        XCTAssertEqual(row, exact.map { Float(bitPattern: UInt32(floatToBFloat16($0)) << 16) })
        XCTAssertGreaterThan(try model.fillMask("Paris is the <mask> of France.").masks[0].candidates.count, 0)
    }
}
