import Foundation
import RoBERTa

/// Dynamic batching: requests from any number of connections wait here, and one thread takes them in arrival order
/// into batched forward passes (`RobertaModel.fillMask(batch:)`: sequences packed, no padding, each answer the one
/// its text gets alone). A batch holds the waiting requests for one model with the same targets, up to `maxBatch`
/// texts; its first request waits at most `maxWait` for others. Requests that would push the waiting texts past
/// `maxQueued` are refused at once (the caller answers 503). Only this thread runs the models, so an engine is never
/// used by two threads at a time.
final class BatchQueue: @unchecked Sendable {
    /// One request's texts, already tokenized and checked.
    final class Job: @unchecked Sendable {
        let model: Int
        let ids: [[Int]]
        let texts: [String]
        let targets: [String]?
        let topK: Int
        /// When the job was queued (for the wait limit of its batch).
        let queued = DispatchTime.now()

        private let lock = NSLock()
        private var outcome: Result<[FillMaskResult], Error>?
        private var waiter: CheckedContinuation<Result<[FillMaskResult], Error>, Never>?

        init(model: Int, ids: [[Int]], texts: [String], targets: [String]?, topK: Int) {
            self.model = model
            self.ids = ids
            self.texts = texts
            self.targets = targets
            self.topK = topK
        }

        /// Settles the job (first call wins: an answer, an error, or the deadline); true when this call settled it.
        @discardableResult
        func settle(_ result: Result<[FillMaskResult], Error>) -> Bool {
            lock.lock()
            guard outcome == nil else { lock.unlock(); return false }
            outcome = result
            let waiting = waiter
            waiter = nil
            lock.unlock()
            waiting?.resume(returning: result)
            return true
        }

        var isSettled: Bool {
            lock.lock()
            defer { lock.unlock() }
            return outcome != nil
        }

        /// Waits for the job's outcome.
        func result() async -> Result<[FillMaskResult], Error> {
            await withCheckedContinuation { continuation in
                lock.lock()
                if let outcome {
                    lock.unlock()
                    continuation.resume(returning: outcome)
                } else {
                    waiter = continuation
                    lock.unlock()
                }
            }
        }
    }

    /// What the queue reports to the metrics.
    struct Observer: Sendable {
        var queueDepth: @Sendable (Int) -> Void = { _ in }
        var batchRan: @Sendable (_ texts: Int, _ requests: Int) -> Void = { _, _ in }
    }

    private let models: [RobertaModel]
    private let maxBatch: Int
    private let maxWait: UInt64
    private let maxQueued: Int
    private let observer: Observer
    private let condition = NSCondition()
    private var waiting: [Job] = []
    private var waitingTexts = 0
    private var thread: Thread?

    init(models: [RobertaModel], maxBatch: Int, maxWaitMilliseconds: Double, maxQueued: Int, observer: Observer = Observer()) {
        self.models = models
        self.maxBatch = max(1, maxBatch)
        self.maxWait = UInt64(max(0, maxWaitMilliseconds) * 1_000_000)
        self.maxQueued = maxQueued
        self.observer = observer
    }

