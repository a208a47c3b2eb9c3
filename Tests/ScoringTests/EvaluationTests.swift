import Foundation
import RoBERTa
import TestSupport
import XCTest
@testable import Scoring

/// Which tokens eval masks, how it reads corpora, and that shards merge into the whole.
final class EvaluationTests: XCTestCase {
    static let sentences = [
        "Paris is the capital of France.",
        "The quick brown fox jumps over the lazy dog near the river bank.",
        "Hello",
        "A dictionary defines words; an encyclopedia explains things.",
        "Python's list comprehensions build lists from other iterables.",
        "Cats sleep a lot.",
    ]

    func pocket() throws -> RobertaModel { try ScoringFixtures.model("models/pocket-teacher") }

    func testPositionsAreWordInitialSeededAndFifteenPercent() throws {
        let model = try pocket()
        let units = EvalPlan.units(Self.sentences.enumerated().map { ($0.offset, $0.element) }, tokenizer: model.tokenizer, maxTokens: model.config.maxTokens)
        XCTAssertEqual(units.count, Self.sentences.count)
        for unit in units {
            let positions = EvalPlan.positions(unit, tokenizer: model.tokenizer, mode: .one, fraction: 0.15, seed: 7)
            let wordInitial = (1..<(unit.ids.count - 1)).filter { $0 == 1 || model.tokenizer.token(of: unit.ids[$0])!.hasPrefix("Ġ") }
            XCTAssertEqual(positions.count, max(1, Int(floor(0.15 * Double(wordInitial.count) + 0.5))), unit.text)
            XCTAssertTrue(Set(positions).isSubset(of: wordInitial), unit.text)
            XCTAssertEqual(positions, positions.sorted())
            // The same unit, seed, document and window: the same positions; the mode "all" masks the same ones.
            XCTAssertEqual(EvalPlan.positions(unit, tokenizer: model.tokenizer, mode: .all, fraction: 0.15, seed: 7), positions)
            XCTAssertEqual(EvalPlan.positions(unit, tokenizer: model.tokenizer, mode: .pll, fraction: 0.15, seed: 7), Array(1..<(unit.ids.count - 1)))
        }
        // Another seed draws other positions somewhere.
        let long = units[1]
        let draws = Set((0..<20).map { EvalPlan.positions(long, tokenizer: model.tokenizer, mode: .one, fraction: 0.15, seed: UInt64($0)) })
        XCTAssertGreaterThan(draws.count, 1)
    }

    func testLongDocumentsBecomeWindows() throws {
        let model = try pocket()
        let long = Array(repeating: "The river runs to the sea and the sea is wide.", count: 30).joined(separator: " ")
        let units = EvalPlan.units([(4, long)], tokenizer: model.tokenizer, maxTokens: 20)
        XCTAssertGreaterThan(units.count, 10)
        XCTAssertTrue(units.allSatisfy { $0.ids.count <= 20 && $0.document == 4 && $0.ids.first == model.tokenizer.bosID && $0.ids.last == model.tokenizer.eosID })
        XCTAssertEqual(units.map(\.window), Array(0..<units.count))
        XCTAssertEqual(units.flatMap { $0.ids.dropFirst().dropLast() }, model.tokenizer.encode(long, addSpecialTokens: false).ids)
    }

