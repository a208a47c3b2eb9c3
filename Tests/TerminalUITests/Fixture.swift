import XCTest
import Foundation
@testable import RoBERTa
import Tokenizer
@testable import TerminalUI
@testable import Workbench

/// States for snapshots: real tokens and merges from the tiny fixture's tokenizer, but candidates and
/// attention made up, so every digit on screen is the same on every machine.
enum Fixture {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let model = Result { try RobertaModel.load(directory: repoRoot.appendingPathComponent("Tests/Fixtures/models/tiny")) }
    static let themesDirectory = repoRoot.appendingPathComponent("themes")
    static let mono = Theme.loadAll(from: themesDirectory).themes.first { $0.name == "mono" } ?? Theme.monochromeFallback

    static let tiny = ModelInfo(name: "tiny", path: "Tests/Fixtures/models/tiny", layers: 2, heads: 4, maxTokens: 512)
    static let untied = ModelInfo(name: "tiny-untied", path: "Tests/Fixtures/models/tiny-untied", layers: 3, heads: 4, maxTokens: 512)

    static let words = [" capital", " city", " heart", " center", " pride", " home", " soul", " jewel"]

    /// Tokens and merges as the tokenizer makes them; candidates and attention from simple formulas.
    static func analysis(_ text: String, layers: Int = 2, heads: Int = 4, seed: Int = 0, topK: Int = 5, maskLogits: Bool = false) throws -> Analysis {
        let tokenizer = try model.get().tokenizer
        let encoding = tokenizer.encode(text, trace: true)
        var wordOf = [Int?](repeating: nil, count: encoding.count)
        var next = 0
        for (w, word) in encoding.words.enumerated() {
            for _ in word.tokens {
                while next < encoding.count, encoding.specialTokensMask[next] == 1 { next += 1 }
                if next < encoding.count { wordOf[next] = w; next += 1 }
            }
        }
        let tokens = encoding.ids.indices.map {
            TokenRow(id: encoding.ids[$0], byteLevel: encoding.tokens[$0], readable: visibleWhitespace(tokenizer.decode([encoding.ids[$0]])),
                     span: encoding.offsets[$0], word: wordOf[$0])
        }
        let n = tokens.count
        var masks: [MaskRow] = []
        for (i, token) in tokens.enumerated() where token.id == tokenizer.maskID {
            let span = token.word.map { encoding.words[$0].range } ?? token.span
            // The second model (seed 1) ranks the same words in another order, so compare has moves to show.
            let order = seed == 0 ? [0, 1, 2, 3, 4, 5, 6, 7] : [1, 0, 2, 5, 3, 7, 4, 6]
            let candidates = (0..<topK).map { r in
                let w = (order[r % order.count] + masks.count) % words.count
                return CandidateRow(id: 300 + w, text: words[w], probability: Float(0.6) / Float(r + 1 + seed) / Float(masks.count + 1))
            }
            masks.append(MaskRow(position: i, span: span, candidates: candidates))
        }
        var values = [Float](repeating: 0, count: layers * heads * n * n)
        for l in 0..<layers {
            for h in 0..<heads {
                for q in 0..<n {
                    // Each head looks at a fixed offset from the query, with some spread.
                    var row = (0..<n).map { k -> Float in
                        let target = (q + h - 1 + l + n) % n
                        return 1 / Float(1 + 3 * abs(k - target)) + (k == 0 ? 0.3 : 0)
                    }
                    let sum = row.reduce(0, +)
                    row = row.map { $0 / sum }
                    for k in 0..<n { values[((l * heads + h) * n + q) * n + k] = row[k] }
                }
            }
        }
        // Logits over the tiny vocabulary: the listed candidates stand out, in their order, from a flat rest.
        let logits = masks.map { mask -> [Float] in
            var row = [Float](repeating: 0, count: tokenizer.vocabSize)
            for c in mask.candidates { row[c.id] = 6 + Float(log(Double(c.probability))) }
            return row
        }
        return Analysis(text: text, tokens: tokens, words: encoding.words, masks: masks,
                        attention: AttentionMaps(layers: layers, heads: heads, tokens: n, values: values), latency: 0.0042,
                        maskLogits: maskLogits ? logits : nil)
    }

    /// A made-up pseudo-log-likelihood of `text` under model `model`: real tokens, fixed numbers; the second
    /// model gives the fourth token much less and the second a little more, so the strip has differences to show.
    static func score(_ text: String, model: Int) throws -> ModelScore {
        let tokenizer = try self.model.get().tokenizer
        let ids = Array(tokenizer.encode(text).ids.dropFirst().dropLast())
        var logProbs = ids.indices.map { -(1.0 + Double(($0 * 5 + 2) % 7) * 0.6) }
        if model > 0 {
            if logProbs.count > 3 { logProbs[3] -= 2.1 }
            if logProbs.count > 1 { logProbs[1] += 0.9 }
        }
        let pll = logProbs.reduce(0, +)
        return ModelScore(byteLevel: ids.map { tokenizer.token(of: $0) ?? "" }, tokens: ids.map { visibleWhitespace(tokenizer.decode([$0])) },
                          logProbs: logProbs, pll: pll, pseudoPerplexity: exp(-pll / Double(max(1, logProbs.count))))
    }

