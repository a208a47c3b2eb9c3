import ArgumentParser
import Foundation
import ModelStore
import RoBERTa

/// The `maskscope` command: fill-mask inference and a look inside RoBERTa models.
@main
struct MaskScope: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "maskscope",
        abstract: "Look inside RoBERTa masked language models: fill-mask, tokens, BPE merges, attention.",
        version: "0.1.0",
        subcommands: [WorkbenchCommand.self, Predict.self, Tokenize.self, Inspect.self, Bench.self, Models.self, Pull.self],
        defaultSubcommand: WorkbenchCommand.self)
}

/// Options every command that loads a model shares.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("roberta-base, roberta-large, distilroberta-base or ORG/NAME from the Hugging Face cache (see `maskscope models`), or a model directory (config.json, vocab.json, merges.txt, model.safetensors).", valueName: "name|dir"))
    var model: String

    @Option(name: .long, help: ArgumentHelp("Threads for the matrix work (default: one per core).", valueName: "n"))
    var threads: Int?


    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1 (got \(threads))") }
    }

    /// Resolves the name or directory (through the hub cache) and loads the model with the requested thread count.
    func load() throws -> RobertaModel {
        let resolved = try ModelResolver().resolve(model)
        for note in resolved.notes { warn(note) }
        return try RobertaModel.load(directory: resolved.directory, threads: threads)
    }
}

/// Writes a line to standard error.
func warn(_ message: String) {
    FileHandle.standardError.write(Data(("warning: " + message + "\n").utf8))
}

/// Writes a line to standard output.
func emit(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
