import Figures
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
@testable import RoBERTa
@testable import Workbench

/// Issue #13 in the workbench: F9 (w outside the editor) writes the figure of what the focused pane shows to exports/.
/// Reducer tests (key -> effect with the right figure), then the exporter writing real files into a temporary folder.
final class FigureExportTests: XCTestCase, KeyDriving {
    let teacher = ModelInfo(name: "pocket-teacher", path: "pocket-teacher", layers: 2, heads: 3, maxTokens: 128)
    let student = ModelInfo(name: "pocket-student", path: "pocket-student", layers: 1, heads: 3, maxTokens: 128)
    let text = "Paris is the <mask> ."

    /// Attention whose every value says where it is, so a figure shows which layer and head it was taken from.
    func maps(layers: Int, heads: Int, n: Int) -> AttentionMaps {
        var values = [Float](repeating: 0, count: layers * heads * n * n)
        for l in 0..<layers {
            for h in 0..<heads {
                for q in 0..<n {
                    var row = (0..<n).map { k in Float(1 + (k + q * 3 + h * 5 + l * 7) % 11) }
                    let sum = row.reduce(0, +)
                    row = row.map { $0 / sum }
                    for k in 0..<n { values[((l * heads + h) * n + q) * n + k] = row[k] }
                }
            }
        }
        return AttentionMaps(layers: layers, heads: heads, tokens: n, values: values)
    }

    /// What `analyse` would answer: seven tokens, one mask, attention, head statistics and what the request asked for.
    func answer(_ request: InferenceRequest, info: ModelInfo, seed: Int) -> Analysis {
        let forms = [("<s>", "<s>"), ("Paris", "Paris"), ("Ġis", "␣is"), ("Ġthe", "␣the"), ("<mask>", "<mask>"), ("Ġ.", "␣."), ("</s>", "</s>")]
        let tokens = forms.enumerated().map { TokenRow(id: $0.offset, byteLevel: $0.element.0, readable: $0.element.1, span: 0..<0, word: nil) }
        let attention = maps(layers: info.layers, heads: info.heads, n: tokens.count)
        var analysis = Analysis(
            text: request.text, tokens: tokens,
            masks: [MaskRow(position: 4, span: 13..<19, candidates: (0..<request.topK).map {
                CandidateRow(id: 100 + $0 + seed, text: [" capital", " city", " heart", " home", " pride"][($0 + seed) % 5],
                             probability: 0.5 / Float($0 + 1 + seed))
            })],
            attention: attention, maskLogits: request.maskLogits ? [[Float](repeating: 0, count: 8)] : nil)
        analysis.headStats = (0..<info.layers).map { l in
            (0..<info.heads).map { h in HeadStatistics.of(attention, layer: l, head: h, punctuation: [5]) }
        }
        if request.values == .norms {
            analysis.norms = AttentionMaps(layers: attention.layers, heads: attention.heads, tokens: attention.tokens,
                                           values: attention.values.map { $0 * 2 })
        }
        if request.values == .rollout { analysis.rollout = attentionRollout(attention) }
        if request.lens {
            analysis.lens = [MaskLens(position: 4, layers: (0...info.layers).map { l in
                LensLayer(candidates: [LensCandidate(token: 100, tokenStr: " capital", score: 0.1 * Float(l + 1))],
                          finalTopRank: info.layers + 1 - l, finalTopScore: 0.1 * Float(l + 1))
            })]
        }
        return analysis
    }

    /// Presses `keys` and answers every inference request at once; returns every other effect.
    @discardableResult
    func run(_ keys: [Key], _ state: inout WorkbenchState) -> [Effect] {
        settle(press(keys, &state), &state)
    }

    @discardableResult
    func settle(_ effects: [Effect], _ state: inout WorkbenchState) -> [Effect] {
        var others: [Effect] = []
        var pending = effects
        while !pending.isEmpty {
            let effect = pending.removeFirst()
            guard case .runInference(let request) = effect else { others.append(effect); continue }
            let info = state.models[request.model]
            pending += reduce(&state, .inferenceFinished(id: request.id, model: request.model,
                                                         analysis: answer(request, info: info, seed: request.model)))
        }
        return others
    }

    func opened(_ models: [ModelInfo], focus: Pane) -> WorkbenchState {
        var state = WorkbenchState(models: models, text: text, themes: ["dark", "light"], theme: "light")
        settle(reduce(&state, .opened), &state)
        state.focus = focus
        return state
    }