    /// Does the work `effects` ask for as the program would, at once, until nothing is left: inference from
    /// `analysis`, comparisons over the tiny vocabulary (the same for both models), scorings from `score`.
    static func settle(_ effects: [Effect], _ state: inout WorkbenchState) throws {
        var queue = effects
        while !queue.isEmpty {
            let effect = queue.removeFirst()
            switch effect {
            case .runInference(let request):
                let info = state.models[request.model]
                var result = try analysis(request.text, layers: info.layers, heads: info.heads, seed: request.model, topK: request.topK,
                                          maskLogits: request.maskLogits)
                inside(&result, request)
                queue += reduce(&state, .inferenceFinished(id: request.id, model: request.model, analysis: result))
            case .compareDistributions(let request):
                queue += reduce(&state, .comparisonFinished(ComparisonResult(request, pair: try pair.get())))
            case .measureImportance(let request):
                // Made up: head 2 of the last layer matters most, a few help a rival (positive).
                let info = state.models[request.model]
                var deltas: [[Double]] = []
                for l in 0..<info.layers {
                    var row: [Double] = []
                    for h in 0..<info.heads {
                        let rival: Double = h == 3 ? 0.4 : 0
                        row.append(l == info.layers - 1 && h == 1 ? -2.5 : -0.3 * Double((l * 7 + h * 3) % 5) + rival)
                    }
                    deltas.append(row)
                }
                queue += reduce(&state, .importanceProgress(id: request.id, layersDone: 1))
                queue += reduce(&state, .importanceFinished(id: request.id, result: ImportanceResult(position: 4, token: " capital", deltas: deltas)))
            case .scoreSentence(let request):
                queue += reduce(&state, .scoreFinished(id: request.id, model: request.model, score: try score(request.text, model: request.model)))
            default: break
            }
        }
    }

    /// What `analyse` adds to a run as the request asks: the knocked-out heads (the made-up candidates stay the
    /// same), the head statistics of the made-up attention, made-up norms (the weights times 1, 2 or 3 by key), the rollout.
    static func inside(_ result: inout Analysis, _ request: InferenceRequest) {
        result.knockout = request.knockout
        guard let maps = result.attention else { return }
        if request.lens {
            // Layer by layer the first candidate climbs from far down to the top, and the layer's own guesses change.
            result.lens = result.masks.map { mask in
                let top = mask.candidates[0]
                let rows = (0...maps.layers).map { l -> LensLayer in
                    let share = Float(l + 1) / Float(maps.layers + 1)
                    let guesses = (0..<min(3, request.topK)).map { r -> LensCandidate in
                        let w = l == maps.layers ? (top.id - 300 + r) % words.count : (l + 3 + r) % words.count
                        return LensCandidate(token: 300 + w, tokenStr: words[w], score: 0.5 * share / Float(r + 1))
                    }
                    return LensLayer(candidates: guesses, finalTopRank: l == maps.layers ? 1 : 40 >> l, finalTopScore: 0.5 * share * share)
                }
                return MaskLens(position: mask.position, layers: rows)
            }
        }
        result.headStats = try? model.get().headStatistics(maps, ids: result.tokens.map(\.id))
        switch request.values {
        case .weights: break
        case .norms:
            let n = maps.tokens
            result.norms = AttentionMaps(layers: maps.layers, heads: maps.heads, tokens: n,
                                         values: maps.values.enumerated().map { $0.element * Float(1 + ($0.offset % n) % 3) })
        case .rollout: result.rollout = attentionRollout(maps)
        }
    }

    static let pair = Result { () -> VocabularyPair in
        let tiny = try model.get()
        return VocabularyPair(teacher: tiny, student: tiny)
    }

    /// A state with `text` analysed and shown for the first model.
    static func state(_ text: String = "Paris is the <mask> of France.", models: [ModelInfo] = [tiny], focus: Pane = .editor,
                      topK: Int = 5) throws -> WorkbenchState {
        var state = WorkbenchState(models: models, text: text, themes: ["mono"], theme: "mono")
        state.topK = topK
        try settle(reduce(&state, .opened), &state)
        state.focus = focus
        return state
    }
}

extension XCTestCase {
    /// The lines of the whole screen for `state`, rendered in the mono theme.
    func screen(_ state: WorkbenchState, _ width: Int = 80, _ height: Int = 24) -> [String] {
        Screen.render(state, theme: Fixture.mono, width: width, height: height).lines
    }
}