    func testShardsMergeIntoTheWholeRun() throws {
        let teacher = try pocket(), student = try ScoringFixtures.model("models/pocket-student")
        var options = EvalOptions()
        options.seed = 3
        options.worst = 3
        let corpus = Corpus(documents: Self.sentences)
        let evaluator = Evaluator(models: [teacher, student], names: ["t", "s"], options: options)
        func run(_ shard: Int, of shards: Int) throws -> EvalReport {
            var report = EvalReport(options: options, models: ["t", "s"], compared: true)
            let documents = corpus.select(limit: nil, shard: shard, of: shards)
            report.documents = documents.count
            report.shards = ["\(shard)/\(shards)"]
            try evaluator.run(evaluator.units(documents), into: &report)
            return report
        }
        let whole = try run(1, of: 1)
        XCTAssertTrue(whole.complete)
        XCTAssertEqual(whole.models[0].sentences, Self.sentences.count)
        let merged = try EvalReport.merge([run(1, of: 2), run(2, of: 2)])
        XCTAssertEqual(merged.models.map(\.maskedTokens), whole.models.map(\.maskedTokens))
        XCTAssertEqual(merged.models.map(\.top1Hits), whole.models.map(\.top1Hits))
        for (a, b) in zip(merged.models, whole.models) {
            XCTAssertEqual(a.logLikelihoodSum, b.logLikelihoodSum, accuracy: 1e-9)
        }
        XCTAssertEqual(merged.agreement?.klSum ?? .nan, whole.agreement?.klSum ?? 0, accuracy: 1e-9)
        XCTAssertEqual(merged.worst.map(\.document), whole.worst.map(\.document))
        XCTAssertEqual(merged.documents, whole.documents)
        // A report merged with itself is refused (the same shard twice).
        let part = try run(1, of: 2)
        XCTAssertThrowsError(try EvalReport.merge([part, part]))
    }

    func testOneModelAgainstItselfAgreesPerfectly() throws {
        let teacher = try pocket()
        var options = EvalOptions()
        options.mode = .all
        let evaluator = Evaluator(models: [teacher, teacher], names: ["a", "b"], options: options)
        var report = EvalReport(options: options, models: ["a", "b"], compared: true)
        try evaluator.run(evaluator.units(Corpus(documents: Self.sentences).select(limit: nil)), into: &report)
        let agreement = try XCTUnwrap(report.agreement)
        XCTAssertEqual(agreement.top1Agreement, 1)
        XCTAssertEqual(agreement.meanKL, 0, accuracy: 1e-12)
        XCTAssertEqual(agreement.meanJS, 0, accuracy: 1e-12)
        XCTAssertEqual(agreement.meanOverlap, 1)
        XCTAssertEqual(report.models[0].logLikelihoodSum, report.models[1].logLikelihoodSum)
    }

    func testCancelledRunKeepsWhatWasMeasured() throws {
        let teacher = try pocket()
        var options = EvalOptions()
        options.batchTokens = 16
        let evaluator = Evaluator(models: [teacher], names: ["a"], options: options)
        var report = EvalReport(options: options, models: ["a"], compared: false)
        let cancellation = Cancellation()
        try evaluator.run(evaluator.units(Corpus(documents: Self.sentences).select(limit: nil)), into: &report,
                          cancellation: cancellation, progress: { done in if done >= 2 { cancellation.cancel() } })
        XCTAssertFalse(report.complete)
        XCTAssertGreaterThanOrEqual(report.models[0].sentences, 1)
        XCTAssertLessThan(report.models[0].sentences, Self.sentences.count)
    }

