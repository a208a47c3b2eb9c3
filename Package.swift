// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "MaskScope",
    products: [
        .executable(name: "maskscope", targets: ["maskscope"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // Only the Server target uses these (issue #12); Hummingbird depends on swift-service-lifecycle, swift-http-types and swift-nio anyway.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        // C shims: one header each. Only RoBERTa imports COpenBLAS; only CursesBackend imports CNcursesw.
        .systemLibrary(
            name: "COpenBLAS", path: "Sources/COpenBLAS",
            pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CCairo", path: "Sources/CCairo",
            pkgConfig: "cairo", providers: [.apt(["libcairo2-dev"])]),
        .systemLibrary(
            name: "CNcursesw", path: "Sources/CNcursesw",
            pkgConfig: "ncursesw", providers: [.apt(["libncursesw5-dev"])]),

        // Engine: pure Swift tokenizer, then the model. CKernels holds the AVX2/FMA kernels for
        // few-row matrix products (see ARCHITECTURE.md: why not only OpenBLAS).
        .target(name: "Tokenizer"),
        .target(name: "CKernels"),
        // CMapGuard turns a SIGBUS from a model file truncated under a forward pass into an error (MappedFile.swift).
        .target(name: "CMapGuard"),
        .target(name: "RoBERTa", dependencies: ["Tokenizer", "COpenBLAS", "CKernels", "CMapGuard"]),

        // Writing a file whole or not at all (temporary file, fsync, rename); Foundation only.
        .target(name: "FileSupport"),
        // JSON written exactly as Python's json.dumps writes it (", " and ": ", repr floats): every answer and data
        // file. Foundation only.
        .target(name: "JSONText"),
        // The fill-mask request (the endpoint's JSON) parsed and checked, and its answer; for predict and serve.
        .target(name: "Requests", dependencies: ["RoBERTa", "JSONText"]),
        // Measures over the engine's distributions: pseudo-log-likelihood, teacher-vs-student divergences, the
        // corpus evaluation behind `maskscope eval`. No UI.
        .target(name: "Scoring", dependencies: ["RoBERTa", "Tokenizer"]),

        // Figures (issue #13): views drawn as SVG/PDF/PNG through cairo, HTML, JSON and CSV. Takes view data
        // (plain values), never a model or a terminal. Only Figures imports CCairo.
        .target(name: "Figures", dependencies: ["CCairo", "JSONText"]),

        // The HTTP endpoint (issue #12): routes, auth, limits, the batching queue. Hummingbird, swift-log and
        // swift-prometheus are used here only.
        .target(
            name: "Server",
            dependencies: [
                "RoBERTa", "Requests", "JSONText",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]),

        // Where models live: the Hugging Face hub cache, names, pull, which models open by default. No UI.
        .target(name: "ModelStore", dependencies: ["RoBERTa", "FileSupport"]),

        // The workbench: state and reducer (no terminal), panes into a cell buffer, the ncurses backend.
        .target(name: "Workbench", dependencies: ["RoBERTa", "Tokenizer", "Scoring", "FileSupport", "Figures"]),
        .target(name: "TerminalUI", dependencies: ["Workbench", "RoBERTa", "Tokenizer"]),
        .target(name: "CursesBackend", dependencies: ["TerminalUI", "Workbench", "FileSupport", "CNcursesw"]),

        // The command line.
        .executableTarget(
            name: "maskscope",
            dependencies: [
                "Tokenizer", "RoBERTa", "Requests", "Scoring", "ModelStore", "Workbench", "TerminalUI", "CursesBackend",
                "Figures", "Server", "JSONText",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]),

        .testTarget(name: "TokenizerTests", dependencies: ["Tokenizer"]),
        .testTarget(name: "RoBERTaTests", dependencies: ["RoBERTa", "Tokenizer", "TestSupport"]),
        .testTarget(name: "FileSupportTests", dependencies: ["FileSupport"]),
        .testTarget(name: "RequestsTests", dependencies: ["Requests", "JSONText"]),
        .testTarget(name: "ScoringTests", dependencies: ["Scoring", "RoBERTa", "TestSupport"]),
        .testTarget(name: "FiguresTests", dependencies: ["Figures"]),
        // ServerTests also start the built binary (`maskscope serve`), so it must be built first.
        .testTarget(name: "ServerTests", dependencies: ["Server", "RoBERTa", "Requests", "JSONText", "TestSupport", "maskscope"]),
        .testTarget(name: "ModelStoreTests", dependencies: ["ModelStore", "RoBERTa"], exclude: ["FakeHub"]),
        // Shared by the tests: the built binary's locator, assertClose.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "CLITests", dependencies: ["maskscope", "TestSupport"]),
        .testTarget(name: "WorkbenchTests", dependencies: ["Workbench", "RoBERTa", "Tokenizer", "FileSupport"]),
        .testTarget(name: "TerminalUITests", dependencies: ["TerminalUI", "Workbench", "RoBERTa", "Tokenizer"],
                    exclude: ["__Snapshots__"]),
        .testTarget(name: "EndToEndTests", dependencies: ["maskscope", "TestSupport"]),
    ]
)

// Fuzz targets (issue #9), declared only when Scripts/fuzz builds them (MASKSCOPE_FUZZ=1, with
// --sanitize fuzzer --sanitize address, in its own .build-fuzz): each is one LLVMFuzzerTestOneInput over one
// parser and has no main of its own (libFuzzer's), so an ordinary build must not see them. See Fuzz/README.md.
if Context.environment["MASKSCOPE_FUZZ"] != nil {
    let fuzzers: [(name: String, dependencies: [Target.Dependency])] = [
        ("FuzzSafetensors", ["RoBERTa"]), ("FuzzZip", ["RoBERTa"]), ("FuzzUnpickler", ["RoBERTa"]),
        ("FuzzConfig", ["RoBERTa"]), ("FuzzTokenizer", ["Tokenizer"]), ("FuzzVocab", ["Tokenizer"]),
        ("FuzzRequest", ["Requests"]), ("FuzzSession", ["Workbench"]), ("FuzzCorpus", ["Scoring"]),
    ]
    package.targets.append(.target(name: "FuzzSupport", path: "Fuzz/Targets/FuzzSupport"))
    for fuzzer in fuzzers {
        package.targets.append(.executableTarget(
            name: fuzzer.name, dependencies: ["FuzzSupport"] + fuzzer.dependencies, path: "Fuzz/Targets/\(fuzzer.name)"))
    }
}