    /// Starts the thread that runs the batches.
    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "maskscope-batches"
        self.thread = thread
        thread.start()
    }

    /// Queues `job`; false when the queue is full.
    func submit(_ job: Job) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard waitingTexts + job.ids.count <= maxQueued || waiting.isEmpty else { return false }
        waiting.append(job)
        waitingTexts += job.ids.count
        observer.queueDepth(waitingTexts)
        condition.signal()
        return true
    }

    /// Texts waiting now.
    var depth: Int {
        condition.lock()
        defer { condition.unlock() }
        return waitingTexts
    }

    /// Settles `job` with `error` (its deadline passed) unless it was answered first: it leaves the queue if it still
    /// waits (before it is settled, so that its texts no longer count against the queue's limit by the time its caller
    /// hears of it), and when it was in the pass running now and every job of that pass is settled, the pass is
    /// cancelled (between layers), since nobody waits for its answer. True when this call settled it.
    @discardableResult
    func expire(_ job: Job, with error: Error) -> Bool {
        condition.lock()
        if let index = waiting.firstIndex(where: { $0 === job }) {
            waiting.remove(at: index)
            waitingTexts -= job.ids.count
            observer.queueDepth(waitingTexts)
            condition.signal()
        }
        condition.unlock()
        guard job.settle(.failure(error)) else { return false }
        condition.lock()
        defer { condition.unlock() }
        if let running, running.jobs.contains(where: { $0 === job }), running.jobs.allSatisfy(\.isSettled) {
            running.cancellation.cancel()
        }
        return true
    }

    /// The pass running now: its jobs, and what cancels it.
    private var running: (jobs: [Job], cancellation: Cancellation)?

    private func run() {
        while true {
            let batch = nextBatch()
            let live = batch.filter { !$0.isSettled }
            guard !live.isEmpty else { continue }
            let cancellation = Cancellation()
            condition.lock()
            running = (live, cancellation)
            condition.unlock()
            observer.batchRan(live.reduce(0) { $0 + $1.ids.count }, live.count)
            do {
                try answer(live, cancellation: cancellation)
            } catch {
                if live.count > 1, !cancellation.isCancelled {
                    // One text can fail a packed pass (a non-finite score, say): each request alone, so that only the
                    // one it belongs to gets the error.
                    for job in live where !job.isSettled {
                        do { try answer([job], cancellation: cancellation) } catch { job.settle(.failure(error)) }
                    }
                } else {
                    for job in live { job.settle(.failure(error)) }
                }
            }
            condition.lock()
            running = nil
            condition.unlock()
        }
    }

    /// One packed pass over `jobs` (same model and targets) with the largest top_k among them, each job settled with
    /// its own texts' results.
    private func answer(_ jobs: [Job], cancellation: Cancellation) throws {
        let first = jobs[0]
        let options = FillMaskOptions(topK: jobs.map(\.topK).max()!, targets: first.targets)
        let results = try models[first.model].fillMask(batch: jobs.flatMap(\.ids), options: options,
                                                        texts: jobs.flatMap(\.texts), cancellation: cancellation)
        var start = 0
        for job in jobs {
            job.settle(.success(Array(results[start..<(start + job.ids.count)])))
            start += job.ids.count
        }
    }

    /// Waits for work and takes the next batch: the oldest job and the jobs after it for the same model and targets,
    /// up to `maxBatch` texts (a larger job alone), once the batch is full or its first job has waited `maxWait`.
    private func nextBatch() -> [Job] {
        condition.lock()
        defer { condition.unlock() }
        while true {
            while waiting.isEmpty { condition.wait() }
            let deadline = waiting[0].queued.uptimeNanoseconds + maxWait
            while !waiting.isEmpty, compatibleTexts() < maxBatch {
                let now = DispatchTime.now().uptimeNanoseconds
                guard now < deadline else { break }
                _ = condition.wait(until: Date(timeIntervalSinceNow: Double(deadline - now) / 1e9))
            }
            // Withdrawn while waiting: start over.
            if !waiting.isEmpty { break }
        }
        let first = waiting[0]
        var taken: [Job] = [first]
        var texts = first.ids.count
        var kept: [Job] = []
        for job in waiting.dropFirst() {
            if job.model == first.model, job.targets == first.targets, texts + job.ids.count <= maxBatch {
                taken.append(job)
                texts += job.ids.count
            } else {
                kept.append(job)
            }
        }
        waiting = kept
        waitingTexts -= texts
        observer.queueDepth(waitingTexts)
        return taken
    }

    /// Texts waiting that could join a batch started by the oldest job.
    private func compatibleTexts() -> Int {
        let first = waiting[0]
        return waiting.reduce(0) { $0 + ($1.model == first.model && $1.targets == first.targets ? $1.ids.count : 0) }
    }
}
