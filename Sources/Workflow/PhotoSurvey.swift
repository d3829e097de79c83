import Foundation
import Torch
import Vision

/// Which photos are copies of each other and which were taken in one burst: the search behind `check`, `explore`
/// and `train`'s split. Reads each photo's bytes, EXIF and presize-cache entry once (``PhotoPrint``).
public struct PhotoSurvey: Sendable {
    public var items: [ImageItem]
    public var prints: [PhotoPrint?]
    public var clusters: [NearDuplicates.Cluster]
    /// The similarity copies reach.
    public var threshold = NearDuplicates.threshold
    /// The seconds the search took (prints and clusters; after the presize).
    public var seconds: Double

    /// Presizes `items` into `cache` (what is not there yet, unless `presized`), prints them and finds the clusters.
    public static func run(
        _ items: [ImageItem], cache: PresizeCache, threshold: Double = NearDuplicates.threshold, presized: Bool = false
    ) throws -> PhotoSurvey {
        if !presized { _ = cache.fill(items) }  // unreadable photos are reported by whoever read the data set
        let start = Date()
        let prints = PhotoPrint.measure(items, cache: cache)
        let clusters = try NearDuplicates.clusters(prints, threshold: threshold)
        return PhotoSurvey(
            items: items, prints: prints, clusters: clusters, threshold: threshold,
            seconds: Date().timeIntervalSince(start))
    }

    /// Whether another photo of `cluster` has the same bytes as photo `i`.
    public func hasTwin(_ i: Int, in cluster: NearDuplicates.Cluster) -> Bool {
        guard let content = prints[i]?.content else { return false }
        return cluster.members.contains { $0 != i && prints[$0]?.content == content }
    }

    /// The photos of a cluster with another photo of the same bytes in it.
    public var withTwins: Int {
        clusters.reduce(0) { total, cluster in total + cluster.members.filter { hasTwin($0, in: cluster) }.count }
    }

    /// The photos in a cluster.
    public var clusteredCount: Int { clusters.reduce(0) { $0 + $1.members.count } }

    /// Lines for a terminal: the clusters (the first few by name) and the photos without a capture time.
    public func summary(listing limit: Int = 5) -> [String] {
        var lines: [String] = []
        let readable = prints.compactMap { $0 }.count
        if unreadable > 0 {
            lines.append("\(unreadable) photo(s) could not be fingerprinted (unreadable): in no cluster")
        }
        if clusters.isEmpty {
            lines.append(
                "near-duplicates: none among \(readable) photos" + String(format: " (searched in %.1f s)", seconds))
        } else {
            lines.append(
                "near-duplicates: \(clusters.count) cluster(s) holding \(clusteredCount) photos (\(withTwins) with a "
                    + "byte-identical twin)" + String(format: ", searched in %.1f s", seconds))
            for cluster in clusters.prefix(limit) {
                let names = cluster.members.prefix(6).map { items[$0].name }.joined(separator: ", ")
                lines.append(
                    "  \(cluster.exact ? "exact" : "near "): \(names)\(cluster.members.count > 6 ? ", …" : "")")
            }
            if clusters.count > limit {
                lines.append("  … and \(clusters.count - limit) more (--near-duplicates FILE)")
            }
        }
        let untimed = prints.compactMap { $0 }.filter { $0.exif.takenSeconds == nil }.count
        if untimed > 0 {
            lines.append(
                "capture time (EXIF DateTimeOriginal): missing on \(untimed) of \(readable) photos; "
                    + "each of those is an event of its own")
        }
        return lines
    }

    /// The events (bursts) of the photos at a gap of `gap` seconds.
    public func events(gap: Double) -> [Bursts.Event] {
        Bursts.events(items, tags: prints.map { $0?.exif }, gap: gap)
    }

    /// `cluster,image,kind`: one row per photo in a cluster, the image by name; `kind` is `exact` when another photo
    /// of the cluster has the same bytes, else `near`.
    public func writeClusters(to url: URL) throws {
        var csv = "cluster,image,kind\n"
        for (k, cluster) in clusters.enumerated() {
            for i in cluster.members {
                csv += CSVTable.row(["\(k + 1)", items[i].name, hasTwin(i, in: cluster) ? "exact" : "near"]) + "\n"
            }
        }
        try AtomicFile.write(Data(csv.utf8), to: url)
    }

    /// The photos of `others` (a test folder's, surveyed alike) with a near-duplicate here, each with one of its
    /// near-duplicates; only near-duplicates among `amongst` (indices here) count when it is given.
    public func copies(in others: PhotoSurvey, amongst: Set<Int>? = nil) throws -> [(other: Int, here: Int)] {
        try NearDuplicates.matches(of: others.prints, in: prints, threshold: threshold).enumerated().compactMap {
            q, matches in
            matches.first { amongst?.contains($0) ?? true }.map { (q, $0) }
        }
    }

    /// Photos that could not be fingerprinted (unreadable, or their presized view could not be made).
    public var unreadable: Int { prints.filter { $0 == nil }.count }
}
