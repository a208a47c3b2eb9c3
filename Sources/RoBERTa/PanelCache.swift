import CKernels
import CMapGuard
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the packed weight panels of a model are kept between processes, so that only the first process that runs
/// a model pays the pass that packs them (`PanelCache`).
public struct PanelCacheSettings: Sendable, Equatable {
    /// The folder, or nil when the cache is off.
    public var folder: String?
    /// Models whose matrices take fewer bytes than this are not cached: packing them takes a few milliseconds.
    public var minimumBytes: Int
    /// Why the cache is off, when `folder` is nil.
    public var offReason: String

    public static let defaultMinimumBytes = 64 << 20
    public static let environmentKey = "MASKSCOPE_PANEL_CACHE"
    /// Free space left on the folder's file system after writing a cache file.
    public static let reservedFreeBytes = 1 << 30

    public init(folder: String?, minimumBytes: Int = defaultMinimumBytes, offReason: String = "off") {
        self.folder = folder
        self.minimumBytes = minimumBytes
        self.offReason = offReason
    }

    public static let off = PanelCacheSettings(folder: nil, offReason: "off")

    /// MASKSCOPE_PANEL_CACHE=FOLDER, or =off; else $XDG_CACHE_HOME/maskscope/panels, else ~/.cache/maskscope/panels.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> PanelCacheSettings {
        if let value = environment[environmentKey], !value.isEmpty {
            return value == "off" ? PanelCacheSettings(folder: nil, offReason: "\(environmentKey)=off") : PanelCacheSettings(folder: value)
        }
        if let cache = environment["XDG_CACHE_HOME"], cache.hasPrefix("/") { return PanelCacheSettings(folder: cache + "/maskscope/panels") }
        if let home = environment["HOME"], home.hasPrefix("/") { return PanelCacheSettings(folder: home + "/.cache/maskscope/panels") }
        return PanelCacheSettings(folder: nil, offReason: "none of \(environmentKey), XDG_CACHE_HOME and HOME is set")
    }
}

/// What became of a model's panel cache file.
public enum PanelCacheState: Sendable, Equatable, CustomStringConvertible {
    /// Not used: the reason (off, a small model, no kernels).
    case off(reason: String)
    /// Every matrix was read from the file (checksums verified at load): no pass packs.
    case read(path: String)
    /// The pass that packs writes the panels into a new file, named `path` once every matrix is in it.
    /// `replacing`: why the file there was not read.
    case writing(path: String, replacing: String?)
    case written(path: String)
    /// The file could not be made or named: the model runs as without a cache.
    case failed(path: String, reason: String)

    /// "off", "read", "writing", "written" or "failed".
    public var name: String {
        switch self {
        case .off: "off"
        case .read: "read"
        case .writing: "writing"
        case .written: "written"
        case .failed: "failed"
        }
    }

    public var path: String? {
        switch self {
        case .off: nil
        case .read(let path), .writing(let path, _), .written(let path), .failed(let path, _): path
        }
    }

    /// The reason of `off` and `failed`, what `writing` replaces.
    public var detail: String? {
        switch self {
        case .off(let reason), .failed(_, let reason): reason
        case .writing(_, let replacing): replacing
        case .read, .written: nil
        }
    }

    public var description: String {
        switch self {
        case .off(let reason): "off (\(reason))"
        case .read(let path): "read from \(path)"
        case .writing(let path, let replacing):
            "to be written to \(path) by the pass that packs" + (replacing.map { " (replacing the file there: \($0))" } ?? "")
        case .written(let path): "written to \(path)"
        case .failed(let path, let reason): "not written to \(path): \(reason)"
        }
    }
}

/// One weight matrix as the panel cache stores it.
struct PanelPlan: Equatable {
    let name: String
    let storage: LinearWeight.Storage
    /// Inputs (the checkpoint's second dimension) and outputs.
    let k: Int, out: Int

    /// ms_matrix_bytes, or nil when the shape has no packed layout.
    var bytes: Int? {
        guard let k = Int32(exactly: k), let out = Int32(exactly: out) else { return nil }
        let bytes = ms_matrix_bytes(storage.kernelType, k, out)
        return bytes > 0 ? Int(exactly: bytes) : nil
    }
}

