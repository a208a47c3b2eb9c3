import Foundation
import RoBERTa

/// Which teacher layers a distilled model's layers were initialised from, as its directory says:
/// config.json (a key naming both "teacher" and "layer" with a list of integers) or the model card
/// (README.md: "layers [0, 2, 5] of the teacher", "teacher layers 0, 2 and 5", …). The numbers are kept as
/// written; `LensAlignment` decides whether they count from 0 or 1.
public struct LayerOrigin: Equatable, Sendable {
    public var layers: [Int]
    /// Where it was read: "config.json" or "model card".
    public var source: String

    public init(layers: [Int], source: String) {
        self.layers = layers
        self.source = source
    }

    /// Reads `directory`'s config.json, then its README.md; nil when neither says.
    public static func read(directory: String) -> LayerOrigin? {
        let url = URL(fileURLWithPath: directory)
        if let data = try? Data(contentsOf: url.appendingPathComponent("config.json")),
           let layers = fromConfig(data) {
            return LayerOrigin(layers: layers, source: "config.json")
        }
        if let data = try? Data(contentsOf: url.appendingPathComponent("README.md")),
           let text = String(data: data, encoding: .utf8), let layers = fromModelCard(text) {
            return LayerOrigin(layers: layers, source: "model card")
        }
        return nil
    }

    /// The first top-level key whose name holds "teacher" and "layer" with a list of integers as its value.
    public static func fromConfig(_ data: Data) -> [Int]? {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        for key in object.keys.sorted() {
            let name = key.lowercased()
            guard name.contains("teacher"), name.contains("layer"), let list = object[key] as? [Any], !list.isEmpty else { continue }
            let numbers = list.compactMap { value -> Int? in
                if let n = value as? Int { return n }
                if let d = value as? Double, d == d.rounded() { return Int(d) }
                return nil
            }
            if numbers.count == list.count { return numbers }
        }
        return nil
    }

    /// In a sentence (or line) that mentions the teacher, a list of two or more integers right after "layer(s)"
    /// ("layers [0, 2, 5]", "layers 0, 2 and 5", "layers: 0,2,5"); with several lists, the one next to "teacher".
    public static func fromModelCard(_ text: String) -> [Int]? {
        let list = #"layers?\s*(?:of|from|=|:|are|were|is)?\s*[\[(]?\s*(\d+(?:\s*(?:,|and|&|;|,\s*and)\s*\d+)+)\s*[\])]?"#
        guard let regex = try? NSRegularExpression(pattern: list, options: [.caseInsensitive]) else { return nil }
        let sentences = text.components(separatedBy: "\n").flatMap { $0.components(separatedBy: ". ") }
        for sentence in sentences where sentence.range(of: "teacher", options: .caseInsensitive) != nil
            && sentence.range(of: "layer", options: .caseInsensitive) != nil {
            let ns = sentence as NSString
            let matches = regex.matches(in: sentence, range: NSRange(location: 0, length: ns.length))
            guard !matches.isEmpty else { continue }
            func before(_ m: NSTextCheckingResult) -> String {
                ns.substring(with: NSRange(location: max(0, m.range.location - 16), length: min(16, m.range.location))).lowercased()
            }
            func after(_ m: NSTextCheckingResult) -> String {
                let start = m.range.location + m.range.length
                return ns.substring(with: NSRange(location: start, length: min(24, ns.length - start))).lowercased()
            }
            // "teacher layers 0, 2, 5" first, then "layers 0, 2, 5 of the teacher" (not "student layers 1, 2, 3 from …").
            let chosen = matches.first { before($0).contains("teacher") }
                ?? matches.first { after($0).contains("teacher") && !before($0).contains("student") }
                ?? (matches.count == 1 ? matches[0] : nil)
            guard let chosen else { continue }
            let numbers = ns.substring(with: chosen.range(at: 1))
                .components(separatedBy: CharacterSet.decimalDigits.inverted).compactMap { Int($0) }
            if numbers.count >= 2 { return numbers }
        }
        return nil
    }
}

/// The logit lens of two models side by side with their depths matched: the deeper model (the teacher) shows
/// every row, and each row of the shallower one (the student) stands beside the teacher row it was
/// initialised from, when its config or model card says so, else the one at the same relative depth.
public struct LensAlignment: Equatable, Sendable {
    /// Model indices: the deeper model and the shallower one (with equal depths, the active model is the "teacher").
    public var teacher: Int
    public var student: Int
    /// For each of the student's lens rows (0 the embeddings, i + 1 after layer i), the teacher's lens row beside it.
    public var rows: [Int]
    /// Where the pairing comes from ("model card", "config.json"); nil when by relative depth.
    public var source: String?
    /// What the screen says about the pairing.
    public var description: String

