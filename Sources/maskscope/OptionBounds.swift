import ArgumentParser
import Foundation
import RoBERTa

/// The bounds of the numeric options, checked in `validate()` so that a value outside them is a usage error
/// (exit 64) naming the option, the bounds and the value.
enum OptionBounds {
    /// Throws unless `value` lies in `range`.
    static func check(_ value: Int, _ range: ClosedRange<Int>, option: String) throws {
        guard !range.contains(value) else { return }
        throw ValidationError(range.upperBound == Int.max
            ? "\(option) must be at least \(range.lowerBound) (got \(value))"
            : "\(option) must be between \(range.lowerBound) and \(range.upperBound) (got \(value))")
    }

    /// Throws unless `value` is a finite number in `range`; `unit` follows the bounds ("milliseconds").
    static func check(_ value: Double, _ range: ClosedRange<Double>, option: String, unit: String) throws {
        guard value.isFinite, range.contains(value) else {
            throw ValidationError("\(option) must be between \(shown(range.lowerBound)) and \(shown(range.upperBound)) \(unit) (got \(shown(value)))")
        }
    }

    /// A number as the user would write it: 5, 2.5, inf, nan.
    static func shown(_ value: Double) -> String {
        value.isFinite && value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }

    /// How many threads per core --threads may ask for. Our worker threads spin while a forward pass runs, so
    /// threads beyond the cores only wait for one another: on this project's 2-core machine the tiny model's
    /// median call took 12 ms with 2 threads, 24 with 4, 52 with 8 and 68 with 16. Twice the cores still lets
    /// one measure that; 256 threads kept both cores busy for minutes.
    static let threadsPerCore = 2

    /// --threads as the engine gets it: nil (one per core) as it is, a value above `threadsPerCore` times the
    /// cores lowered to that with a warning on standard error. Values below 1 are refused by `validate()`.
    static func threads(_ requested: Int?) -> Int? {
        guard let requested else { return nil }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let cap = threadsPerCore * cores
        guard requested > cap else { return requested }
        warn("--threads \(requested) is more than twice the \(cores) cores here; using \(cap) (threads beyond the cores only wait for one another)")
        return cap
    }

    /// Throws unless `topK` (named `source` in the message: "--top-k", "parameters.top_k") is at most the size of the
    /// model's vocabulary: there are no more candidates than that (transformers' pipeline fails there too).
    static func checkTopK(_ topK: Int, source: String, model: RobertaModel) throws {
        let vocabulary = model.config.vocabSize
        guard topK > vocabulary else { return }
        throw CommandFailure("\(source) \(topK) is more than the \(vocabulary) tokens of the model's vocabulary; ask for at most \(vocabulary)")
    }
}
