import Foundation
import TestSupport
import XCTest

/// The comparison every numeric test uses fails on what `max`-based accumulation let through.
final class AssertCloseTests: XCTestCase {
    func testMaxBasedAccumulationDropsNaNWhichIsWhyItIsNotUsed() {
        // The pattern the tests used to have: a NaN difference vanishes.
        var worst = 0.0
        for d in [0.0, .nan, 1e-9] { worst = max(worst, d) }
        XCTAssertEqual(worst, 1e-9)
    }

    func testRowsAKernelLeftUnwrittenFail() {
        // A kernel that skipped its remainder rows leaves the NaN the output was filled with.
        let want: [Double] = [1, 2, 3, 4]
        let got: [Float] = [1, 2, .nan, .nan]
        let result = closeness(got, want, tolerance: 1e-3)
        XCTAssertFalse(result.isClose)
        XCTAssertEqual(result.index, 2)
        XCTAssertTrue(result.problem?.contains("not finite") == true, result.problem ?? "")
        XCTAssertTrue(result.problem?.contains("2 non-finite") == true, result.problem ?? "")
    }

    func testInfinityOnEitherSideFails() {
        XCTAssertFalse(closeness([Float.infinity], [Double.infinity], tolerance: 1).isClose)
        XCTAssertFalse(closeness([Float(1)], [Double.nan], tolerance: 1).isClose)
    }

    func testCountMismatchFails() {
        let result = closeness([Float](repeating: 0, count: 3), [Double](repeating: 0, count: 4), tolerance: 1)
        XCTAssertFalse(result.isClose)
        XCTAssertEqual(result.problem, "got 3 values but expected 4")
    }

    func testLargestDifferenceIsReportedWithItsPlace() {
        let result = closeness([Float(1), 2.5, 3], [1.0, 2.0, 3.0], tolerance: 0.1)
        XCTAssertEqual(result.largestDifference, 0.5)
        XCTAssertEqual(result.index, 1)
        XCTAssertTrue(result.problem?.contains("0.5 at value 1 of 3") == true, result.problem ?? "")
    }

    func testRelativeDifferenceIsScaledByTheExpectedMagnitudeAboveOne() {
        XCTAssertTrue(closeness([Float(1001)], [1000.0], tolerance: 2e-3, relative: true).isClose)
        XCTAssertFalse(closeness([Float(1.5)], [0.5], tolerance: 0.5, relative: true).isClose)
        XCTAssertTrue(closeness([Float(1.5)], [0.5], tolerance: 1, relative: true).isClose)
    }

    func testWithinToleranceIsClose() {
        let result = closeness([Float(1), 2], [1.0, 2.0000001], tolerance: 1e-6)
        XCTAssertTrue(result.isClose)
        XCTAssertEqual(result.count, 2)
        XCTAssertEqual(assertClose([Float(1), 2], [1.0, 2.0000001], tolerance: 1e-6), result.largestDifference)
    }
}