    /// Student layer i of S (0-based) beside teacher layer round((i + 1) T / S) - 1; embeddings beside embeddings.
    public static func relativeDepth(student s: Int, teacher t: Int) -> [Int] {
        guard s > 0 else { return [0] }
        return [0] + (0..<s).map { i in max(1, min(t, Int((Double((i + 1) * t) / Double(s)).rounded()))) }
    }

    /// The teacher layers (0-based) `origin` names for a student of `s` layers under a teacher of `t`, or nil when it
    /// cannot be right (another count, out of range, not increasing). Numbers count from 0 (as Python lists do),
    /// unless there is no 0 and the largest is t, which only counting from 1 allows.
    public static func teacherLayers(_ origin: LayerOrigin, student s: Int, teacher t: Int) -> [Int]? {
        var layers = origin.layers
        guard layers.count == s, s > 0 else { return nil }
        if !layers.contains(0), layers.max() == t { layers = layers.map { $0 - 1 } }
        guard layers.allSatisfy({ (0..<t).contains($0) }), zip(layers, layers.dropFirst()).allSatisfy({ $0 < $1 }) else { return nil }
        return layers
    }

    public init(teacher: Int, teacherInfo: ModelInfo, student: Int, studentInfo: ModelInfo) {
        self.teacher = teacher
        self.student = student
        if let origin = studentInfo.layerOrigin,
           let layers = Self.teacherLayers(origin, student: studentInfo.layers, teacher: teacherInfo.layers) {
            rows = [0] + layers.map { $0 + 1 }
            source = origin.source
            description = "student layers from teacher layers " + layers.map { String($0 + 1) }.joined(separator: ", ") + " (\(origin.source))"
        } else {
            rows = Self.relativeDepth(student: studentInfo.layers, teacher: teacherInfo.layers)
            source = nil
            description = "aligned by relative depth"
        }
    }

    /// The lens row of `model` (the teacher or the student) to show beside the teacher's row `row`, if any.
    public func row(of model: Int, beside row: Int) -> Int? {
        model == teacher ? row : rows.firstIndex(of: row)
    }
}

extension WorkbenchState {
    /// How the lens rows of the compared models line up (compare mode only).
    public var lensAlignment: LensAlignment? {
        guard let other = comparedModel, models.indices.contains(activeModel), models.indices.contains(other) else { return nil }
        let a = models[activeModel], b = models[other]
        return b.layers > a.layers ? LensAlignment(teacher: other, teacherInfo: b, student: activeModel, studentInfo: a)
            : LensAlignment(teacher: activeModel, teacherInfo: a, student: other, studentInfo: b)
    }
}

/// What the attention overview can be coloured by instead of the heads' maps: one statistic per head (S cycles).
public enum HeadStatistic: String, CaseIterable, Codable, Sendable {
    case entropy, toBOS, toEOS, toPrev, toSelf, toNext, toPunct

    /// What the title says.
    public var title: String {
        switch self {
        case .entropy: return "entropy/max"
        case .toBOS: return "to <s>"
        case .toEOS: return "to </s>"
        case .toPrev: return "to prev"
        case .toSelf: return "to self"
        case .toNext: return "to next"
        case .toPunct: return "to punct"
        }
    }

    /// The value in 0…1 for one head (the entropy over its largest possible value); nil for punctuation when the text has none.
    public func value(_ s: HeadStatistics) -> Double? {
        switch self {
        case .entropy: return s.entropyMax > 0 ? s.entropy / s.entropyMax : 0
        case .toBOS: return s.toBOS
        case .toEOS: return s.toEOS
        case .toPrev: return s.toPrev
        case .toSelf: return s.toSelf
        case .toNext: return s.toNext
        case .toPunct: return s.toPunct
        }
    }

    /// The cycle maps → entropy/max → to <s> → … → to punct → maps.
    public static func after(_ current: HeadStatistic?) -> HeadStatistic? {
        guard let current else { return allCases.first }
        let i = allCases.firstIndex(of: current) ?? 0
        return i + 1 < allCases.count ? allCases[i + 1] : nil
    }
}
