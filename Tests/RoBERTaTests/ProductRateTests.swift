import Foundation
import XCTest
import CKernels
@testable import RoBERTa

/// `measureProducts` counts the encoder's weight products exactly and relates them to the measured FMA peak.
/// Nothing here is timed against a bound: the machine's speed is not the behaviour under test.
final class ProductRateTests: XCTestCase {
    /// 2 * rows * layers * (4 h*h + 2 h*i): Q, K, V and the attention output are [h, h], the feed-forward [i, h], [h, i].
    func expectedFlops(_ config: RobertaConfig, rows: Int) -> Double {
        let h = Double(config.hiddenSize), i = Double(config.intermediateSize)
        return 2 * Double(rows) * Double(config.numHiddenLayers) * (4 * h * h + 2 * h * i)
    }

    func testFlopCountIsTheSixProductsOfEveryLayer() throws {
        for kernels in [RobertaModel.Kernels.auto, .openblas] {
            for threads in [1, 2] {
                let model = try RobertaModel.load(directory: Fixtures.model("tiny"), threads: threads, kernels: kernels)
                for rows in [1, 9, 40] {
                    let rate = try model.measureProducts(rows: rows, runs: 3)
                    XCTAssertEqual(rate.rows, rows)
                    XCTAssertEqual(rate.products, 6 * model.config.numHiddenLayers)
                    XCTAssertEqual(rate.flops, expectedFlops(model.config, rows: rows), "kernels \(kernels), threads \(threads), rows \(rows)")
                    XCTAssertGreaterThan(rate.seconds, 0)
                    XCTAssertGreaterThan(rate.bestSeconds, 0)
                    XCTAssertLessThanOrEqual(rate.bestSeconds, rate.seconds)
                    XCTAssertEqual(rate.gflops, rate.flops / rate.seconds / 1e9, accuracy: rate.gflops * 1e-12)
                }
            }
        }
    }

    func testPeakFractionIsAchievedOverPeak() throws {
        let model = try RobertaModel.load(directory: Fixtures.model("tiny"), threads: 2)
        let rate = try model.measureProducts(rows: 9, runs: 2)
        XCTAssertEqual(rate.peak, model.fmaPeak(), "the peak is measured once per thread count")
        XCTAssertEqual(rate.peak.widthBits, Int(ms_fma_width_bits()))
        if rate.peak.widthBits > 0 {
            XCTAssertGreaterThan(rate.peak.gflops, 0)
            XCTAssertEqual(rate.peakFraction, rate.gflops / rate.peak.gflops, accuracy: 1e-12)
        } else {
            XCTAssertEqual(rate.peakFraction, 0)
        }
        // The peak runs on as many threads as the products: the pool's with the kernels, else the model's count.
        XCTAssertEqual(rate.peak.threads, 2)
    }

    func testRowsOutsideTheModelsRangeAreRefused() throws {
        let model = try RobertaModel.load(directory: Fixtures.model("tiny"), threads: 1)
        XCTAssertThrowsError(try model.measureProducts(rows: 0, runs: 1)) { error in
            XCTAssertEqual(error as? InferenceError, .emptyInput)
        }
        let tooMany = model.config.maxTokens + 1
        XCTAssertThrowsError(try model.measureProducts(rows: tooMany, runs: 1)) { error in
            XCTAssertEqual(error as? InferenceError, .inputTooLong(tokens: tooMany, maximum: model.config.maxTokens))
        }
    }

    func testFMAPeakIsPositiveWhereTheCPUHasFMA() {
        let width = ms_fma_width_bits()
        XCTAssertTrue([0, 256, 512].contains(width), "width \(width)")
        let one = ms_fma_peak_gflops(nil, 0.05)
        if width > 0 {
            XCTAssertGreaterThan(one, 0)
            XCTAssertTrue(one.isFinite)
        } else {
            XCTAssertEqual(one, 0)
        }
    }
}
