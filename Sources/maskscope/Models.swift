import JSONText
import ArgumentParser
import Foundation
import Requests
import ModelStore

/// `maskscope models`: the models in the Hugging Face cache, and the known ones that can be pulled.
struct Models: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the models in the Hugging Face cache and the known ones not downloaded yet.",
        discussion: """
            The cache is HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub, as transformers uses it.
            Any listed name works as --model NAME. With no model in the cache, the pocket models (pocket-teacher,
            pocket-student: small models trained in this repository, not RoBERTa) open instead; they are listed
            last. With --json prints {"cache", "models": [...], "pocket": [paths]}.
            """)

    @Flag(help: "Print one JSON object.")
    var json = false

    func run() throws {
        let cache = HubCache.locate()
        let catalog = ModelCatalog(cache: cache)
        let entries = catalog.entries()
        // The pocket models that are there (a directory, complete or not), teacher first.
        let pocket = StartupPolicy(catalog: catalog).pocketModels().filter { FileManager.default.fileExists(atPath: $0.directory.path) }
            .map { ModelCatalog.entry(forDirectory: $0.directory, name: $0.name) }
        if json {
            emit(modelsJSON(cache: cache, entries: entries, pocket: pocket).serialized())
            return
        }
        for line in modelsTable(cache: cache, entries: entries, pocket: pocket) { emit(line) }
    }
}

/// The readable listing: present models, then the ones a pull would fetch.
func modelsTable(cache: HubCache, entries: [ModelEntry], pocket: [ModelEntry]) -> [String] {
    var lines = ["Hugging Face cache: \(cache.root.path)" + (FileManager.default.fileExists(atPath: cache.root.path) ? "" : " (does not exist yet)")]
    let header = pad("NAME", 30) + pad("SIZE", 10) + pad("DTYPE", 7) + pad("LAYERS", 8) + pad("HIDDEN", 8)
    let present = entries.filter(\.present)
    let absent = entries.filter { !$0.present }
    func row(_ e: ModelEntry, last: String) -> String {
        pad(e.name, 30) + pad(e.sizeBytes.map { (e.present ? "" : "~") + formatBytes($0) } ?? "?", 10)
            + pad(e.dtypes.isEmpty ? "?" : e.dtypes.joined(separator: "/"), 7)
            + pad(e.layers.map(String.init) ?? "?", 8) + pad(e.hiddenSize.map(String.init) ?? "?", 8) + last
    }
    func rows(_ e: ModelEntry, last: String) -> [String] {
        [row(e, last: last)] + e.notes.map { "    note: \(MessageText.readable($0))" }
    }
    lines.append("")
    if present.isEmpty {
        lines.append("No model in the cache yet.")
    } else {
        lines.append(header + "PATH")
        for e in present {
            lines += rows(e, last: e.directory?.path ?? "")
        }
    }
    if !absent.isEmpty {
        lines.append("")
        lines.append("Not downloaded yet:")
        lines.append(header + "GET IT WITH")
        for e in absent {
            lines += rows(e, last: e.pullCommand ?? "")
        }
    }
    lines.append("")
    if pocket.isEmpty {
        lines.append("No pocket models found (\(PocketModels.environmentKey) names the folder that holds pocket-teacher/ and pocket-student/).")
    } else {
        lines.append("Pocket models (small, trained in this repository, not RoBERTa; opened when the cache has no model):")
        lines.append(header + "PATH")
        for e in pocket {
            lines += rows(e, last: e.directory?.path ?? "")
        }
    }
    lines.append("")
    lines.append("Fetch the real models with: \(KnownModels.pullAllCommand)")
    return lines
}

func modelsJSON(cache: HubCache, entries: [ModelEntry], pocket: [ModelEntry]) -> JSONValue {
    func optional(_ s: String?) -> JSONValue { s.map { .string($0) } ?? .null }
    func optional(_ n: Int?) -> JSONValue { n.map { .int($0) } ?? .null }
    let models = entries.map { e in
        JSONValue.object([
            ("name", .string(e.name)), ("repo_id", optional(e.repoID)), ("present", .bool(e.present)),
            ("loadable", .bool(e.loadable)), ("path", optional(e.directory?.path)), ("revision", optional(e.revision)),
            ("size_bytes", optional(e.sizeBytes.map { Int($0) })), ("dtype", .array(e.dtypes.map { .string($0) })),
            ("model_type", optional(e.modelType)), ("layers", optional(e.layers)), ("hidden_size", optional(e.hiddenSize)),
            ("pull_command", optional(e.pullCommand)), ("notes", .array(e.notes.map { .string(MessageText.readable($0)) })),
        ])
    }
    return .object([("cache", .string(cache.root.path)), ("models", .array(models)),
                    ("pocket", .array(pocket.compactMap { $0.directory.map { .string($0.path) } }))])
}