    /// The one export request among `effects`.
    func exportRequest(_ effects: [Effect], file: StaticString = #filePath, line: UInt = #line) -> FigureExportRequest? {
        let requests = effects.compactMap { effect -> FigureExportRequest? in
            if case .exportFigure(let request) = effect { return request } else { return nil }
        }
        XCTAssertEqual(requests.count, 1, "effects: \(effects)", file: file, line: line)
        return requests.first
    }

    func heatmap(_ request: FigureExportRequest?) -> HeatmapFigure? {
        if case .attention(let data)? = request?.figure { return data } else { return nil }
    }

    // MARK: the key, pane by pane

    func testF9InTheCandidatesPaneWritesTheCandidates() throws {
        var state = opened([teacher], focus: .candidates)
        let request = try XCTUnwrap(exportRequest(press([.function(9)], &state)))
        XCTAssertEqual(request.format, .svg)
        XCTAssertEqual(request.name, "candidates-pocket-teacher")
        XCTAssertEqual(request.theme, "light")
        guard case .candidates(let data) = request.figure else { return XCTFail("not candidates: \(request.figure)") }
        XCTAssertEqual(data.model, "pocket-teacher")
        XCTAssertEqual(data.text, text)
        XCTAssertEqual(data.masks.map(\.position), [4])
        XCTAssertEqual(data.masks[0].candidates.map(\.tokenStr), state.analysis?.masks[0].candidates.map(\.text))
        XCTAssertEqual(data.masks[0].candidates.map(\.score), state.analysis?.masks[0].candidates.map { Double($0.probability) })
        XCTAssertEqual(state.notice, Notice("writing the candidates figure as svg…"))
    }

    func testWOutsideTheEditorAndF9InItWriteTheCandidatesTheEditorTypesW() throws {
        var state = opened([teacher], focus: .candidates)
        XCTAssertEqual(exportRequest(press([.char("w")], &state))?.name, "candidates-pocket-teacher")
        state.focus = .editor
        XCTAssertEqual(exportRequest(press([.function(9)], &state))?.name, "candidates-pocket-teacher")
        let typed = press([.char("w")], &state)
        XCTAssertFalse(typed.contains { if case .exportFigure = $0 { return true } else { return false } })
        XCTAssertEqual(state.text, text + "w")
    }

    func testCompareModeWritesBothModelsWithTheMeasures() throws {
        var state = opened([teacher, student], focus: .candidates)
        let effects = run([.char("c")], &state)
        // The reducer asked for the measures of the two results on screen; answer it.
        guard case .compareDistributions(let asked)? = effects.first(where: { if case .compareDistributions = $0 { return true } else { return false } }) else {
            return XCTFail("no comparison asked: \(effects)")
        }
        let measures = MaskMeasures(kl: 0.25, js: 0.0625, top1Agree: false, overlap: 0.6, k: 5, spearman: 0.5, compared: 8)
        _ = reduce(&state, .comparisonFinished(ComparisonResult(id: asked.id, teacher: asked.teacher, student: asked.student,
                                                                teacherRun: asked.teacherRun, studentRun: asked.studentRun, masks: [measures],
                                                                teacherMasks: 1, studentMasks: 1, sharedVocabulary: true, compared: 8)))
        let request = try XCTUnwrap(exportRequest(press([.function(9)], &state)))
        XCTAssertEqual(request.name, "compare-pocket-teacher-vs-pocket-student")
        guard case .compare(let data) = request.figure else { return XCTFail("not compare: \(request.figure)") }
        XCTAssertEqual(data.left.model, "pocket-teacher")
        XCTAssertEqual(data.right.model, "pocket-student")
        XCTAssertEqual(data.right.masks[0].candidates.map(\.tokenStr), state.results[1]?.masks[0].candidates.map(\.text))
        XCTAssertEqual(data.measures.first?.map(\.name), ["KL", "JS", "top-5 overlap", "Spearman"])
        XCTAssertEqual(data.measures.first?.map(\.value), [0.25, 0.0625, 0.6, 0.5])
    }

