import Foundation

/// What the review page loads: every photo with its labels, revision and the model's probabilities, the queues and
/// the bursts. Short keys: the page loads this for 10,000 photos and more.
public struct ReviewState: Codable, Sendable {
    /// One photo: key (`k`), label indices (`l`, nil when unlabelled), revision (`r`), probabilities (`p`, 3
    /// decimals), changed on disk since reviewed (`c`), a pool photo (`u`).
    public struct Photo: Codable, Sendable {
        public var k: String
        public var l: [Int]?
        public var r: Int
        public var p: [Double]?
        public var c: Bool?
        public var u: Bool?
    }

    /// Where the reviewer was: the queue and photo of the last decision.
    public struct Resume: Codable, Sendable {
        public var queue: String
        public var photo: Int
    }

    public var classes: [String]
    public var multiLabel: Bool
    public var photos: [Photo]
    public var queues: [String: [Int]]
    public var bursts: [[Int]]
    public var resume: Resume?
    public var decisions: Int
    public var reviewedFile: String
    public var model: Bool
    public var unreadable: Int
}

extension ReviewSession {
    /// The state as the page shows it now.
    public func state() -> ReviewState {
        lock.withLock {
            let photos = self.photos.indices.map { i -> ReviewState.Photo in
                let photo = self.photos[i]
                let changed =
                    revisions[i] > 0 && fingerprints[i] != nil
                    && ReviewDecision.Fingerprint.of(photo.url) != fingerprints[i]
                return .init(
                    k: photo.key, l: labels[i], r: revisions[i],
                    p: predictions?.probabilities[i]?.map { ($0 * 1000).rounded() / 1000 }, c: changed ? true : nil,
                    u: photo.given == nil ? true : nil)
            }
            let resume = journal.decisions.last.flatMap { last in
                indexOfKey[last.photo].map {
                    ReviewState.Resume(queue: last.queue ?? ReviewQueue.all.rawValue, photo: $0)
                }
            }
            return ReviewState(
                classes: classes, multiLabel: options.severalLabels, photos: photos,
                queues: Dictionary(uniqueKeysWithValues: queues.map { ($0.key.rawValue, $0.value) }), bursts: bursts,
                resume: resume, decisions: journal.decisions.count, reviewedFile: reviewed.reviewedURL.path,
                model: model != nil, unreadable: model?.skipped.count ?? 0)
        }
    }

    /// The photo at `index`, nil when there is none.
    public func photo(_ index: Int) -> Photo? { photos.indices.contains(index) ? photos[index] : nil }
}