/// A file of packed panels (CKernels panels.c's layout, which does not depend on the CPU) for every weight matrix
/// of one model at one precision, beside a JSON header that names the checkpoint files it was packed from (path,
/// device, inode, size, modification time) and a checksum per matrix.
///
/// A load that finds a file matching the checkpoint and the matrices, with every checksum right, maps it and
/// every matrix is packed at once: no pass packs, the checkpoint's matrix pages are never read, and a 16-bit
/// precision rounds nothing. Otherwise the matrices pack into memory of their own as without a cache, and once
/// every one is packed (by the second answer; a 16-bit copy at load) a low-priority thread writes them to an
/// unnamed file (O_TMPFILE; pwrite, so a full disk is an error and not a SIGBUS), then the checksums and the
/// header, and links the file in under its name (a rename: a reader sees the old file or the whole new one). A
/// process that ends first leaves nothing (`waitForWriters` lets the command line finish it), except a temporary
/// name when it is killed between the link and the rename, which the next writer removes. Nothing is fsynced: a
/// file that a power cut left half-written fails its checksums and is written again.
///
/// Layout: "MSPANEL1", the data offset (u64, a multiple of 4096), the header's length (u64), the header (JSON),
/// zeros up to the data offset; then each matrix at the data offset plus its "offset", 4096-aligned.
final class PanelCache: @unchecked Sendable {
    struct Entry {
        let plan: PanelPlan
        /// From the start of the data.
        let offset: Int
        let bytes: Int
    }

    static let magic = Array("MSPANEL1".utf8)
    /// In the key: raise it whenever what a file holds for the same checkpoint would change (the panel layout, the
    /// packing, the rounding to 16 bits), so that files written by an older MaskScope are written again.
    static let format = 1
    static let alignment = 4096
    /// Outputs per panel (panels.c's NR), from the layout itself: the bytes of one row of 1 input.
    static var panelOutputs: Int { Int(ms_matrix_bytes(Int32(MS_F32), 1, 1)) / 4 }

    let path: String
    private let folder: String
    private let entries: [Entry]
    private let index: [String: Int]
    private let key: String
    private let dataOffset: Int
    private let size: Int
    /// The file that was read (a checked, guarded map, as the checkpoint's), or nil when it is to be written.
    private let mapping: MappedFile?
    private let condition = NSCondition()
    private var current: PanelCacheState
    /// Writing: the matrices whose panels go into the file, by entry.
    private var matrices: [PanelMatrix?]
    private var writerStarted = false
    private var writerRunning = false

    var state: PanelCacheState {
        condition.lock()
        defer { condition.unlock() }
        return current
    }

    /// Opens the cache file of a model whose matrices are `plans` (in the order the load makes them), read from the
    /// checkpoint files `sources`; nil, with the state to report, when it is not used.
    static func open(settings: PanelCacheSettings, model directory: URL, precision: String, sources: [MappedFile],
                     plans: [PanelPlan], threads: Int) -> (cache: PanelCache?, state: PanelCacheState) {
        guard let folder = settings.folder else { return (nil, .off(reason: settings.offReason)) }
        var entries: [Entry] = []
        var total = 0
        for plan in plans {
            guard let bytes = plan.bytes, bytes <= Int.max - alignment else { return (nil, .off(reason: "\(plan.name) has no packed layout")) }
            entries.append(Entry(plan: plan, offset: total, bytes: bytes))
            let (next, overflow) = total.addingReportingOverflow((bytes + alignment - 1) / alignment * alignment)
            guard !overflow else { return (nil, .off(reason: "the matrices' size overflows")) }
            total = next
        }
        guard total >= settings.minimumBytes else {
            return (nil, .off(reason: "\(total >> 20) MiB of matrices, below the \(settings.minimumBytes >> 20) MiB worth caching"))
        }
        let key = "maskscope panels \(format), panels of \(panelOutputs) outputs, blocks of \(MS_PANEL_K_BLOCK), precision \(precision); "
            + sources.map { "\(realPath($0.path)) [\($0.identity)]" }.joined(separator: "; ")
        let path = folder + "/" + fileName(directory: directory, precision: precision, sources: sources)
        let header = headerBytes(key: key, entries: entries, checksums: nil)
        let dataOffset = (header.count + alignment - 1) / alignment * alignment
        let (size, overflow) = dataOffset.addingReportingOverflow(total)
        guard !overflow else { return (nil, .off(reason: "the matrices' size overflows")) }

        var replacing: String? = nil
        switch read(path: path, key: key, entries: entries, dataOffset: dataOffset, size: size, threads: threads) {
        case .success(let cache): return (cache, .read(path: path))
        case .failure(.missing): break
        case .failure(.unusable(let why)): replacing = why
        }
        let cache = PanelCache(path: path, folder: folder, entries: entries, key: key, dataOffset: dataOffset, size: size,
                               mapping: nil, state: .writing(path: path, replacing: replacing))
        return (cache, cache.state)
    }

