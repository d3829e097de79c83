import Foundation
import Report
import Torch
import Vision

/// `quadrat explore`'s job: class counts, image sizes, each class's brightness (with a hint when brightness alone
/// separates them), the test folder (labelled or not), and the HTML page with histograms, samples and an
/// augmentation preview. Every line goes to `say`.
public struct DataExploration {
    public var data: URL
    public var nameColumn: String?
    public var labelColumn: String?
    /// What the preview shows: training's view of one photo per class.
    public var augmentation = Augmentation.sideOn
    public var size = 224
    /// Search for exact and near-duplicate photos (presizes every photo the first time).
    public var searchDuplicates = true

    public init(data: URL) { self.data = data }

    public func run(page: URL, say: (String) -> Void) throws {
        let dataset = try DataSource.labelled(data, nameColumn: nameColumn, labelColumn: labelColumn)
        say("\(dataset.items.count) images in \(dataset.classes.count) classes")
        for (name, count) in zip(dataset.classes, dataset.classCounts) {
            say(
                "  " + name.padding(toLength: 16, withPad: " ", startingAt: 0)
                    + String(format: "%6d  %5.1f%%", count, 100 * Double(count) / Double(max(1, dataset.items.count))))
        }
        // Statistics of the readable images; `quadrat check` lists the others.
        let sizes = dataset.items.compactMap { try? ImageDecoder.size(of: $0.url) }
        if !sizes.isEmpty {
            let widths = sizes.map(\.width).sorted(), heights = sizes.map(\.height).sorted()
            say("widths:  min \(widths[0]), median \(widths[widths.count / 2]), max \(widths[widths.count - 1])")
            say("heights: min \(heights[0]), median \(heights[heights.count / 2]), max \(heights[heights.count - 1])")
        }
        let brightness = BrightnessSummary.measure(dataset)
        brightnessLines(brightness, classes: dataset.classes).forEach(say)
        if !dataset.problems.isEmpty {
            say("\(dataset.problems.count) problem(s) in the labels: run `quadrat check \(data.path)`")
        }
        let (test, testLabelled) = try testFolder(classes: dataset.classes, say: say)
        if let test, testLabelled {
            let counts = zip(dataset.classes, test.classCounts).map { "\($0) \($1)" }.joined(separator: ", ")
            say(
                "test/: \(test.items.count) labelled images (\(counts)): held out, scored by train after training "
                    + "and by `quadrat evaluate MODEL \(data.appendingPathComponent("test").path)`")
        } else if let test {
            say("test/: \(test.items.count) unlabelled images")
        }
        let cache = PresizeCache(shorterSide: PresizeCache.defaultShorterSide(forSize: TrainOptions.defaultSize))
        let duplicates = try findDuplicates(dataset, test: test, cache: cache, say: say)
        let preview = AugmentationPreview.rows(dataset, augmentation: augmentation, size: size)
        let html = ReportBuilder.exploration(
            dataset, test: test, testLabelled: testLabelled, brightness: brightness, augmentation: preview,
            duplicates: duplicates, cache: cache, title: "Quadrat — \(data.lastPathComponent)")
        try AtomicFile.write(html, to: page)
        say("page: \(page.path)")
    }

    /// The data folder's `test/`, with its labels when a CSV for it is there (`test_labels.csv` beside it); labels
    /// that cannot be used are said, and the photos counted as unlabelled.
    func testFolder(classes: [String], say: (String) -> Void) throws -> (ImageDataset?, labelled: Bool) {
        do {
            if let labelled = try DataSource.labelledTest(
                besides: data, classes: classes, nameColumn: nameColumn, labelColumn: labelColumn)
            {
                return (labelled, true)
            }
        } catch let problem as DataProblem {
            say("test/: its labels cannot be used (\(problem)); counted as unlabelled")
        }
        let folder = DataSource.testFolder(besides: data)
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder), isFolder.boolValue else {
            return (nil, false)
        }
        return (try DataSource.unlabelled(folder), false)
    }

    /// The duplicate search within the data and against its test folder: said, and listed for the page.
    func findDuplicates(
        _ dataset: ImageDataset, test: ImageDataset?, cache: PresizeCache, say: (String) -> Void
    ) throws -> DuplicateListing? {
        guard searchDuplicates else { return nil }
        let survey = try PhotoSurvey.run(dataset.items, cache: cache)
        survey.summary().forEach(say)
        var copies: [(test: ImageItem, train: ImageItem)] = []
        if let test {
            let testSurvey = try PhotoSurvey.run(test.items, cache: cache)
            copies = try survey.copies(in: testSurvey).map { (test.items[$0.other], dataset.items[$0.here]) }
            say(
                "test/: \(copies.count) of \(test.items.count) photos have a near-duplicate in training (a copy or a look-alike)"
            )
        }
        let clusters = survey.clusters.map { cluster in
            cluster.members.map { (item: dataset.items[$0], exact: survey.hasTwin($0, in: cluster)) }
        }
        return DuplicateListing(
            clusters: clusters, testCopies: copies, searched: (dataset.items.count, test?.items.count ?? 0),
            seconds: survey.seconds)
    }

    /// Each class's mean brightness, and a hint when brightness alone tells classes apart.
    func brightnessLines(_ summary: BrightnessSummary, classes: [String]) -> [String] {
        var lines = ["brightness (mean luma, 0–255, up to 300 images a class):"]
        for (i, name) in classes.enumerated() where summary.counts[i] > 0 {
            lines.append(
                "  " + name.padding(toLength: 16, withPad: " ", startingAt: 0)
                    + String(format: "%6.1f ± %4.1f", summary.means[i], summary.deviations[i]))
        }
        if let hint = summary.hint(classes: classes) { lines.append("hint: " + hint) }
        return lines
    }
}
