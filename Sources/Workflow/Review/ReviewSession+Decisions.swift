import Foundation
import Torch
import Vision

/// A decision the page sends: labels for one photo or a whole burst, with the revision of each photo it saw.
public struct ReviewRequest: Codable, Sendable {
    public var photos: [Int]
    public var labels: [String]
    public var revisions: [Int]
    public var queue: String?
    public var who: String?
    /// Set when the decision restores the labels from before the page's last one (no label: back to the CSV's).
    public var undo: Bool?
    public init(
        photos: [Int], labels: [String], revisions: [Int], queue: String? = nil, who: String? = nil, undo: Bool? = nil
    ) {
        (self.photos, self.labels, self.revisions, self.queue, self.who) = (photos, labels, revisions, queue, who)
        self.undo = undo
    }
}

/// What a saved decision answers: its place in the journal and each photo's new revision.
public struct ReviewSaved: Codable, Sendable {
    public var seq: Int
    public var revisions: [Int]
    /// Set when the decision is in the journal but `labels.reviewed.csv` could not be rewritten (the next
    /// decision, or a restart, writes it again).
    public var csvError: String?
}

/// A decision made on a photo that another page changed since this one loaded it.
public struct ReviewConflict: Error, CustomStringConvertible, Sendable {
    public var photo: Int
    public var key: String
    public var labels: [String]
    public var revision: Int
    public var description: String {
        "\(key) was changed elsewhere (now \(labels.isEmpty ? "unlabelled" : labels.joined(separator: ", ")), "
            + "revision \(revision)); look again before deciding"
    }
}

extension ReviewSession {
    /// Records `request` (journal first, flushed; then the reviewed CSV), or throws ``ReviewConflict`` when a photo
    /// moved on since the page saw it, or a ``WorkflowError`` naming what is wrong with the request.
    public func decide(_ request: ReviewRequest, now: Date = Date()) throws -> ReviewSaved {
        try check(request)
        let indices = request.labels.compactMap { classes.firstIndex(of: $0) }
        return try lock.withLock {
            for (photo, seen) in zip(request.photos, request.revisions) where revisions[photo] != seen {
                throw ReviewConflict(
                    photo: photo, key: photos[photo].key, labels: (labels[photo] ?? []).map { classes[$0] },
                    revision: revisions[photo])
            }
            let time = ISO8601DateFormatter().string(from: now)
            var seq = journal.decisions.count
            let batch = request.photos.map { photo -> ReviewDecision in
                seq += 1
                return ReviewDecision(
                    seq: seq, time: time, who: request.who ?? options.reviewer, photo: photos[photo].key,
                    labels: request.labels, previous: (labels[photo] ?? []).map { classes[$0] },
                    revision: revisions[photo] + 1, model: modelSaid(photo), queue: request.queue, undo: request.undo,
                    fingerprint: .of(photos[photo].url))
            }
            try journal.append(batch)
            for (photo, decision) in zip(request.photos, batch) {
                // An undo to no label: back to the CSV's labels, or unlabelled (a pool photo).
                labels[photo] =
                    indices.isEmpty && (request.undo == true || !options.severalLabels) ? photos[photo].given : indices
                revisions[photo] = decision.revision
                fingerprints[photo] = decision.fingerprint
            }
            var csvError: String?
            do {
                try writeCSV()
            } catch {
                csvError = "\(error)"
            }
            return ReviewSaved(seq: seq, revisions: request.photos.map { revisions[$0] }, csvError: csvError)
        }
    }

    /// Refuses a request naming photos, labels or revisions that cannot be (the client's mistake, not the server's).
    public func check(_ request: ReviewRequest) throws {
        guard !request.photos.isEmpty, request.photos.count == request.revisions.count else {
            throw WorkflowError(
                "a decision needs one revision per photo (\(request.photos.count) photos, "
                    + "\(request.revisions.count) revisions)")
        }
        if let bad = request.photos.first(where: { !photos.indices.contains($0) }) {
            throw WorkflowError("there is no photo \(bad) (the folder has \(photos.count))")
        }
        if let bad = request.labels.first(where: { !classes.contains($0) }) {
            throw WorkflowError("'\(bad)' is not a label of this data (\(classes.joined(separator: ", ")))")
        }
        guard options.severalLabels || request.labels.count == 1 || (request.undo == true && request.labels.isEmpty)
        else {
            throw WorkflowError("a photo of single-label data takes exactly one label, not \(request.labels.count)")
        }
    }

    /// The model's top answer for `photo` when there is one.
    func modelSaid(_ photo: Int) -> ReviewDecision.ModelSaid? {
        guard let p = predictions?.probabilities[photo], let best = p.indices.max(by: { p[$0] < p[$1] }) else {
            return nil
        }
        return .init(label: classes[best], probability: (p[best] * 10_000).rounded() / 10_000)
    }

    /// Rewrites `labels.reviewed.csv` from the current labels. The caller holds the lock.
    func writeCSV() throws {
        var byName: [String: [String]] = [:], added: [(file: String, labels: [String])] = []
        for (i, photo) in photos.enumerated() where revisions[i] > 0 {
            guard let set = labels[i] else { continue }  // a pool photo whose decision was undone
            let names = set.map { classes[$0] }
            if photo.given != nil { byName[photo.name] = names } else { added.append((photo.name, names)) }
        }
        try reviewed.write(
            reviewed.text(labels: byName, added: added),
            original: options.inPlace ? reviewed.text(labels: byName, added: []) : nil)
    }

    /// Writes the reviewed CSV as the journal leaves it (at start, so a crash between journal and CSV is healed).
    public func materialize() throws {
        try lock.withLock { if journal.decisions.isEmpty { return } else { try writeCSV() } }
    }
}

extension ReviewSession {
    /// A data folder for `quadrat train` with the labels as reviewed now: `train/` holding a link to every labelled
    /// photo (pool photos included once labelled) and `train_labels.csv`. Returns how many photos it names.
    @discardableResult
    public func writeTrainingFolder(_ folder: URL) throws -> Int {
        let fm = FileManager.default
        let train = folder.appendingPathComponent("train")
        try? fm.removeItem(at: folder)  // a folder left by an earlier run: made anew below
        try fm.createDirectory(at: train, withIntermediateDirectories: true)
        var rows = CSVTable.row(["name", "label"]) + "\n"
        var used = Set<String>()
        let (labels, delimiter) = lock.withLock { (self.labels, options.delimiter) }
        for (i, photo) in photos.enumerated() {
            guard let set = labels[i], !set.isEmpty || options.severalLabels else { continue }
            var file = photo.url.lastPathComponent
            // Pool and training photos may share a file name.
            while used.contains(DataSource.removingExtension(file)) { file = "pool-" + file }
            used.insert(DataSource.removingExtension(file))
            try fm.createSymbolicLink(at: train.appendingPathComponent(file), withDestinationURL: photo.url)
            rows += CSVTable.row([file, set.map { classes[$0] }.joined(separator: delimiter)]) + "\n"
        }
        try AtomicFile.write(rows, to: folder.appendingPathComponent("train_labels.csv"))
        return used.count
    }
}