    func testTheLensOpenWritesTheLens() throws {
        var state = opened([teacher], focus: .candidates)
        run([.function(8)], &state)
        let request = try XCTUnwrap(exportRequest(press([.function(9)], &state)))
        XCTAssertEqual(request.name, "lens-pocket-teacher")
        guard case .lens(let data) = request.figure else { return XCTFail("not the lens: \(request.figure)") }
        XCTAssertEqual(data.masks.first?.rows.count, teacher.layers + 1)
        XCTAssertEqual(data.masks.first?.rows.map(\.finalTopRank), [3, 2, 1])
    }

    func testAttentionWritesTheHeatmapOfTheLayerAndHeadShown() throws {
        var state = opened([teacher], focus: .attention)
        press([.char("]"), .char("."), .char(".")], &state)
        let request = try XCTUnwrap(exportRequest(press([.function(9)], &state)))
        XCTAssertEqual(request.name, "attention-pocket-teacher-L2H3")
        let data = try XCTUnwrap(heatmap(request))
        XCTAssertEqual([data.layer, data.head], [2, 3])
        XCTAssertEqual(data.mode, "weights")
        XCTAssertEqual(data.tokens, ["<s>", "Paris", "Ġis", "Ġthe", "<mask>", "Ġ.", "</s>"])
        XCTAssertEqual(data.labels, ["<s>", "Paris", "is", "the", "<mask>", ".", "</s>"])
        let shown = try XCTUnwrap(state.analysis?.attention).matrix(layer: 1, head: 2).map(Double.init)
        XCTAssertEqual(data.matrix.flatMap { $0 }, shown)
    }

    /// A figure taken with heads knocked out shows the answers of the model without them: its subtitle says so.
    func testKnockedOutHeadsAreNamedUnderTheTitle() throws {
        var state = opened([teacher, student], focus: .attention)
        run([.char("x")], &state)   // layer 1, head 1 of the active model
        XCTAssertEqual(state.knockout, [HeadRef(layer: 0, head: 0)])
        let attention = try XCTUnwrap(heatmap(exportRequest(press([.function(9)], &state))))
        XCTAssertEqual(attention.text, text + " · heads 1.1 knocked out")
        state.focus = .candidates
        guard case .candidates(let data)? = exportRequest(press([.function(9)], &state))?.figure else { return XCTFail("no candidates") }
        XCTAssertEqual(data.text, text + " · heads 1.1 knocked out")
        // The compare figure's subtitle (what compareMode's F9 passes; the flow itself is testCompareModeWrites...).
        XCTAssertEqual(state.figureText(models: [0, 1]), text + " · pocket-teacher without heads 1.1")
        state.focus = .attention
        run([.char("X")], &state)
        XCTAssertEqual(heatmap(exportRequest(press([.function(9)], &state)))?.text, text)
    }

    func testNormsRolloutAndTheMeanAreWrittenAsShown() throws {
        var state = opened([teacher], focus: .attention)
        press([.char("]"), .char(".")], &state)
        run([.char("v")], &state)
        var request = try XCTUnwrap(exportRequest(press([.function(9)], &state)))
        XCTAssertEqual(request.name, "attention-norms-pocket-teacher-L2H2")
        XCTAssertEqual(heatmap(request)?.mode, "norms")
        XCTAssertEqual(heatmap(request)?.matrix.flatMap { $0 }, state.analysis?.norms?.matrix(layer: 1, head: 1).map(Double.init))

        press([.char("a")], &state)
        request = try XCTUnwrap(exportRequest(press([.function(9)], &state)))
        XCTAssertEqual(request.name, "attention-norms-pocket-teacher-L2-mean")
        XCTAssertEqual(heatmap(request)?.head, 0)
        XCTAssertEqual(heatmap(request)?.matrix.flatMap { $0 },
                       state.analysis?.norms?.shown(layer: 1, head: 1, meanOverHeads: true).map(Double.init))

        run([.char("v")], &state)
        request = try XCTUnwrap(exportRequest(press([.function(9)], &state)))
        XCTAssertEqual(request.name, "attention-rollout-pocket-teacher-L2")
        XCTAssertEqual(heatmap(request)?.mode, "rollout")
        XCTAssertEqual(heatmap(request)?.matrix.flatMap { $0 }, state.analysis?.rollout?.matrix(layer: 1, head: 0).map(Double.init))
    }

