import JSONText
import Foundation
import Requests
import Scoring

/// How `maskscope eval` prints a report: a table, JSON (which `--merge` reads back) or CSV.
enum EvalOutput {
    /// A measure as JSON: null when undefined (no masked token).
    static func number(_ value: Double?) -> JSONValue {
        guard let value, value.isFinite else { return .null }
        return .number(value)
    }

    static func json(_ report: EvalReport, corpus: String?) -> JSONValue {
        var fields: [(String, JSONValue)] = []
        if let corpus { fields.append(("corpus", .string(corpus))) }
        fields += [
            ("mode", .string(report.mode.rawValue)), ("seed", .int(Int(clamping: report.seed))), ("fraction", .number(report.fraction)),
            ("documents", .int(report.documents)),
            ("models", .array(report.models.map { m in
                .object([
                    ("model", .string(m.model)), ("sentences", .int(m.sentences)), ("masked_tokens", .int(m.maskedTokens)),
                    ("top1_accuracy", number(m.top1Accuracy)), ("top5_accuracy", number(m.top5Accuracy)),
                    ("mean_log_likelihood", number(m.meanLogLikelihood)), ("pseudo_perplexity", number(m.pseudoPerplexity)),
                    ("top1_hits", .int(m.top1Hits)), ("top5_hits", .int(m.top5Hits)), ("log_likelihood_sum", .number(m.logLikelihoodSum)),
                ])
            })),
            ("agreement", report.agreement.map { a in
                .object([
                    ("teacher", .string(a.teacher)), ("student", .string(a.student)), ("masks", .int(a.masks)),
                    ("top1_agreement", number(a.top1Agreement)), ("mean_kl", number(a.meanKL)), ("mean_js", number(a.meanJS)),
                    ("top5_overlap", number(a.meanOverlap)), ("spearman", number(a.meanSpearman)),
                    ("top1_agreements", .int(a.top1Agreements)), ("kl_sum", .number(a.klSum)), ("js_sum", .number(a.jsSum)),
                    ("top5_overlap_sum", .number(a.overlapSum)), ("spearman_sum", .number(a.spearmanSum)),
                    ("spearman_count", .int(a.spearmanCount)),
                ])
            } ?? .null),
            ("worst", .array(report.worst.map { w in
                .object([
                    ("document", .int(w.document)), ("window", .int(w.window)), ("text", .string(w.text)),
                    ("mean_kl", .number(w.meanKL)), ("token", .string(w.token)), ("teacher_top", .string(w.teacherTop)),
                    ("student_top", .string(w.studentTop)), ("kl", .number(w.kl)),
                ])
            })),
            ("worst_kept", .int(report.worstKept)), ("skipped_units", .int(report.skippedUnits)),
            ("seconds", .number(report.seconds)),
            ("sentences_per_second", number(report.seconds > 0 ? Double(report.models.map(\.sentences).max() ?? 0) / report.seconds : nil)),
            ("complete", .bool(report.complete)), ("shards", .array(report.shards.map(JSONValue.string))),
        ]
        return .object(fields)
    }

    static let csvHeader = "model,sentences,masked_tokens,top1_accuracy,top5_accuracy,mean_log_likelihood,pseudo_perplexity,top1_agreement,mean_kl,mean_js,top5_overlap,spearman"

    /// One row per model; the agreement columns on the student's row (the second model).
    static func csv(_ report: EvalReport) -> String {
        func cell(_ value: Double?) -> String { value.map { $0.isFinite ? String($0) : "" } ?? "" }
        func quoted(_ text: String) -> String {
            text.contains(where: { $0 == "," || $0 == "\"" || $0.isNewline }) ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
        }
        var lines = [csvHeader]
        for (i, m) in report.models.enumerated() {
            var row = [quoted(m.model), String(m.sentences), String(m.maskedTokens), cell(m.top1Accuracy), cell(m.top5Accuracy),
                       cell(m.meanLogLikelihood), cell(m.pseudoPerplexity)]
            if i == 1, let a = report.agreement {
                row += [cell(a.top1Agreement), cell(a.meanKL), cell(a.meanJS), cell(a.meanOverlap), cell(a.meanSpearman)]
            } else {
                row += ["", "", "", "", ""]
            }
            lines.append(row.joined(separator: ","))
        }
        return lines.joined(separator: "\n")
    }

