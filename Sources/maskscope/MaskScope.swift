import ArgumentParser
import Foundation
import ModelStore
import RoBERTa

/// The `maskscope` command: fill-mask inference and a look inside RoBERTa models.
@main
struct MaskScope: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "maskscope",
        abstract: "Look inside RoBERTa masked language models: fill-mask, tokens, BPE merges, attention, the logit lens, scores and teacher-vs-student evaluation; figures out, and fill-mask served over HTTP.",
        version: "0.1.0",
        subcommands: [WorkbenchCommand.self, Predict.self, Score.self, Eval.self, Tokenize.self, Inspect.self, Export.self, Bench.self, Serve.self, Models.self, Pull.self],
        defaultSubcommand: WorkbenchCommand.self)

    /// ArgumentParser's `main`, with the errors of a run put into words first (`MessageText.line`): Foundation and
    /// system errors as what happened, long inputs shortened.
    static func main() {
        StandardStreams.occupyClosedDescriptors()
        do {
            var command = try parseAsRoot()
            // A panel cache file that a model started writing would be lost with the process.
            defer { RobertaModel.waitForPanelCaches() }
            do {
                try command.run()
            } catch let error where String(reflecting: type(of: error)).hasPrefix("ArgumentParser.") {
                // ArgumentParser's own (usage errors, exit codes, and `--help`, which its help command throws).
                throw error
            } catch {
                throw CommandFailure(MessageText.line(for: error))
            }
        } catch {
            exit(withError: error)
        }
    }
}

/// Options every command that loads a model shares.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("roberta-base, roberta-large, distilroberta-base or ORG/NAME from the Hugging Face cache (see `maskscope models`), pocket-teacher, pocket-student, or a model directory (config.json, vocab.json, merges.txt, model.safetensors). Default: the first model in the cache, else pocket-teacher.", valueName: "name|dir"))
    var model: String?

    @Option(name: .long, help: ArgumentHelp("Threads for the matrix work (default: one per core; at most twice the cores, more are lowered to that with a warning).", valueName: "n"))
    var threads: Int?

    @Option(name: .long, help: RobertaModel.Precision.help)
    var precision: RobertaModel.Precision = .auto

    func validate() throws {
        if let threads { try OptionBounds.check(threads, 1...Int.max, option: "--threads") }
    }

    /// Loads the named model (a name resolves through the hub cache) or, with no --model, the first that the
    /// startup policy opens.
    func load() throws -> (model: RobertaModel, name: String) {
        let threads = OptionBounds.threads(threads)
        return try openModel(model) { [precision] in try RobertaModel.load(directory: $0.directory, threads: threads, precision: precision) }
    }
}

/// Opens what --model names (a directory, or a name resolved through the hub cache or to a pocket model)
/// with `load`, or with no --model the first model the startup policy opens (the first cached one, else
/// pocket-teacher). Fallbacks, skipped models and the use of a pocket model are `warning:` lines on stderr.
func openModel<Model>(_ name: String?, load: (ResolvedModel) throws -> Model) throws -> (model: Model, name: String) {
    guard let name else {
        let selection = try StartupPolicy().open(limit: 1, load: load)
        for message in selection.warnings { warn(message) }
        for note in selection.first.resolved.notes { warn(note) }
        return (selection.first.model, selection.first.resolved.name)
    }
    let resolved = try ModelResolver().resolve(name)
    for note in resolved.notes { warn(note) }
    return (try load(resolved), name)
}

/// `--precision auto|f32|bf16|f16` (every command that loads a model); a bad value is a usage error naming these.
extension RobertaModel.Precision: ExpressibleByArgument {
    static let help = ArgumentHelp(
        "Weight matrices: auto (as the checkpoint stores them: float32 stays float32, the default), f32 (all widened to float32), or bf16 / f16: rounded once at load to 16 bits (half the memory and bytes to stream, scores move by ~1e-3..1e-2; needs the AVX2 kernels).",
        valueName: "auto|f32|bf16|f16")
}

extension WeightsSummary {
    /// The matrices' format in lower case ("f32", "bf16", "f16"; "bf16/f32" when mixed): the JSON "precision".
    var precisionName: String { matrixDType.lowercased() }
}
