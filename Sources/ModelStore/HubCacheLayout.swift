import FileSupport
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The writes into the hub cache's layout, as huggingface_hub makes it: `blobs/<etag>`, the lock files in
// `.locks/models--ORG--NAME/<etag>.lock`, `snapshots/<commit>/<file> -> ../../blobs/<etag>` and `refs/<branch>`.

extension PullJob {
    /// `blobs/<etag>` of this repository, its folder created.
    func blobURL(etag: String) throws -> URL {
        let blobs = folder.appendingPathComponent("blobs", isDirectory: true)
        try downloader.createDirectory(blobs)
        return blobs.appendingPathComponent(etag)
    }

    /// Takes the exclusive lock on `.locks/models--ORG--NAME/<etag>.lock`, calling `waiting` first when another
    /// process holds it.
    func lockBlob(etag: String, waiting: () -> Void) throws -> BlobLock {
        let locks = downloader.cache.root.appendingPathComponent(".locks", isDirectory: true)
            .appendingPathComponent(HubCache.folderName(for: repoID), isDirectory: true)
        try downloader.createDirectory(locks)
        return try BlobLock(path: locks.appendingPathComponent(etag + ".lock").path, waiting: waiting)
    }

    /// `snapshots/<commit>/<file>` -> `../../blobs/<etag>`, replaced atomically if it exists.
    func linkSnapshot(file: String, commit: String, etag: String) throws -> URL {
        let link = folder.appendingPathComponent("snapshots", isDirectory: true)
            .appendingPathComponent(commit, isDirectory: true).appendingPathComponent(file)
        try downloader.createDirectory(link.deletingLastPathComponent())
        let depth = file.split(separator: "/").count + 1
        let target = String(repeating: "../", count: depth) + "blobs/" + etag
        do { try AtomicFile.symlink(to: target, at: link.path) } catch {
            throw PullError.writeFailed(path: error.path, detail: error.systemReason)
        }
        return link
    }
}

extension HubDownloader {
    func createDirectory(_ url: URL) throws {
        do { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) } catch {
            throw PullError.writeFailed(path: url.path, detail: error.localizedDescription)
        }
    }

    /// `refs/<revision>` of `repoID` set to `commit`: written last, and atomically, so a reader finds the old
    /// commit or the new one, and only once every file of the new one is in place.
    func writeRef(_ revision: String, commit: String, repoID: String) throws {
        let refs = cache.folder(for: repoID).appendingPathComponent("refs", isDirectory: true)
        try createDirectory(refs)
        let ref = refs.appendingPathComponent(revision).path
        do { try AtomicFile.write(Data(commit.utf8), to: ref, createFolder: false) } catch {
            throw PullError.writeFailed(path: error.path, detail: error.systemReason)
        }
    }
}

/// The size of a regular file (following symlinks); nil when there is none.
func fileSize(_ url: URL) -> Int64? {
    guard let attributes = try? FileManager.default.attributesOfItem(atPath: url.path),
          (attributes[.type] as? FileAttributeType) == .typeRegular else { return nil }
    return (attributes[.size] as? NSNumber)?.int64Value
}

/// An exclusive flock(2) on a lock file, the kind huggingface_hub's filelock takes on Linux.
final class BlobLock {
    private var fd: Int32

    /// Takes the lock, calling `waiting` once first when another process (or file description) holds it.
    init(path: String, waiting: () -> Void) throws {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw PullError.writeFailed(path: path, detail: String(cString: strerror(errno)))
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            waiting()
            while flock(fd, LOCK_EX) != 0 {
                guard errno == EINTR else {
                    let reason = String(cString: strerror(errno))
                    close(fd)
                    throw PullError.writeFailed(path: path, detail: "cannot lock: \(reason)")
                }
            }
        }
    }

    func release() {
        guard fd >= 0 else { return }
        flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    deinit { release() }
}
