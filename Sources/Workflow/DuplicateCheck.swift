import Foundation
import Vision

/// `check`'s duplicate search: the clusters within a data set (written as CSV when asked) and, for labelled data,
/// the photos of the test folder beside it that have a near-duplicate in training.
public struct DuplicateCheck {
    /// The data as `check` was given it (a folder or a labels CSV): where the test folder is looked for.
    public var data: URL
    public var threshold = NearDuplicates.threshold
    /// Where to write the clusters (`cluster,image,kind`); nil: nowhere.
    public var clustersFile: URL?

    public init(data: URL) { self.data = data }

    /// Searches `dataset` (and, when `compareWithTest`, the test folder) and says what it found, line by line.
    public func run(_ dataset: ImageDataset, compareWithTest: Bool, say: (String) -> Void) throws {
        let cache = PresizeCache(shorterSide: PresizeCache.defaultShorterSide(forSize: TrainOptions.defaultSize))
        let survey = try PhotoSurvey.run(dataset.items, cache: cache, threshold: threshold)
        for line in survey.summary() { say(line) }
        if let clustersFile {
            try survey.writeClusters(to: clustersFile)
            say("clusters: \(clustersFile.path)")
        }
        guard compareWithTest, let test = try? DataSource.unlabelled(DataSource.testFolder(besides: data)) else {
            return  // no readable test folder beside the data: nothing to compare with
        }
        let copies = try survey.copies(in: PhotoSurvey.run(test.items, cache: cache, threshold: threshold))
        let examples: [String] = copies.prefix(5).map {
            "\(test.items[$0.other].name) ≈ \(dataset.items[$0.here].name)"
        }
        let listed = examples.isEmpty ? "" : " (" + examples.joined(separator: ", ") + (copies.count > 5 ? ", …)" : ")")
        say(
            "test/: \(copies.count) of \(test.items.count) photos have a near-duplicate in training (a copy or a "
                + "look-alike)" + listed)
    }
}