    func testTheOverviewWritesTheStatisticShownElseEveryHeadsStatistics() throws {
        var state = opened([teacher], focus: .attention)
        press([.char("o")], &state)
        var request = try XCTUnwrap(exportRequest(press([.function(9)], &state)))
        XCTAssertEqual(request.name, "head-stats-pocket-teacher")
        guard case .headStats(let stats) = request.figure else { return XCTFail("not head-stats: \(request.figure)") }
        XCTAssertEqual(stats.stats.map(\.count), [3, 3])
        XCTAssertEqual(stats.stats[1][2].toBOS, state.analysis?.headStats?[1][2].toBOS)

        press([.char("S"), .char("S"), .down, .right], &state)
        request = try XCTUnwrap(exportRequest(press([.function(9)], &state)))
        XCTAssertEqual(request.name, "overview-to-bos-pocket-teacher")
        guard case .overview(let overview) = request.figure else { return XCTFail("not the overview: \(request.figure)") }
        XCTAssertEqual(overview.statistic, "to_bos")
        XCTAssertEqual(overview.statisticTitle, "mean weight to <s>")
        XCTAssertEqual(overview.selected?.layer, 2)
        XCTAssertEqual(overview.selected?.head, 2)
        XCTAssertEqual(overview.values[1][1], state.analysis?.headStats?[1][1].toBOS)
    }

    func testTheTokensPaneSaysWhichPanesHaveFigures() {
        var state = opened([teacher], focus: .tokens)
        XCTAssertEqual(press([.function(9)], &state), [])
        XCTAssertEqual(state.notice?.isError, true)
        XCTAssertEqual(state.notice?.text,
                       "the Tokens pane has no figure; F9 (w) writes one in Candidates (candidates, compare, lens) and Attention (heatmap, overview)")
    }

    func testAResultForAnOlderTextIsNotWritten() {
        var state = opened([teacher], focus: .editor)
        _ = press(type("x"), &state) // a new run is asked for and not answered
        XCTAssertEqual(press([.function(9)], &state), [])
        XCTAssertEqual(state.notice?.text, "the view is being updated for the new text; press F9 (w) again in a moment")
    }

    func testNoMaskYetSaysWhy() {
        var state = WorkbenchState(models: [teacher], text: "no mask")
        var analysis = Analysis(text: "no mask", tokens: [])
        analysis.error = "no <mask> yet: type <mask>"
        let id = requestID(reduce(&state, .opened))
        _ = reduce(&state, .inferenceFinished(id: id, model: 0, analysis: analysis))
        XCTAssertEqual(press([.function(9)], &state), [])
        XCTAssertEqual(state.notice, Notice("no figure: no <mask> yet: type <mask>", isError: true))
        state.focus = .attention
        XCTAssertEqual(press([.function(9)], &state), [])
        XCTAssertEqual(state.notice, Notice("no attention to export: no <mask> yet: type <mask>", isError: true))
    }

    func requestID(_ effects: [Effect]) -> Int { requests(effects).first?.id ?? -1 }

    // MARK: the format

    func testWCyclesTheFormatAndF9UsesIt() throws {
        var state = opened([teacher], focus: .attention)
        press([.char("W"), .char("W")], &state)
        XCTAssertEqual(state.exportFormat, .png)
        XCTAssertEqual(state.notice?.text, "F9 (w) writes figures as png (W: next format)")
        XCTAssertEqual(exportRequest(press([.function(9)], &state))?.format, .png)
        press(Array(repeating: .char("W"), count: 4), &state)
        XCTAssertEqual(state.exportFormat, .svg)
    }

