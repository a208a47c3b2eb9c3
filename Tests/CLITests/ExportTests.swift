import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest

/// `maskscope export` on the tiny fixtures: every view in every format, the numbers equal to `inspect --json`'s, and
/// a clear message with a non-zero exit for every bad input.
final class ExportTests: XCTestCase {
    static let tiny = repoRoot.appendingPathComponent("Tests/Fixtures/models/tiny").path
    static let tinyF16 = repoRoot.appendingPathComponent("Tests/Fixtures/models/tiny-f16").path
    static let sentence = "Paris is the <mask> of France."

    func export(_ arguments: [String], text: String = sentence) throws -> BinaryRun {
        try runMaskscope(["export"] + arguments + [text], timeout: 60)
    }

    /// -o a link writes the file it names (the link stays); -o a FIFO writes into it, as a shell's > would.
    func testOutputThroughALinkOrIntoAFIFO() throws {
        let folder = try scratch()
        let target = folder.appendingPathComponent("target.svg"), link = folder.appendingPathComponent("link.svg")
        try "old".write(to: target, atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: target)
        let run = try export(["--model", Self.tiny, "-o", link.path])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: link.path), target.path)
        XCTAssertTrue(try String(contentsOf: target, encoding: .utf8).hasPrefix("<?xml"))
        let fifo = folder.appendingPathComponent("pipe")
        let make = Process()
        make.executableURL = URL(fileURLWithPath: "/usr/bin/mkfifo")
        make.arguments = [fifo.path]
        try make.run()
        make.waitUntilExit()
        XCTAssertEqual(make.terminationStatus, 0)
        let reader = DispatchQueue.global()
        let received = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var bytes = 0
        reader.async {
            // open(2) and read(2): Foundation's Data(contentsOf:) does not read a FIFO
            let fd = open(fifo.path, O_RDONLY)
            var total = 0
            var chunk = [UInt8](repeating: 0, count: 65536)
            while fd >= 0 {
                let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
                if n <= 0 { break }
                total += n
            }
            if fd >= 0 { close(fd) }
            bytes = fd >= 0 ? total : -1
            received.signal()
        }
        let piped = try export(["--model", Self.tiny, "--format", "svg", "-o", fifo.path])
        XCTAssertEqual(piped.status, 0, piped.stderr)
        XCTAssertEqual(received.wait(timeout: .now() + 30), .success)
        XCTAssertGreaterThan(bytes, 1000)
        var info = stat()
        XCTAssertEqual(lstat(fifo.path, &info), 0)
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFIFO, "the FIFO is still a FIFO")
    }

    func testEveryViewInEveryFormat() throws {
        let folder = try scratch()
        for view in ["attention", "overview", "candidates", "compare", "lens", "head-stats"] {
            let models = view == "compare" ? ["--model", Self.tiny, "--model", Self.tinyF16] : ["--model", Self.tiny]
            for format in ["svg", "pdf", "png", "html", "json", "csv"] {
                let file = folder.appendingPathComponent("\(view).\(format)")
                let scale = format == "png" ? ["--scale", "1"] : []
                let run = try export(models + ["--view", view, "--layer", "2", "--head", "3", "-o", file.path] + scale)
                XCTAssertEqual(run.status, 0, "\(view) \(format): \(run.stderr)")
                XCTAssertEqual(run.stderr, "", "\(view) \(format)")
                XCTAssertTrue(run.stdout.hasPrefix("wrote \(file.path) (\(format), "), run.stdout)
                let data = try Data(contentsOf: file)
                let head = String(decoding: data.prefix(16), as: UTF8.self)
                switch format {
                case "svg": XCTAssertTrue(XMLParser(data: data).parse(), "\(view).svg is not XML")
                case "pdf": XCTAssertTrue(head.hasPrefix("%PDF-"), view)
                case "png": XCTAssertEqual(Array(data.prefix(4)), [0x89, 0x50, 0x4e, 0x47], view)
                case "html":
                    let html = String(decoding: data, as: UTF8.self)
                        .replacingOccurrences(of: "xmlns=\"http://www.w3.org/2000/svg\"", with: "")
                    for banned in ["http://", "https://", "<link", "src="] { XCTAssertFalse(html.contains(banned), "\(view).html has \(banned)") }
                case "json": XCTAssertNoThrow(try JSONSerialization.jsonObject(with: data), view)
                default: XCTAssertFalse(data.isEmpty, view)
                }
            }
        }
    }

    /// The attention JSON and CSV carry exactly the matrix `inspect --json` prints for that layer and head.
    func testAttentionNumbersEqualInspect() throws {
        let inspect = try runMaskscope(["inspect", "--model", Self.tiny, "--json", Self.sentence], timeout: 60)
        XCTAssertEqual(inspect.status, 0, inspect.stderr)
        let engine = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any])
        let attention = try XCTUnwrap(engine["attention"] as? [[[[Double]]]])
        let tokens = try XCTUnwrap(engine["tokens"] as? [String])
        let folder = try scratch()
        for (layer, head) in [(1, 1), (2, 3), (2, 4)] {
            let json = folder.appendingPathComponent("a\(layer)\(head).json"), csv = folder.appendingPathComponent("a\(layer)\(head).csv")
            for file in [json, csv] {
                let run = try export(["--model", Self.tiny, "--layer", String(layer), "--head", String(head), "-o", file.path])
                XCTAssertEqual(run.status, 0, run.stderr)
            }
            let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: json)) as? [String: Any])
            XCTAssertEqual(object["model"] as? String, "tiny")
            XCTAssertEqual(object["view"] as? String, "attention")
            XCTAssertEqual(object["layer"] as? Int, layer)
            XCTAssertEqual(object["head"] as? Int, head)
            XCTAssertEqual(object["tokens"] as? [String], tokens)
            XCTAssertEqual(object["matrix"] as? [[Double]], attention[layer - 1][head - 1], "layer \(layer) head \(head)")

            let rows = try String(contentsOf: csv, encoding: .utf8).split(separator: "\n").map(String.init)
            XCTAssertEqual(rows.count, tokens.count + 1)
            // Compared as the engine's float32 values: Foundation's JSON reader on Linux does not always round the
            // last digit of a double as strtod does, so the doubles of `inspect`'s JSON and of the CSV may differ in
            // the last bit while both spell the same float32.
            let values = rows.dropFirst().map { row in row.split(separator: ",").suffix(tokens.count).map { Float($0) ?? .nan } }
            XCTAssertEqual(values, attention[layer - 1][head - 1].map { $0.map { Float($0) } }, "CSV of layer \(layer) head \(head)")
        }
    }

    func testCandidatesAndLensJSONEqualInspect() throws {
        let inspect = try runMaskscope(["inspect", "--model", Self.tiny, "--json", "--lens", "--top-k", "4", Self.sentence], timeout: 60)
        let engine = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any])
        let top = try XCTUnwrap((engine["masks"] as? [[String: Any]])?.first?["top"] as? [[String: Any]])
        let folder = try scratch()
        let file = folder.appendingPathComponent("c.json")
        XCTAssertEqual(try export(["--model", Self.tiny, "--view", "candidates", "--top-k", "4", "-o", file.path]).status, 0)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any])
        let candidates = try XCTUnwrap((object["masks"] as? [[String: Any]])?.first?["candidates"] as? [[String: Any]])
        XCTAssertEqual(candidates.map { $0["token"] as? Int }, top.map { $0["token"] as? Int })
        XCTAssertEqual(candidates.map { $0["token_str"] as? String }, top.map { $0["token_str"] as? String })
        XCTAssertEqual(candidates.map { $0["score"] as? Double }, top.map { $0["score"] as? Double })
        XCTAssertEqual(candidates.map { $0["rank"] as? Int }, [1, 2, 3, 4])

        let lensFile = folder.appendingPathComponent("l.json")
        XCTAssertEqual(try export(["--model", Self.tiny, "--view", "lens", "--top-k", "4", "-o", lensFile.path]).status, 0)
        let lens = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: lensFile)) as? [String: Any])
        let layers = try XCTUnwrap((lens["masks"] as? [[String: Any]])?.first?["layers"] as? [[String: Any]])
        let engineLayers = try XCTUnwrap((engine["lens"] as? [[String: Any]])?.first?["layers"] as? [[[String: Any]]])
        XCTAssertEqual(layers.count, 3)
        for (mine, theirs) in zip(layers, engineLayers) {
            let top = try XCTUnwrap(mine["top"] as? [[String: Any]])
            XCTAssertEqual(top.map { $0["score"] as? Double }, theirs.map { $0["score"] as? Double })
        }
    }

    func testFormatComesFromTheExtensionOrFormat() throws {
        let folder = try scratch()
        let file = folder.appendingPathComponent("figure.data")
        let run = try export(["--model", Self.tiny, "--format", "csv", "-o", file.path])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(try String(contentsOf: file, encoding: .utf8).hasPrefix(",<s>,"))
        let stdout = try export(["--model", Self.tiny, "--format", "json", "--view", "candidates", "-o", "-"])
        XCTAssertEqual(stdout.status, 0, stdout.stderr)
        XCTAssertTrue(stdout.stdout.hasPrefix("{\"model\": \"tiny\", \"view\": \"candidates\""), stdout.stdout)
        let svg = try export(["--model", Self.tiny, "--scale", "3", "-o", folder.appendingPathComponent("f.svg").path])
        XCTAssertEqual(svg.status, 0, svg.stderr)
        XCTAssertEqual(svg.stderr, "warning: --scale only applies to PNG; a svg file has no pixels, so it is ignored\n")
    }

    func testPNGScaleSetsThePixelSize() throws {
        let folder = try scratch()
        var widths: [Int] = []
        for scale in ["1", "2"] {
            let file = folder.appendingPathComponent("s\(scale).png")
            XCTAssertEqual(try export(["--model", Self.tiny, "--scale", scale, "-o", file.path]).status, 0)
            let bytes = [UInt8](try Data(contentsOf: file))
            widths.append(bytes[16..<20].reduce(0) { $0 << 8 | Int($1) })
        }
        XCTAssertEqual(abs(widths[1] - 2 * widths[0]) <= 1, true, "\(widths)")
    }

    // MARK: what goes wrong

    func assertFails(_ arguments: [String], text: String = sentence, status: Int32, saying parts: [String],
                     file: StaticString = #filePath, line: UInt = #line) throws {
        let run = try export(arguments, text: text)
        XCTAssertEqual(run.status, status, run.stderr, file: file, line: line)
        for part in parts { XCTAssertTrue(run.stderr.contains(part), "\(part) not in: \(run.stderr)", file: file, line: line) }
    }

    func testLayerAndHeadOutOfRangeNameTheRange() throws {
        let out = try scratch().appendingPathComponent("x.svg").path
        try assertFails(["--model", Self.tiny, "--layer", "3", "-o", out], status: 1, saying: ["--layer 3 is out of range: tiny has layers 1-2"])
        try assertFails(["--model", Self.tiny, "--head", "5", "-o", out], status: 1, saying: ["--head 5 is out of range: tiny has heads 1-4"])
        try assertFails(["--model", Self.tiny, "--layer", "0", "-o", out], status: 64, saying: ["--layer must be at least 1 (got 0)"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "nothing written on failure")
    }

    func testBadViewFormatAndModelCountAreUsageErrors() throws {
        let out = try scratch().appendingPathComponent("x.svg").path
        try assertFails(["--model", Self.tiny, "--view", "heatmap", "-o", out], status: 64, saying: ["heatmap", "attention", "head-stats"])
        try assertFails(["--model", Self.tiny, "-o", out + ".jpg"], status: 64, saying: [".jpg is not a format we write", ".svg, .pdf, .png, .html, .json or .csv"])
        try assertFails(["--model", Self.tiny, "-o", "figure"], status: 64, saying: ["has no extension", "--format"])
        try assertFails(["--model", Self.tiny, "--format", "gif", "-o", out], status: 64, saying: ["--format gif", "svg, pdf, png, html, json, csv"])
        try assertFails(["--model", Self.tiny, "--view", "compare", "-o", out], status: 64, saying: ["--view compare needs two models", "--model twice"])
        try assertFails(["--model", Self.tiny, "--model", Self.tinyF16, "-o", out], status: 64, saying: ["only --view compare uses two models"])
        try assertFails(["--model", Self.tiny, "--scale", "20", "-o", out], status: 64, saying: ["--scale must be between 0.25 and 8"])
        try assertFails(["--model", Self.tiny, "-o", "-"], status: 64, saying: ["--format"])
        try assertFails(["--model", Self.tiny, "--theme", "nosuch", "-o", out], status: 1, saying: ["no theme named nosuch", "dark"])
    }

    func testUnwritableOutputIsNamed() throws {
        let folder = try scratch()
        let missing = folder.appendingPathComponent("no/such/x.svg").path
        try assertFails(["--model", Self.tiny, "-o", missing], status: 1, saying: ["cannot write \(missing)", "does not exist"])
        let directory = folder.appendingPathComponent("dir.svg")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try assertFails(["--model", Self.tiny, "-o", directory.path], status: 1, saying: ["is a folder"])
    }

    func testTooManyTokensForAHeatmapNamesCountAndCap() throws {
        let long = String(repeating: "Paris is the city of France. ", count: 40) + "<mask>"
        let out = try scratch().appendingPathComponent("long.svg").path
        try assertFails(["--model", Self.tiny, "-o", out], text: long, status: 1, saying: ["tokens; a heatmap is drawn for at most 256", "json or csv"])
        XCTAssertEqual(try export(["--model", Self.tiny, "-o", out + ".csv"], text: long).status, 0, "the numbers have no cap")
    }
}
