import Foundation

/// One labelling decision made in `quadrat review`, as the journal keeps it: one JSON line each.
public struct ReviewDecision: Codable, Sendable, Equatable {
    /// What the model said about the photo when the reviewer decided.
    public struct ModelSaid: Codable, Sendable, Equatable {
        public var label: String
        public var probability: Double
        public init(label: String, probability: Double) { (self.label, self.probability) = (label, probability) }
    }

    /// The photo file as it was when decided: a later change of either marks the photo as changed on disk.
    public struct Fingerprint: Codable, Sendable, Equatable {
        public var bytes: Int
        public var modified: Double
        public init(bytes: Int, modified: Double) { (self.bytes, self.modified) = (bytes, modified) }

        /// The file's size and modification time now; nil when it cannot be read.
        public static func of(_ url: URL) -> Fingerprint? {
            var info = stat()
            guard stat(url.path, &info) == 0 else { return nil }
            let modified = Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9
            return Fingerprint(bytes: Int(info.st_size), modified: modified)
        }
    }

    /// Position in the journal, from 1.
    public var seq: Int
    /// ISO 8601, UTC.
    public var time: String
    public var who: String
    /// The photo's path relative to the data folder (`train/cell0001.png`).
    public var photo: String
    /// The labels decided (one for single-label data; any number, none included, for multi-label data).
    public var labels: [String]
    /// The labels before this decision (the CSV's, or an earlier decision's; empty for an unlabelled photo).
    public var previous: [String]
    /// The photo's revision after this decision: 1 for its first decision.
    public var revision: Int
    public var model: ModelSaid?
    /// The queue the reviewer was working through, so that a restart resumes there.
    public var queue: String?
    /// True when the decision undoes the one before it (restoring its `previous`).
    public var undo: Bool?
    public var fingerprint: Fingerprint?

    public init(
        seq: Int, time: String, who: String, photo: String, labels: [String], previous: [String], revision: Int,
        model: ModelSaid? = nil, queue: String? = nil, undo: Bool? = nil, fingerprint: Fingerprint? = nil
    ) {
        (self.seq, self.time, self.who, self.photo, self.labels) = (seq, time, who, photo, labels)
        (self.previous, self.revision, self.model, self.queue) = (previous, revision, model, queue)
        (self.undo, self.fingerprint) = (undo, fingerprint)
    }
}

/// The append-only journal of a review (`review.journal.jsonl` in the data folder): every decision is written as one
/// JSON line and flushed to the disk (fsync) before the page is told it is saved, so a killed server or a power cut
/// loses nothing the reviewer saw as saved.
///
/// Reading it back, a last line cut short by a kill (no newline, not JSON) was never acknowledged: it is dropped and
/// the file truncated to the last whole line. A bad line anywhere else is someone's edit; the journal refuses to open
/// rather than lose the decisions after it.
public final class ReviewJournal {
    public let url: URL
    public private(set) var decisions: [ReviewDecision]
    private let descriptor: Int32

    public init(url: URL) throws {
        self.url = url
        let bytes = FileManager.default.fileExists(atPath: url.path) ? try Data(contentsOf: url) : Data()
        let (decisions, wholeBytes) = try Self.parse(bytes, source: url)
        self.decisions = decisions
        descriptor = open(url.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw Self.failure(url, "cannot open") }
        // One writer per journal: a second server on the folder would skip the first one's revision checks.
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            throw WorkflowError(
                "\(url.path) is in use by another quadrat review of this folder; stop that one first (one review "
                    + "server per folder, any number of pages)")
        }
        if wholeBytes < bytes.count {
            guard ftruncate(descriptor, off_t(wholeBytes)) == 0 else { throw Self.failure(url, "cannot truncate") }
        } else if bytes.last.map({ $0 != UInt8(ascii: "\n") }) == true {
            // A whole last decision whose newline was not written: end its line before the next one.
            try put(Data([UInt8(ascii: "\n")]))
        }
    }

    static func failure(_ url: URL, _ what: String) -> WorkflowError {
        WorkflowError("\(what) the review journal \(url.path): \(String(cString: strerror(errno)))")
    }

    deinit { close(descriptor) }

    /// The decisions of journal text, and how many of its bytes are whole lines worth keeping.
    public static func parse(_ bytes: Data, source: URL) throws -> ([ReviewDecision], Int) {
        let decoder = JSONDecoder()
        var decisions: [ReviewDecision] = []
        var start = 0, line = 0
        let all = [UInt8](bytes)
        while start < all.count {
            line += 1
            let end = all[start...].firstIndex(of: UInt8(ascii: "\n"))
            let text = all[start..<(end ?? all.count)]
            if !text.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") }) {
                do {
                    decisions.append(try decoder.decode(ReviewDecision.self, from: Data(text)))
                } catch {
                    // The last line without its newline: a write the kill cut short, never acknowledged.
                    if end == nil { return (decisions, start) }
                    throw WorkflowError(
                        "\(source.path):\(line): not a review decision (\(error)); fix or remove that line; "
                            + "the decisions after it are kept")
                }
            }
            guard let end else { return (decisions, all.count) }
            start = end + 1
        }
        return (decisions, all.count)
    }

    /// Appends `decision` and returns once it is on the disk.
    public func append(_ decision: ReviewDecision) throws {
        try append([decision])
    }

    /// Appends several decisions (one burst's) in one write and one flush.
    public func append(_ batch: [ReviewDecision]) throws {
        guard !batch.isEmpty else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var data = Data()
        for decision in batch {
            data.append(try encoder.encode(decision))
            data.append(UInt8(ascii: "\n"))
        }
        try put(data)
        decisions += batch
    }

    /// Writes `data` at the end of the journal and flushes it to the disk; on failure (a full disk) the journal is
    /// cut back to where it was, so no half line is left for the next decision to be glued to.
    private func put(_ data: Data) throws {
        let end = lseek(descriptor, 0, SEEK_END)
        do {
            try write(data)
        } catch {
            guard end >= 0, ftruncate(descriptor, end) == 0 else {
                broken = true
                throw WorkflowError("\(error); the review journal \(url.path) could not be cut back: restart review")
            }
            throw error
        }
    }

    /// Set when a failed write could not be undone: every later append is refused.
    private var broken = false

    private func write(_ data: Data) throws {
        guard !broken else { throw WorkflowError("the review journal \(url.path) is damaged: restart review") }
        try data.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                // Non-empty: callers never write empty data.
                let n = Foundation.write(descriptor, raw.baseAddress! + done, raw.count - done)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw Self.failure(url, "cannot write to") }
                done += n
            }
        }
        guard fsync(descriptor) == 0 else { throw Self.failure(url, "cannot flush") }
    }
}