    func testTheFormatIsSavedWithTheSessionAndOldSessionsStillLoad() throws {
        var state = opened([teacher], focus: .candidates)
        XCTAssertNil(state.session.exportFormat, "the default is not written, so sessions keep their bytes")
        XCTAssertFalse(String(decoding: try state.session.encoded(), as: UTF8.self).contains("exportFormat"))
        state.exportFormat = .pdf
        let saved = try JSONDecoder().decode(Session.self, from: state.session.encoded())
        XCTAssertEqual(saved.exportFormat, "pdf")
        var reopened = WorkbenchState(models: [teacher])
        reopened.restore(saved)
        XCTAssertEqual(reopened.exportFormat, .pdf)

        let old = try JSONDecoder().decode(Session.self, from: Data(#"{"text": "a <mask>", "theme": "dark"}"#.utf8))
        XCTAssertNil(old.exportFormat)
        let unknown = try JSONDecoder().decode(Session.self, from: Data(#"{"text": "a <mask>", "exportFormat": "tiff"}"#.utf8))
        reopened.restore(unknown)
        XCTAssertEqual(reopened.exportFormat, .svg)
    }

    func testTheFlagWinsOverTheSession() {
        var session = Session(models: ["pocket-teacher"], text: "a <mask>")
        session.exportFormat = "png"
        let fromSession = WorkbenchLaunch.state(models: [teacher], options: LaunchOptions(), session: session, themes: ["dark"], theme: "dark")
        XCTAssertEqual(fromSession.exportFormat, .png)
        let flagged = WorkbenchLaunch.state(models: [teacher], options: LaunchOptions(exportFormat: .json), session: session,
                                            themes: ["dark"], theme: "dark")
        XCTAssertEqual(flagged.exportFormat, .json)
    }

    // MARK: the result on the status line

    func testTheResultNamesTheFileOrTheError() {
        var state = opened([teacher], focus: .candidates)
        XCTAssertEqual(reduce(&state, .figureExported(path: "exports/candidates-pocket-teacher-20261201-213005.svg")), [])
        XCTAssertEqual(state.notice, Notice("wrote exports/candidates-pocket-teacher-20261201-213005.svg"))
        _ = reduce(&state, .figureExportFailed("cannot write the figure: permission denied"))
        XCTAssertEqual(state.notice, Notice("cannot write the figure: permission denied", isError: true))
    }

    func testTheHelpListsTheKeys() {
        XCTAssertTrue(Keymap.bindings.contains { $0.keys == "F9 (w)" && $0.does.contains("exports/") })
        XCTAssertTrue(Keymap.bindings.contains { $0.keys == "W" && $0.does.contains("svg pdf png html json csv") })
    }

    // MARK: the exporter: real files

    func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("maskscope-export-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    /// 2026-12-01 21:30:05 UTC.
    let moment = Date(timeIntervalSince1970: 1_796_160_605)

    func exporter(_ folder: URL) -> FigureExporter {
        let moment = self.moment
        return FigureExporter(folder: folder.path, clock: { moment }, timeZone: TimeZone(identifier: "UTC")!)
    }

    func testTheExporterWritesAFileThatParsesWithTheStatesNumbers() throws {
        var state = opened([teacher], focus: .attention)
        press([.char("]"), .char(".")], &state)
        let folder = try temporaryFolder().appendingPathComponent("exports")
        var request = try XCTUnwrap(exportRequest(press([.function(9)], &state)))

        guard case .figureExported(let svgPath) = exporter(folder).write(request, style: .viridis) else { return XCTFail("not written") }
        XCTAssertEqual(svgPath, folder.appendingPathComponent("attention-pocket-teacher-L2H2-20261201-213005.svg").path)
        let svg = try Data(contentsOf: URL(fileURLWithPath: svgPath))
        let parser = XMLParser(data: svg)
        XCTAssertTrue(parser.parse(), "the SVG is not XML: \(String(describing: parser.parserError))")

        request.format = .json
        guard case .figureExported(let jsonPath) = exporter(folder).write(request, style: .viridis) else { return XCTFail("not written") }
        XCTAssertTrue(jsonPath.hasSuffix("attention-pocket-teacher-L2H2-20261201-213005.json"))
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: jsonPath))) as? [String: Any])
        XCTAssertEqual(json["layer"] as? Int, 2)
        XCTAssertEqual(json["head"] as? Int, 2)
        XCTAssertEqual(json["model"] as? String, "pocket-teacher")
        let matrix = try XCTUnwrap(json["matrix"] as? [[Double]])
        // As float32, the engine's values: Foundation's JSON reader on Linux may miss the last bit of a double.
        XCTAssertEqual(matrix.flatMap { $0 }.map(Float.init), Array(try XCTUnwrap(state.analysis?.attention).matrix(layer: 1, head: 1)))
        XCTAssertEqual(json["tokens"] as? [String], state.analysis?.tokens.map(\.byteLevel))
    }

    func testANameTakenGetsANumberNothingIsOverwritten() throws {
        var state = opened([teacher], focus: .candidates)
        let folder = try temporaryFolder()
        let request = try XCTUnwrap(exportRequest(press([.function(9)], &state)))
        let writer = exporter(folder)
        let paths = (0..<3).compactMap { _ -> String? in
            if case .figureExported(let path) = writer.write(request, style: .mono) { return URL(fileURLWithPath: path).lastPathComponent }
            return nil
        }
        XCTAssertEqual(paths, ["candidates-pocket-teacher-20261201-213005.svg", "candidates-pocket-teacher-20261201-213005-2.svg",
                               "candidates-pocket-teacher-20261201-213005-3.svg"])
        let listed = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        XCTAssertEqual(listed, paths.sorted(), "no temporary file is left")
    }

    func testAFolderThatCannotBeWrittenIsAMessageNotACrash() throws {
        var state = opened([teacher], focus: .candidates)
        let request = try XCTUnwrap(exportRequest(press([.function(9)], &state)))
        // A file where the folder should be (root may write anywhere, so permissions would not test this).
        let base = try temporaryFolder()
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        let file = base.appendingPathComponent("exports")
        try Data("not a folder".utf8).write(to: file)
        guard case .figureExportFailed(let message) = exporter(file).write(request, style: .mono) else { return XCTFail("written") }
        XCTAssertTrue(message.hasPrefix("cannot write the figure: a part of"), message)
        XCTAssertTrue(message.contains("is a file, not a folder"), message)

        // A folder inside that file: mkdir fails with ENOTDIR.
        guard case .figureExportFailed(let nested) = exporter(file.appendingPathComponent("inner")).write(request, style: .mono) else {
            return XCTFail("written")
        }
        XCTAssertTrue(nested.hasPrefix("cannot write the figure: "), nested)

        _ = reduce(&state, .figureExportFailed(message))
        XCTAssertEqual(state.notice?.isError, true)
    }

    func testTooManyTokensForAHeatmapSuggestsJSONOrCSV() throws {
        let n = 300
        let tokens = (0..<n).map { TokenRow(id: $0, byteLevel: "t\($0)", readable: "t\($0)", span: 0..<0, word: nil) }
        let figure = FigureViews.heatmap(maps(layers: 1, heads: 1, n: n), model: "m", layer: 0, head: 0, values: .weights, tokens: tokens, text: "")
        let folder = try temporaryFolder()
        let request = FigureExportRequest(figure: figure, format: .png, name: "attention-m-L1H1", theme: "dark")
        guard case .figureExportFailed(let message) = exporter(folder).write(request, style: .mono) else { return XCTFail("written") }
        XCTAssertEqual(message, "cannot draw a heatmap of 300 tokens (at most 256, or the labels would not be legible); "
                       + "shorten the text, or write the numbers: W picks json or csv (or start with --export-format json)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.path), "nothing written, not even the folder")
        var json = request
        json.format = .csv
        guard case .figureExported = exporter(folder).write(json, style: .mono) else { return XCTFail("CSV has no cap") }
    }

    func testStartAnswersOnItsOwnThread() throws {
        var state = opened([teacher], focus: .candidates)
        let request = try XCTUnwrap(exportRequest(press([.function(9)], &state)))
        let done = expectation(description: "exported")
        let folder = try temporaryFolder()
        exporter(folder).start(request, style: .mono) { action in
            if case .figureExported = action { done.fulfill() }
        }
        wait(for: [done], timeout: 10)
    }

    /// A 40-token heatmap as PNG and PDF: drawn off the loop's thread anyway, but it should take well under a second.
    /// A 40-token heatmap renders in each drawn format (its time is printed; speed is measured by benchmarks, not
    /// asserted in tests).
    func testAFortyTokenHeatmapRendersInEachFormat() throws {
        let n = 40
        let tokens = (0..<n).map { TokenRow(id: $0, byteLevel: "Ġword\($0)", readable: "␣word\($0)", span: 0..<0, word: nil) }
        let figure = FigureViews.heatmap(maps(layers: 1, heads: 1, n: n), model: "m", layer: 0, head: 0, values: .weights, tokens: tokens, text: "")
        for format in [FigureFormat.svg, .png, .pdf] {
            let start = Date()
            let data = try FigureExport.render(figure, as: format, style: .viridis)
            print("40-token heatmap as \(format.rawValue): \(Int(Date().timeIntervalSince(start) * 1000)) ms")
            XCTAssertGreaterThan(data.count, 1000, format.rawValue)
        }
    }
}
