import Foundation
import TestSupport
import XCTest

/// What one run of the binary printed and how it exited.
struct BinaryRun { var status: Int32; var stdout: String; var stderr: String }

/// The repository this test file is in.
let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

private final class BundleMarker {}

/// Runs the built `maskscope` (the one next to the test bundle) as users do, with `environment` added to
/// this process's, and waits for it.
func runMaskscope(_ arguments: [String], stdin: String? = nil, environment: [String: String] = [:]) throws -> BinaryRun {
    let process = Process()
    process.executableURL = TestBinary.maskscope(near: Bundle(for: BundleMarker.self), repoRoot: repoRoot)
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let out = Pipe(), err = Pipe(), input = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = input
    try process.run()
    if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
    try input.fileHandleForWriting.close()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return BinaryRun(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                     stderr: String(decoding: errData, as: UTF8.self))
}