    static func percent(_ value: Double) -> String { value.isFinite ? String(format: "%.1f%%", 100 * value) : "-" }
    static func fixed(_ value: Double?, _ digits: Int) -> String {
        guard let value, value.isFinite else { return "-" }
        return String(format: "%.\(digits)f", value)
    }

    static func table(_ report: EvalReport, corpus: String?, units: Int?) -> String {
        var lines: [String] = []
        let how = switch report.mode {
        case .one: "mode one: \(percent(report.fraction)) of the word-initial tokens, each masked alone, seed \(report.seed)"
        case .all: "mode all: \(percent(report.fraction)) of the word-initial tokens, masked together, seed \(report.seed)"
        case .pll: "mode pll: every token masked in turn"
        }
        let source = corpus.map { "\($0): " } ?? "merged \(report.shards.isEmpty ? "reports" : "shards " + report.shards.joined(separator: ", ")): "
        lines.append(source + "\(report.documents) documents, \(how)")
        if !report.complete { lines.append("INTERRUPTED: the figures cover only the sentences evaluated before it stopped") }
        let nameWidth = max(16, (report.models.map(\.model.count).max() ?? 0) + 2)
        func pad(_ s: String, _ w: Int, right: Bool = true) -> String {
            s.count >= w ? s : (right ? String(repeating: " ", count: w - s.count) + s : s + String(repeating: " ", count: w - s.count))
        }
        let ppl = report.mode == .pll ? "pseudo-ppl" : "exp(-mean)"
        lines.append(pad("model", nameWidth, right: false) + pad("sentences", 10) + pad("masked", 9) + pad("top-1", 8) + pad("top-5", 8)
                     + pad("mean log-lik", 14) + pad(ppl, 12))
        for m in report.models {
            lines.append(pad(m.model, nameWidth, right: false) + pad(String(m.sentences), 10) + pad(String(m.maskedTokens), 9)
                         + pad(percent(m.top1Accuracy), 8) + pad(percent(m.top5Accuracy), 8)
                         + pad(fixed(m.meanLogLikelihood, 4), 14) + pad(fixed(m.pseudoPerplexity, 2), 12))
        }
        if let a = report.agreement {
            lines.append("")
            lines.append("agreement, \(a.student) against \(a.teacher) at \(a.masks) masks (whole vocabulary, natural logs):")
            lines.append("  top-1 agreement \(percent(a.top1Agreement))   mean KL \(fixed(a.meanKL, 4))   mean JS \(fixed(a.meanJS, 4))   "
                         + "top-5 overlap \(percent(a.meanOverlap))   Spearman \(fixed(a.meanSpearman, 3))")
            if !report.worst.isEmpty {
                lines.append("")
                lines.append("where they part most (mean KL over the sentence's masks; at its worst mask: the word, teacher's and student's first choice):")
                for w in report.worst {
                    let text = w.text.count > 60 ? String(w.text.prefix(59)) + "…" : w.text
                    lines.append("  \(fixed(w.meanKL, 3))  doc \(w.document)\(w.window > 0 ? "." + String(w.window) : "")  \"\(text)\"")
                    lines.append("         at \"\(w.token)\": teacher \"\(w.teacherTop)\", student \"\(w.studentTop)\" (KL \(fixed(w.kl, 3)))")
                }
            }
        }
        lines.append("")
        let sentences = report.models.map(\.sentences).max() ?? 0
        let masked = report.models.map(\.maskedTokens).max() ?? 0
        var timing = "\(fixed(report.seconds, 2)) s"
        if report.seconds > 0 {
            timing += ", \(fixed(Double(sentences) / report.seconds, 1)) sentences/s, \(fixed(Double(masked) / report.seconds, 1)) masked tokens/s"
        }
        if report.models.count == 2 { timing += " (both models)" }
        if report.skippedUnits > 0 { timing += "; \(report.skippedUnits) sentences had no word to mask" }
        if let units, units > report.documents { timing += "; long documents cut into \(units) windows" }
        lines.append(timing)
        return lines.joined(separator: "\n")
    }
}
