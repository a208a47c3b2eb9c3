import CMapGuard
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only memory map of a whole file; the pages stay mapped for the object's lifetime.
///
/// The descriptor stays open so `checkUnchanged` can tell whether the file was truncated or rewritten in place
/// since (a page past a new end of file is a SIGBUS when touched). A file replaced by rename, as pull and
/// huggingface_hub write, is another inode: the map keeps the old one, which stays valid. A truncation while a
/// pass reads the map is caught by the guard (CMapGuard): the faulting page reads as zeros, `faulted` turns
/// true, and the engine throws `fileChanged` instead of answering.
final class MappedFile: @unchecked Sendable {
    let path: String
    let base: UnsafeRawPointer
    let size: Int
    private let fd: Int32
    private let modified: timespec
    /// Which file this is, for the panel cache's key: device, inode, size and modification time when mapped.
    let identity: String
    /// The guard's slot for this map (-1: every slot was taken, the map is unguarded).
    private let guardSlot: Int32

    init(path: String) throws {
        self.path = path
        // stat first: opening a FIFO for reading blocks until a writer comes, which may be never.
        try requireRegularFile(path)
        // O_NONBLOCK too, in case the path was swapped for a FIFO since: then open returns at once and fstat refuses it.
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { throw ModelLoadError.missingFile(path) }
            throw ModelLoadError.unreadableFile(path, reason: String(cString: strerror(errno)))
        }
        var keep = false
        defer { if !keep { close(fd) } }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw ModelLoadError.unreadableFile(path, reason: String(cString: strerror(errno)))
        }
        if let kind = nonRegularKind(info.st_mode) { throw ModelLoadError.notARegularFile(path, kind: kind) }
        size = Int(info.st_size)
        guard size > 0 else { throw ModelLoadError.emptyFile(path) }
        guard let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else {
            throw ModelLoadError.unreadableFile(path, reason: "mmap failed: \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawPointer(mapped)
        self.fd = fd
        modified = info.st_mtim
        identity = "\(info.st_dev):\(info.st_ino):\(info.st_size):\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
        guardSlot = ms_mapguard_register(mapped, size)
        keep = true
    }

    /// Throws `ModelLoadError.fileChanged` when the mapped file was truncated or written to since it was mapped:
    /// reading the map then would die of SIGBUS past the new end, or mix old and new bytes. One fstat; the
    /// engine asks before every forward pass; a change during a pass is `checkNotFaulted`'s.
    func checkUnchanged() throws {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return }
        if Int(info.st_size) != size {
            throw ModelLoadError.fileChanged(path, detail: "\(size) bytes when loaded, \(info.st_size) bytes now")
        }
        if info.st_mtim.tv_sec != modified.tv_sec || info.st_mtim.tv_nsec != modified.tv_nsec {
            throw ModelLoadError.fileChanged(path, detail: "written to in place")
        }
    }

    /// Whether a read of the map hit a page past the file's end since it was mapped (the guard gave zeros).
    var faulted: Bool { ms_mapguard_faulted(guardSlot) != 0 }

    /// Throws `fileChanged` when a read of the map faulted: what was computed from it is not the model's answer.
    func checkNotFaulted() throws {
        guard faulted else { return }
        var info = stat()
        let now = fstat(fd, &info) == 0 ? ", \(info.st_size) bytes now" : ""
        throw ModelLoadError.fileChanged(path, detail: "truncated or rewritten while a forward pass was reading it (\(size) bytes when loaded\(now)); the answer was discarded")
    }

    /// Gives back the resident pages wholly inside bytes `begin..<end` of the map (madvise MADV_DONTNEED), so they
    /// no longer count towards the process's RSS: for a tensor that was copied (rounded) at load and is not read
    /// from the map again. The map is read-only and private, so nothing is lost: a later read (the non-finite
    /// weight scan) faults the pages in again from the file. Pages shared with neighbouring tensors are kept.
    func releasePages(begin: Int, end: Int) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard page > 0, begin >= 0, end <= size else { return }
        let start = Int(bitPattern: base) + begin
        let first = (start + page - 1) / page * page
        let last = (Int(bitPattern: base) + end) / page * page
        guard last > first, let pointer = UnsafeMutableRawPointer(bitPattern: first) else { return }
        _ = madvise(pointer, last - first, Int32(MADV_DONTNEED))
    }

    deinit {
        ms_mapguard_unregister(guardSlot)
        munmap(UnsafeMutableRawPointer(mutating: base), size)
        close(fd)
    }
}

/// What a file of mode `mode` is when it is not a regular file ("a named pipe (FIFO)", ...), or nil when it is.
func nonRegularKind(_ mode: mode_t) -> String? {
    switch mode & S_IFMT {
    case S_IFREG: return nil
    case S_IFIFO: return "a named pipe (FIFO)"
    case S_IFDIR: return "a directory"
    case S_IFSOCK: return "a socket"
    case S_IFCHR: return "a character device"
    case S_IFBLK: return "a block device"
    default: return "not a file"
    }
}

/// Throws unless `path` (after symlinks) is a regular file: missing -> `missingFile`, a FIFO, directory, socket or
/// device -> `notARegularFile`. Checked before a model file is opened, so that reading it can never block.
func requireRegularFile(_ path: String) throws {
    var info = stat()
    guard stat(path, &info) == 0 else {
        if errno == ENOENT || errno == ENOTDIR { throw ModelLoadError.missingFile(path) }
        throw ModelLoadError.unreadableFile(path, reason: String(cString: strerror(errno)))
    }
    if let kind = nonRegularKind(info.st_mode) { throw ModelLoadError.notARegularFile(path, kind: kind) }
}

/// The bytes of a small model file (config.json, an index), after checking it is a regular file.
func readModelFile(_ url: URL) throws -> Data {
    try requireRegularFile(url.path)
    do { return try Data(contentsOf: url) } catch {
        throw ModelLoadError.unreadableFile(url.path, reason: error.localizedDescription)
    }
}
