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
        // A Kaggle-layout folder has its unlabelled photos in test/: count them too.
        let testFolder = URL(fileURLWithPath: data).appendingPathComponent("test")
        var isFolder: ObjCBool = false
        let test =
            FileManager.default.fileExists(atPath: testFolder.path, isDirectory: &isFolder) && isFolder.boolValue
            ? try DataSource.unlabelled(testFolder) : nil
        if let test { print("test/: \(test.items.count) unlabelled images") }
        let preview = AugmentationPreview.rows(
            dataset, augmentation: Augmentation(preset: augmentation.rawValue) ?? .sideOn, size: size)
        let page = ReportBuilder.exploration(
            dataset, test: test, brightness: brightness, augmentation: preview,
            title: "Quadrat — \(URL(fileURLWithPath: data).lastPathComponent)")
        try AtomicFile.write(page, to: URL(fileURLWithPath: out))
        print("page: \(out)")
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
