import Foundation
import XCTest
@testable import TerminalUI

/// Golden text snapshots under __Snapshots__/NAME.txt. MASKSCOPE_RECORD=1 rewrites them; a mismatch
/// fails with a line diff.
func assertSnapshot(_ lines: [String], named name: String, file: StaticString = #filePath, line: UInt = #line) {
    let directory = URL(fileURLWithPath: "\(file)").deletingLastPathComponent().appendingPathComponent("__Snapshots__")
    let url = directory.appendingPathComponent(name + ".txt")
    let actual = lines.joined(separator: "\n") + "\n"
    let record = ProcessInfo.processInfo.environment["MASKSCOPE_RECORD"] == "1"
    guard !record, let expected = try? String(contentsOf: url, encoding: .utf8) else {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try actual.write(to: url, atomically: true, encoding: .utf8)
        } catch {
            XCTFail("cannot write snapshot \(url.path): \(error)", file: file, line: line)
            return
        }
        if !record { XCTFail("recorded new snapshot \(name); run again to compare", file: file, line: line) }
        return
    }
    guard expected != actual else { return }
    let want = expected.components(separatedBy: "\n"), got = actual.components(separatedBy: "\n")
    var diff: [String] = []
    for i in 0..<max(want.count, got.count) {
        let w = i < want.count ? want[i] : "<none>", g = i < got.count ? got[i] : "<none>"
        if w != g { diff += ["line \(i + 1):", "- \(w)", "+ \(g)"] }
    }
    XCTFail("snapshot \(name) differs (MASKSCOPE_RECORD=1 re-records it):\n" + diff.joined(separator: "\n"), file: file, line: line)
}
