import ArgumentParser
import Foundation
import ModelStore
import RoBERTa

/// The `maskscope` command: fill-mask inference and a look inside RoBERTa models.
@main
struct MaskScope: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "maskscope",
        abstract: "Look inside RoBERTa masked language models: fill-mask, tokens, BPE merges, attention, the logit lens, scores and teacher-vs-student evaluation.",
        version: "0.1.0",
        subcommands: [WorkbenchCommand.self, Predict.self, Score.self, Eval.self, Tokenize.self, Inspect.self, Export.self, Bench.self, Serve.self, Models.self, Pull.self],
        defaultSubcommand: WorkbenchCommand.self)

    /// ArgumentParser's `main`, with the errors of a run put into words first (`MessageText.line`): Foundation and
    /// system errors as what happened, long inputs shortened.
    static func main() {
        StandardStreams.occupyClosedDescriptors()
        do {
            var command = try parseAsRoot()
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

    func validate() throws {
        if let threads { try OptionBounds.check(threads, 1...Int.max, option: "--threads") }
    }

    /// Loads the named model (a name resolves through the hub cache) or, with no --model, the first that the
    /// startup policy opens.
    func load() throws -> (model: RobertaModel, name: String) {
        let threads = OptionBounds.threads(threads)
        return try openModel(model) { try RobertaModel.load(directory: $0.directory, threads: threads) }
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