    /// The panels of a matrix read from the file.
    func panels(for name: String) -> UnsafeRawPointer? {
        guard let mapping, let i = index[name] else { return nil }
        return mapping.base + dataOffset + entries[i].offset
    }

    /// Names the matrix whose panels go into the file under `name` (when it is to be written).
    func register(_ name: String, matrix: PanelMatrix) {
        condition.lock()
        defer { condition.unlock() }
        guard mapping == nil, let i = index[name] else { return }
        matrices[i] = matrix
    }

    /// After the load: a matrix of the plan that is not multiplied through panels (no memory for them) means the file
    /// can never be complete.
    func loadFinished() {
        condition.lock()
        defer { condition.unlock() }
        guard case .writing = current, let i = matrices.firstIndex(where: { $0 == nil }) else { return }
        current = .failed(path: path, reason: "\(entries[i].plan.name) is not multiplied through panels (no memory for them)")
    }

    /// When the file is to be written and every matrix is packed: starts the thread that writes it. Cheap otherwise
    /// (asked after every pass). A matrix that found no memory to pack makes it `failed`.
    func finishIfComplete() {
        condition.lock()
        defer { condition.unlock() }
        guard case .writing = current, !writerStarted else { return }
        if let i = matrices.indices.first(where: { matrices[$0].map { ms_matrix_pack_failed($0.pointer) != 0 } ?? false }) {
            current = .failed(path: path, reason: "no memory to pack \(entries[i].plan.name)")
            return
        }
        guard matrices.allSatisfy({ $0?.isPacked == true }) else { return }
        writerStarted = true
        writerRunning = true
        PanelCache.running.add(self)
        let thread = Thread { [self] in
            // Below the forward passes: on a busy machine the file waits, the answers do not.
            // (PRIO_PROCESS with 0 is the calling thread on Linux: nice is per thread there.)
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 19)
            let outcome = write()
            condition.lock()
            current = outcome
            writerRunning = false
            condition.broadcast()
            condition.unlock()
            PanelCache.running.remove(self)
        }
        thread.name = "maskscope panel cache"
        thread.start()
    }

    /// Waits for the thread that writes the file, when one runs (a command that exits calls it, or the file is lost).
    func waitUntilWritten() {
        condition.lock()
        while writerRunning { condition.wait() }
        condition.unlock()
    }

    /// The caches whose writer threads run, for `waitForWriters`.
    private static let running = RunningWriters()

    /// Waits for every panel cache file being written in this process: the command line calls it before it exits.
    static func waitForWriters() {
        for cache in running.snapshot() { cache.waitUntilWritten() }
    }

    /// Throws `fileChanged` when a read of the file faulted (it was truncated under a pass) or the file was
    /// written to in place: what was computed from it is not the model's answer.
    func checkUnchanged() throws {
        guard let mapping else { return }
        if mapping.faulted {
            throw ModelLoadError.fileChanged(path, detail: "the panel cache file was truncated while a forward pass read it; the answer was discarded (load the model again: the file will be written again)")
        }
        do {
            try mapping.checkUnchanged()
        } catch ModelLoadError.fileChanged(_, let detail) {
            throw ModelLoadError.fileChanged(path, detail: "the panel cache file: \(detail) (load the model again: the file will be written again)")
        }
    }

    private init(path: String, folder: String, entries: [Entry], key: String, dataOffset: Int, size: Int, mapping: MappedFile?,
                 state: PanelCacheState) {
        self.path = path
        self.folder = folder
        self.entries = entries
        var index: [String: Int] = [:]
        for (i, entry) in entries.enumerated() { index[entry.plan.name] = i }
        self.index = index
        self.key = key
        self.dataOffset = dataOffset
        self.size = size
        self.mapping = mapping
        current = state
        matrices = Array(repeating: nil, count: entries.count)
    }

    // MARK: - Reading

    enum ReadFailure: Error {
        case missing
        case unusable(String)
    }

    private static func read(path: String, key: String, entries: [Entry], dataOffset: Int, size: Int,
                             threads: Int) -> Result<PanelCache, ReadFailure> {
        let file: MappedFile
        do {
            file = try MappedFile(path: path)
        } catch ModelLoadError.missingFile {
            return .failure(.missing)
        } catch {
            return .failure(.unusable("\(error)"))
        }
        guard file.size == size else { return .failure(.unusable("\(file.size) bytes where this model's panels take \(size)")) }
        let cache = PanelCache(path: path, folder: "", entries: entries, key: key, dataOffset: dataOffset, size: size,
                               mapping: file, state: .read(path: path))
        if let why = cache.verify(threads: threads) { return .failure(.unusable(why)) }
        return .success(cache)
    }

    /// Nil when the header is this model's (checkpoint files, matrices, layout) and every checksum holds.
    private func verify(threads: Int) -> String? {
        guard let mapping else { return "not read" }
        let prefix = Self.magic.count + 16
        let bytes = UnsafeRawBufferPointer(start: mapping.base, count: size)
        // The map faults a page past the end of a file truncated since into zeros (the guard): they fail below.
        guard size >= prefix, Array(bytes[0..<Self.magic.count]) == Self.magic else { return "not a MaskScope panel file" }
        let offset = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: Self.magic.count, as: UInt64.self))
        let length = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: Self.magic.count + 8, as: UInt64.self))
        guard offset == UInt64(dataOffset), length <= UInt64(dataOffset - prefix) else { return "written for other checkpoint files or matrices" }
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes[prefix..<(prefix + Int(length))])) as? [String: Any],
              let stored = object["checksums"] as? [String], stored.count == entries.count else { return "its header is damaged" }
        var checksums: [UInt32] = []
        for text in stored {
            guard text.count == 8, let value = UInt32(text, radix: 16) else { return "its header is damaged" }
            checksums.append(value)
        }
        // Everything but the checksums is known: the header must be the one this model writes.
        let expected = Self.headerBytes(key: key, entries: entries, checksums: checksums)
        guard expected.count == prefix + Int(length), expected.elementsEqual(bytes[0..<expected.count]) else {
            return "written for other checkpoint files or matrices"
        }
        let actual = Self.checksums(entries.map { mapping.base + dataOffset + $0.offset }, entries: entries, threads: threads)
        if mapping.faulted { return "it was truncated while being read" }
        if let bad = entries.indices.first(where: { actual[$0] != checksums[$0] }) {
            return "the checksum of \(entries[bad].plan.name) does not match"
        }
        return nil
    }

    // MARK: - Writing

    /// Writes the file from the packed matrices (on the writer thread): the new state.
    private func write() -> PanelCacheState {
        func failed(_ reason: String) -> PanelCacheState { .failed(path: path, reason: reason) }
        var panels: [UnsafeRawPointer] = []
        for matrix in matrices {
            guard let matrix, let p = ms_matrix_panels(matrix.pointer) else { return failed("a matrix was not packed") }
            panels.append(p)
        }
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            return failed("cannot make the folder \(folder): \(error.localizedDescription)")
        }
        var space = statvfs()
        if statvfs(folder, &space) == 0 {
            let free = Int(clamping: UInt64(space.f_bavail) &* UInt64(space.f_frsize))
            if free < size + PanelCacheSettings.reservedFreeBytes {
                return failed("\(free >> 20) MiB free in \(folder); the panels take \(size >> 20) MiB and \(PanelCacheSettings.reservedFreeBytes >> 20) MiB are kept free")
            }
        }
        let fd = ms_open_unnamed_file(folder, 0o644)
        guard fd >= 0 else { return failed("cannot make an unnamed file (O_TMPFILE) in \(folder): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        for (entry, pointer) in zip(entries, panels) {
            if let error = writeAll(fd, pointer, count: entry.bytes, at: dataOffset + entry.offset) {
                return failed("writing \(entry.plan.name): \(error)")
            }
        }
        let checksums = Self.checksums(panels, entries: entries, threads: 1)
        let header = Self.headerBytes(key: key, entries: entries, checksums: checksums)
        guard header.count <= dataOffset else { return failed("the header grew past its room") }
        if let error = header.withUnsafeBytes({ writeAll(fd, $0.baseAddress!, count: header.count, at: 0) }) {
            return failed("writing the header: \(error)")
        }
        // The last matrix's padding, so that the size is the one a reader expects.
        guard ftruncate(fd, off_t(size)) == 0 else { return failed("ftruncate: \(String(cString: strerror(errno)))") }
        // Linked under a temporary name, then renamed over the file there: linkat refuses an existing name. The
        // name has the pid and this cache's identity (two models of one process may write one file); names left by
        // a process killed between the two calls are removed first.
        let base = "." + URL(fileURLWithPath: path).lastPathComponent + "."
        Self.removeStaleNames(in: folder, prefix: base)
        let temporary = folder + "/" + base + "\(getpid()).\(String(UInt(bitPattern: ObjectIdentifier(self).hashValue), radix: 16)).tmp"
        guard ms_link_unnamed_file(fd, temporary) == 0 else {
            return failed("cannot name the file: \(String(cString: strerror(errno)))")
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            return failed("cannot rename it into place: \(reason)")
        }
        return .written(path: path)
    }

    /// Removes `prefix`PID.ID.tmp names in `folder` whose process is gone.
    private static func removeStaleNames(in folder: String, prefix: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
        for name in names where name.hasPrefix(prefix) && name.hasSuffix(".tmp") {
            let parts = name.dropFirst(prefix.count).split(separator: ".")
            guard parts.count == 3, let pid = pid_t(parts[0]), pid > 0, kill(pid, 0) != 0, errno == ESRCH else { continue }
            unlink(folder + "/" + name)
        }
    }

    /// pwrite until done: nil, or what went wrong.
    private func writeAll(_ fd: Int32, _ pointer: UnsafeRawPointer, count: Int, at offset: Int) -> String? {
        var done = 0
        while done < count {
            let n = pwrite(fd, pointer + done, min(count - done, 8 << 20), off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                return String(cString: strerror(errno))
            }
            if n == 0 { return "nothing written" }
            done += n
        }
        return nil
    }

    /// "MSPANEL1", the data offset, the JSON's length, the JSON (sorted keys: the same bytes for the same model).
    static func headerBytes(key: String, entries: [Entry], checksums: [UInt32]?) -> [UInt8] {
        let matrices: [[String: Any]] = entries.map {
            ["name": $0.plan.name, "dtype": $0.plan.storage.rawValue, "k": $0.plan.k, "out": $0.plan.out,
             "offset": $0.offset, "bytes": $0.bytes]
        }
        let sums = (checksums ?? Array(repeating: 0, count: entries.count)).map { hex8($0) }
        let object: [String: Any] = ["format": format, "key": key, "matrices": matrices, "checksums": sums]
        let json = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        let prefix = magic.count + 16
        let dataOffset = (prefix + json.count + alignment - 1) / alignment * alignment
        var bytes = magic
        withUnsafeBytes(of: UInt64(dataOffset).littleEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: json)
        return bytes
    }

    private static func hex8(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }

    /// ms_block_checksum of every matrix (its panels at `panels`), on `threads` threads.
    static func checksums(_ panels: [UnsafeRawPointer], entries: [Entry], threads: Int) -> [UInt32] {
        var sums = [UInt32](repeating: 0, count: entries.count)
        let workers = max(1, min(threads, entries.count))
        // Addresses as integers: the threads write disjoint elements.
        let addresses = panels.map { Int(bitPattern: $0) }
        sums.withUnsafeMutableBufferPointer { out in
            let results = Int(bitPattern: out.baseAddress)
            DispatchQueue.concurrentPerform(iterations: workers) { t in
                let out = UnsafeMutablePointer<UInt32>(bitPattern: results)!
                for i in stride(from: t, to: entries.count, by: workers) {
                    out[i] = ms_block_checksum(UnsafeRawPointer(bitPattern: addresses[i]), entries[i].bytes)
                }
            }
        }
        return sums
    }

    /// "<model folder>-<precision>-<16 hex digits of the checkpoint paths' FNV-1a>.panels".
    static func fileName(directory: URL, precision: String, sources: [MappedFile]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in sources.map({ realPath($0.path) }).joined(separator: "\n").utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        let folder = directory.standardizedFileURL.lastPathComponent
        let readable = String(folder.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." ? $0 : "_" }.prefix(48))
        let digits = String(hash, radix: 16)
        return "\(readable.isEmpty ? "model" : readable)-\(precision)-\(String(repeating: "0", count: 16 - digits.count) + digits).panels"
    }

    static func realPath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

/// The panel caches whose writer threads run (PanelCache.waitForWriters).
private final class RunningWriters: @unchecked Sendable {
    private let lock = NSLock()
    private var caches: [ObjectIdentifier: PanelCache] = [:]

    func add(_ cache: PanelCache) {
        lock.lock()
        caches[ObjectIdentifier(cache)] = cache
        lock.unlock()
    }

    func remove(_ cache: PanelCache) {
        lock.lock()
        caches[ObjectIdentifier(cache)] = nil
        lock.unlock()
    }

    func snapshot() -> [PanelCache] {
        lock.lock()
        defer { lock.unlock() }
        return Array(caches.values)
    }
}
