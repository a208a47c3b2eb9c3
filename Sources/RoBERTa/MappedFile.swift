import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only memory map of a whole file; the pages stay mapped for the object's lifetime.
final class MappedFile: @unchecked Sendable {
    let path: String
    let base: UnsafeRawPointer
    let size: Int

    init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            if errno == ENOENT { throw ModelLoadError.missingFile(path) }
            throw ModelLoadError.unreadableFile(path, reason: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw ModelLoadError.unreadableFile(path, reason: String(cString: strerror(errno)))
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw ModelLoadError.unreadableFile(path, reason: "not a regular file")
        }
        size = Int(info.st_size)
        guard size > 0 else {
            throw ModelLoadError.truncatedSafetensors(file: path, detail: "the file is empty")
        }
        guard let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else {
            throw ModelLoadError.unreadableFile(path, reason: "mmap failed: \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawPointer(mapped)
    }

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: base), size)
    }
}
