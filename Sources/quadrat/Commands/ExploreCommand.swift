import ArgumentParser
import Foundation
import Report
import Torch
import Vision

/// `quadrat explore DATA`.
struct ExploreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explore",
        abstract: "Class counts, image sizes and sample images: a terminal summary and an HTML page.",
        discussion: "Example: quadrat explore ~/invasive --out explore.html"
    )

    @Argument(help: "A labelled data folder or labels CSV.") var data: String
    @Option(help: "Where to write the HTML page.") var out: String = "explore.html"
    @Option(help: "The augmentation preset to preview: one photo per class, as training would see it.")
    var augmentation: Augmentation.Preset = .sideOn
    @Option(help: "The model input size for the preview.") var size = 224
    @OptionGroup var columns: CSVColumns

    @OptionGroup var limits: ImageLimitOptions

    func validate() throws {
        guard (32...1024).contains(size) else { throw ValidationError("--size must be 32 to 1024, not \(size)") }
    }

    func run() throws {
        let dataset = try columns.labelled(data)
        print("\(dataset.items.count) images in \(dataset.classes.count) classes")
        for (name, count) in zip(dataset.classes, dataset.classCounts) {
            print(
                "  " + name.padding(toLength: 16, withPad: " ", startingAt: 0)
                    + String(format: "%6d  %5.1f%%", count, 100 * Double(count) / Double(max(1, dataset.items.count))))
        }
        // Statistics of the readable images; `quadrat check` lists the others.
        let sizes = dataset.items.compactMap { try? ImageDecoder.size(of: $0.url) }
        if !sizes.isEmpty {
            let widths = sizes.map(\.width).sorted(), heights = sizes.map(\.height).sorted()
            print("widths:  min \(widths[0]), median \(widths[widths.count / 2]), max \(widths[widths.count - 1])")
            print("heights: min \(heights[0]), median \(heights[heights.count / 2]), max \(heights[heights.count - 1])")
        }
        let brightness = BrightnessSummary.measure(dataset)
        printBrightness(brightness, classes: dataset.classes)
        if !dataset.problems.isEmpty {
            print("\(dataset.problems.count) problem(s) in the labels: run `quadrat check \(data)`")
        }
        // A Kaggle-layout folder has its test photos in test/: labelled (test_labels.csv beside it) or not.
        let (test, testLabelled) = try testFolder(classes: dataset.classes)
        if let test {
            if testLabelled {
                let counts = zip(dataset.classes, test.classCounts).map { "\($0) \($1)" }.joined(separator: ", ")
                print(
                    "test/: \(test.items.count) labelled images (\(counts)): held out, scored by train after training "
                        + "and by `quadrat evaluate MODEL \(URL(fileURLWithPath: data).appendingPathComponent("test").path)`"
                )
            } else {
                print("test/: \(test.items.count) unlabelled images")
            }
        }
        let preview = AugmentationPreview.rows(
            dataset, augmentation: Augmentation(preset: augmentation.rawValue) ?? .sideOn, size: size)
        let page = ReportBuilder.exploration(
            dataset, test: test, testLabelled: testLabelled, brightness: brightness, augmentation: preview,
            title: "Quadrat — \(URL(fileURLWithPath: data).lastPathComponent)")
        try AtomicFile.write(page, to: URL(fileURLWithPath: out))
        print("page: \(out)")
    }
}

extension ExploreCommand {
    /// The data folder's `test/`, with its labels when a CSV for it is there (`test_labels.csv` beside it).
    func testFolder(classes: [String]) throws -> (ImageDataset?, labelled: Bool) {
        let root = URL(fileURLWithPath: data)
        do {
            if let labelled = try DataSource.labelledTest(
                besides: root, classes: classes, nameColumn: columns.nameColumn, labelColumn: columns.labelColumn)
            {
                return (labelled, true)
            }
        } catch let problem as DataProblem {
            print("test/: its labels cannot be used (\(problem)); counted as unlabelled")
        }
        let folder = (root.pathExtension.lowercased() == "csv" ? root.deletingLastPathComponent() : root)
            .appendingPathComponent("test")
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder), isFolder.boolValue else {
            return (nil, false)
        }
        return (try DataSource.unlabelled(folder), false)
    }
}

/// Prints each class's mean brightness, and a hint when brightness alone tells classes apart.
func printBrightness(_ summary: BrightnessSummary, classes: [String]) {
    print("brightness (mean luma, 0–255, up to 300 images a class):")
    for (i, name) in classes.enumerated() where summary.counts[i] > 0 {
        print(
            "  " + name.padding(toLength: 16, withPad: " ", startingAt: 0)
                + String(format: "%6.1f ± %4.1f", summary.means[i], summary.deviations[i]))
    }
    if let hint = summary.hint(classes: classes) { print("hint: " + hint) }
}