    func testCorpusFormats() throws {
        let lines = try Corpus(data: Data("one\n\n two \r\nthree".utf8), format: .lines, path: "c.txt")
        XCTAssertEqual(lines.documents, ["one", "two", "three"])
        XCTAssertEqual(lines.blank, 1)
        let jsonl = try Corpus(data: Data("{\"text\": \"a b\", \"id\": 1}\n\n{\"text\": \"c\"}\n".utf8), format: .jsonLines(field: "text"), path: "c.jsonl")
        XCTAssertEqual(jsonl.documents, ["a b", "c"])
        XCTAssertThrowsError(try Corpus(data: Data("{\"body\": \"x\"}\n".utf8), format: .jsonLines(field: "text"), path: "c.jsonl")) { error in
            XCTAssertEqual("\(error)", "c.jsonl: line 1: no field \"text\" (it has: body); name the text's field with --field")
        }
        XCTAssertThrowsError(try Corpus(data: Data("{\"text\": 3}\n".utf8), format: .jsonLines(field: "text"), path: "c.jsonl"))
        let csv = try Corpus(data: Data("id,text\r\n1,\"Hello, \"\"world\"\"\"\r\n2,\"two\nlines\"\n3,plain\n".utf8), format: .csv(column: "text"), path: "c.csv")
        XCTAssertEqual(csv.documents, ["Hello, \"world\"", "two\nlines", "plain"])
        XCTAssertThrowsError(try Corpus(data: Data("id,body\n1,x\n".utf8), format: .csv(column: "text"), path: "c.csv")) { error in
            XCTAssertEqual("\(error)", "c.csv: line 1: no column \"text\" in the header (\"id\", \"body\"); name one with --column")
        }
        XCTAssertThrowsError(try Corpus(data: Data("text\n\"open\n".utf8), format: .csv(column: "text"), path: "c.csv"))
        XCTAssertThrowsError(try Corpus(data: Data([0x61, 0x0A, 0xFF, 0x0A]), format: .lines, path: "bad.txt")) { error in
            XCTAssertEqual(error as? CorpusError, .invalidUTF8(path: "bad.txt", line: 2))
        }
        let corpus = Corpus(documents: ["a", "b", "c", "d", "e"])
        XCTAssertEqual(corpus.select(limit: 4, shard: 2, of: 2).map(\.index), [1, 3])
        XCTAssertEqual(corpus.select(limit: nil, shard: 1, of: 3).map(\.text), ["a", "d"])
    }
}

/// eval's per-mask measures (log-probability, rank, top 5) in modes one and all, against transformers'.
final class EvalReferenceTests: XCTestCase {
    func testMaskedMeasuresAgreeWithTransformers() throws {
        let cases = try XCTUnwrap(ScoringFixtures.reference()["eval"] as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(cases.count, 8)
        var models: [String: RobertaModel] = [:]
        var worst = 0.0, compared = 0
        for c in cases {
            let path = try XCTUnwrap(c["path"] as? String), text = try XCTUnwrap(c["text"] as? String)
            if models[path] == nil { models[path] = try ScoringFixtures.model(path) }
            let model = try XCTUnwrap(models[path])
            let ids = try model.inputIDs(for: text)
            XCTAssertEqual(ids, c["ids"] as? [Int], "\(path): ids of \(text)")
            let unit = EvalUnit(document: 0, window: 0, text: text, ids: ids)
            let positions = try XCTUnwrap(c["positions"] as? [Int])
            // The fixture masks every word-initial token: the fraction 1 picks them all.
            XCTAssertEqual(EvalPlan.positions(unit, tokenizer: model.tokenizer, mode: .one, fraction: 1, seed: 0), positions, "\(path): \(text)")
            for mode in [EvalMode.one, .all] {
                let want = try XCTUnwrap(c[mode.rawValue] as? [String: Any])
                let sequences = EvalPlan.sequences(unit, positions: positions, mode: mode, maskID: model.tokenizer.maskID)
                let logits = try model.logits(batch: sequences.map(\.ids), at: sequences.map(\.rows))
                var distributions: [LogDistribution] = []
                for (flat, rows) in zip(logits, sequences.map(\.rows)) {
                    let vocab = model.config.vocabSize
                    for r in rows.indices { distributions.append(LogDistribution(logits: flat[(r * vocab)..<((r + 1) * vocab)])) }
                }
                let evaluator = Evaluator(models: [model], names: ["m"], options: EvalOptions())
                let got = evaluator.score(unit, positions: positions, [distributions]).models[0]
                worst = max(worst, assertClose(got.logProbs, try XCTUnwrap(want["log_probs"] as? [Double]), tolerance: 1e-4, "\(path) \(mode): \(text)"))
                XCTAssertEqual(got.ranks, want["ranks"] as? [Int], "\(path) \(mode): ranks of \(text)")
                XCTAssertEqual(got.top5, want["top5"] as? [[Int]], "\(path) \(mode): top 5 of \(text)")
                compared += positions.count
            }
        }
        print("eval: \(compared) masked positions in modes one and all, largest log-probability difference from transformers \(worst)")
    }
}
