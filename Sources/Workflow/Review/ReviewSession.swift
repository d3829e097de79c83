import Foundation
import Learn
import Torch
import Vision

/// A review of one data folder: its photos (labelled, and the unlabelled pool), the labels as the journal leaves
/// them, the model's predictions and the queues. Every decision goes to the journal first (``ReviewJournal``), then
/// into `labels.reviewed.csv` (``ReviewedLabels``).
///
/// Two pages on one folder cannot overwrite each other: a decision names the revision of each photo it saw, and one
/// made on an older revision is refused (``ReviewConflict``) with the photo's labels now.
///
/// Thread-safe: the state sits behind one lock; the model's work (seconds) runs outside it.
public final class ReviewSession: @unchecked Sendable {
    /// Where the photos and labels are and how to read them.
    public struct Options: Sendable {
        public var data: URL
        /// Unlabelled photos to label (default: `test/` beside the data, when it has no labels).
        public var pool: URL?
        public var nameColumn: String?, labelColumn: String?
        /// One class per photo, or any number of labels (the label column lists them, split by `delimiter`).
        public var task = TaskKind.singleLabel
        /// A photo may have any number of labels, none included (its task decides each class on its own).
        public var severalLabels: Bool { task.task.decidesEachClass }
        public var delimiter = " "
        /// Write the labels CSV itself (after a backup) as well as `labels.reviewed.csv`.
        public var inPlace = false
        /// Seconds between two photos of one burst at most (EXIF DateTimeOriginal, same folder and camera).
        public var burstGap = 60.0
        /// Who the journal says decided, when the page does not say (`?who=NAME`).
        public var reviewer = ProcessInfo.processInfo.environment["USER"] ?? "reviewer"
        /// Features and heads for the queues; nil: no model (only the `all` queue).
        public var model: ReviewModel.Options? = ReviewModel.Options()
        public init(data: URL) { self.data = data }
    }

    /// One photo under review.
    public struct Photo: Sendable {
        /// Its path relative to the data folder: the journal's name for it.
        public var key: String
        public var url: URL
        /// The name the labels CSV gives it (file name without extension).
        public var name: String
        /// Its labels in the CSV; nil for a pool photo.
        public var given: [Int]?
    }

    public let options: Options
    public let photos: [Photo]
    public let classes: [String]
    /// Each burst of two or more photos, by photo index.
    public let bursts: [[Int]]
    public let reviewed: ReviewedLabels
    let journal: ReviewJournal
    let model: ReviewModel?
    let lock = NSLock()
    // Guarded by `lock`.
    var labels: [[Int]?]
    var revisions: [Int]
    var fingerprints: [ReviewDecision.Fingerprint?]
    var predictions: ReviewModel.Predictions?
    var queues: [ReviewQueue: [Int]]
    var indexOfKey: [String: Int] = [:]

    public init(options: Options) throws {
        self.options = options
        let dataset = try Self.read(options)
        guard let csv = dataset.labelsFile else {
            throw WorkflowError(
                "\(options.data.path): review needs a labels CSV (train_labels.csv beside train/, or labels.csv); "
                    + "class folders hold their labels in folder names, which review does not move")
        }
        reviewed = try ReviewedLabels(
            source: csv, nameColumn: options.nameColumn, labelColumn: options.labelColumn,
            delimiter: options.delimiter)
        classes = dataset.classes
        let root =
            options.data.pathExtension.lowercased() == "csv" ? options.data.deletingLastPathComponent() : options.data
        var photos = dataset.items.map {
            Photo(
                key: Self.key($0.url, root: root), url: $0.url, name: $0.name,
                given: $0.labelSet ?? $0.label.map { [$0] })
        }
        for url in try Self.poolPhotos(options, root: root) {
            photos.append(Photo(key: Self.key(url, root: root), url: url, name: url.lastPathComponent, given: nil))
        }
        self.photos = photos
        for (i, photo) in photos.enumerated() { indexOfKey[photo.key] = i }
        bursts = Bursts.events(
            photos.map { ImageItem(url: $0.url, name: $0.name, label: nil) },
            tags: photos.map { EXIF.tags(ofFile: $0.url) }, gap: options.burstGap
        ).map(\.members).filter { $0.count > 1 }
        journal = try ReviewJournal(url: root.appendingPathComponent("review.journal.jsonl"))
        labels = photos.map(\.given)
        revisions = Array(repeating: 0, count: photos.count)
        fingerprints = Array(repeating: nil, count: photos.count)
        queues = [.all: Array(photos.indices)]
        model = try options.model.map { try ReviewModel(photos: photos.map(\.url), options: $0) }
        replay()
        try updateModel()
    }

    static func read(_ options: Options) throws -> ImageDataset {
        try options.task.workflow.labelled(
            options.data,
            columns: LabelColumns(name: options.nameColumn, label: options.labelColumn, delimiter: options.delimiter),
            among: nil)
    }

    /// The unlabelled photos: `--pool`, else `test/` beside the data when no labels come with it.
    static func poolPhotos(_ options: Options, root: URL) throws -> [URL] {
        if let pool = options.pool { return try DataSource.unlabelled(pool).items.map(\.url) }
        let test = DataSource.testFolder(besides: options.data)
        guard FileManager.default.fileExists(atPath: test.path), DataSource.labelsCSV(for: test) == nil else {
            return []
        }
        return (try? DataSource.unlabelled(test).items.map(\.url)) ?? []  // a test folder without photos: no pool
    }

    static func key(_ url: URL, root: URL) -> String {
        let path = url.standardized.path, base = root.standardized.path + "/"
        return path.hasPrefix(base) ? String(path.dropFirst(base.count)) : path
    }

    /// The journal's decisions applied in order (a photo no longer in the folder is skipped; the journal keeps it).
    private func replay() {
        for decision in journal.decisions {
            guard let i = indexOfKey[decision.photo] else { continue }
            labels[i] = decision.labels.compactMap { classes.firstIndex(of: $0) }
            // No label after an undo (or on single-label data): back to the CSV's labels, or unlabelled.
            if labels[i]?.isEmpty == true && (decision.undo == true || !options.severalLabels) {
                labels[i] = photos[i].given
            }
            revisions[i] = decision.revision
            fingerprints[i] = decision.fingerprint
        }
    }

    /// Retrains the heads on the current labels and rebuilds the queues (seconds; the page's "update the model").
    public func updateModel() throws {
        let snapshot = lock.withLock { labels }
        guard let model else { return }
        let task = options.task.workflow
        let predictions = try model.predict(labels: snapshot, classes: classes.count, task: task)
        let queues = try ReviewQueue.build(
            labels: snapshot, classes: classes.count, task: task, predictions: predictions,
            model: model)
        lock.withLock { (self.predictions, self.queues) = (predictions, queues) }
    }
}
