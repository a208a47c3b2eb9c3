import Foundation

/// How one file of a pull ended.
public enum PulledFileOutcome: String, Sendable, Equatable {
    case downloaded, resumed, alreadyPresent
}

/// One file placed in the snapshot.
public struct PulledFile: Sendable, Equatable {
    public let name: String
    public let bytes: Int64
    public let outcome: PulledFileOutcome
}

/// What a pull left in the cache.
public struct PullReport: Sendable, Equatable {
    public let repoID: String
    public let commit: String
    /// `models--ORG--NAME/snapshots/<commit>`, loadable by MaskScope and by transformers.
    public let snapshot: URL
    public let files: [PulledFile]
    /// Optional files the repository does not have (404), e.g. tokenizer.json on older repositories.
    public let absentOptional: [String]
}

/// Receives a pull's progress; called on the thread that runs the transfer, never concurrently.
public protocol PullProgress: AnyObject {
    /// A download starts (`resumedAt` bytes are already on disk from an interrupted run).
    func started(file: String, total: Int64?, resumedAt: Int64)
    /// More bytes arrived: `done` counts from the start of the file.
    func advanced(file: String, done: Int64, total: Int64?)
    /// The file is in place (or was already).
    func finished(file: String, bytes: Int64, outcome: PulledFileOutcome)
    /// A remark worth a line: a restart, a fallback, an optional file the repository lacks.
    func note(_ text: String)
}
