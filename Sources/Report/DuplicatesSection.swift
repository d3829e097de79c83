import Foundation
import Vision

/// What the duplicate search found, for `explore.html`: clusters of copies within the data, and test photos that
/// are copies of training photos, each shown as thumbnails.
public struct DuplicateListing: Sendable {
    /// Each cluster's photos, and whether each has a byte-identical twin in it.
    public var clusters: [[(item: ImageItem, exact: Bool)]]
    /// Test photos and a training photo each is a copy of.
    public var testCopies: [(test: ImageItem, train: ImageItem)]
    /// How many photos were searched (training, then test).
    public var searched: (train: Int, test: Int)
    public var seconds: Double

    public init(
        clusters: [[(item: ImageItem, exact: Bool)]], testCopies: [(test: ImageItem, train: ImageItem)],
        searched: (train: Int, test: Int), seconds: Double
    ) {
        (self.clusters, self.testCopies, self.searched, self.seconds) = (clusters, testCopies, searched, seconds)
    }
}

enum DuplicatesSection {
    /// The clusters and test copies shown (the rest are counted).
    static let shown = 12

    static func html(_ listing: DuplicateListing, classes: [String], cache: PresizeCache?) -> String {
        var html = "<section id='duplicates'><h2>Near-duplicates</h2>"
        let photos = listing.clusters.reduce(0) { $0 + $1.count }
        html +=
            "<p>\(listing.clusters.count) cluster(s) of copies holding \(photos) of \(listing.searched.train) photos "
            + String(format: "(searched in %.1f s)", listing.seconds)
            + ": resized, recompressed, slightly cropped or brightened copies, byte-identical ones, and look-alikes "
            + "(photos of one kind can be nearly the same). <code>train</code> keeps each cluster on one side of its "
            + "split unless <code>--split-duplicates</code>.</p>"
        func caption(_ item: ImageItem, exact: Bool) -> String {
            let label = item.label.flatMap { $0 < classes.count ? classes[$0] : nil }.map { " · \($0)" } ?? ""
            return item.name + label + (exact ? " · same bytes" : "")
        }
        for (k, cluster) in listing.clusters.prefix(shown).enumerated() {
            html +=
                "<h3>Cluster \(k + 1): \(cluster.count) photos</h3><div class='grid'>"
                + cluster.prefix(8).map {
                    ReportPage.figure($0.item, caption: caption($0.item, exact: $0.exact), cache: cache, style: "")
                }
                .joined() + "</div>"
        }
        if listing.clusters.count > shown {
            html +=
                "<p class='note'>… and \(listing.clusters.count - shown) more clusters (<code>quadrat check "
                + "--near-duplicates FILE</code> lists them all).</p>"
        }
        if listing.searched.test > 0 {
            html +=
                "<h3>Test photos with a near-duplicate in training (a copy or a look-alike): \(listing.testCopies.count) of "
                + "\(listing.searched.test)</h3>"
            html += "<div class='grid'>"
            for copy in listing.testCopies.prefix(shown) {
                html += ReportPage.figure(copy.test, caption: "test \(copy.test.name)", cache: cache, style: "")
                html += ReportPage.figure(
                    copy.train, caption: "≈ training \(caption(copy.train, exact: false))", cache: cache, style: "")
            }
            html += "</div>"
        }
        return html + "</section>"
    }
}
