import ArgumentParser
import Foundation
import Learn
import NN
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
    @Option(name: .customLong("name-column")) var nameColumn: String?
    @Option(name: .customLong("label-column")) var labelColumn: String?

    func run() throws {
        let dataset = try DataSource.labelled(URL(fileURLWithPath: data), nameColumn: nameColumn, labelColumn: labelColumn)
        print("\(dataset.items.count) images in \(dataset.classes.count) classes")
        for (name, count) in zip(dataset.classes, dataset.classCounts) {
            print("  " + name.padding(toLength: 16, withPad: " ", startingAt: 0) + String(format: "%6d  %5.1f%%", count, 100 * Double(count) / Double(max(1, dataset.items.count))))
        }
        let sizes = dataset.items.compactMap { try? ImageDecoder.size(of: $0.url) }
        if !sizes.isEmpty {
            let widths = sizes.map(\.width).sorted(), heights = sizes.map(\.height).sorted()
            print("widths:  min \(widths[0]), median \(widths[widths.count / 2]), max \(widths[widths.count - 1])")
            print("heights: min \(heights[0]), median \(heights[heights.count / 2]), max \(heights[heights.count - 1])")
        }
        let brightness = BrightnessSummary.measure(dataset)
        printBrightness(brightness, classes: dataset.classes)
        if !dataset.problems.isEmpty { print("\(dataset.problems.count) problem(s) in the labels: run `quadrat check \(data)`") }
        try ReportBuilder.exploration(dataset, brightness: brightness, title: "Quadrat — \(URL(fileURLWithPath: data).lastPathComponent)").write(toFile: out, atomically: true, encoding: .utf8)
        print("page: \(out)")
    }
}

/// Prints each class's mean brightness, and a hint when brightness alone tells classes apart.
func printBrightness(_ summary: BrightnessSummary, classes: [String]) {
    print("brightness (mean luma, 0–255, up to 300 images a class):")
    for (i, name) in classes.enumerated() where summary.counts[i] > 0 {
        print("  " + name.padding(toLength: 16, withPad: " ", startingAt: 0) + String(format: "%6.1f ± %4.1f", summary.means[i], summary.deviations[i]))
    }
    if let hint = summary.hint(classes: classes) { print("hint: " + hint) }
}

/// `quadrat presize DATA`.
struct PresizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "presize",
        abstract: "Fill the presize cache: decode every image once and store it with its shorter side at SIZE.",
        discussion: "Example: quadrat presize ~/invasive --size 280   (train uses 1.25 × the model size by default)"
    )

    @Argument(help: "A labelled data folder, a labels CSV, or (with --unlabelled) a folder of images.") var data: String
    @Option(help: "Shorter side in pixels.") var size: Int = 280
    @Flag(help: "DATA is a folder of unlabelled images.") var unlabelled = false

    func run() throws {
        let url = URL(fileURLWithPath: data)
        let dataset = unlabelled ? try DataSource.unlabelled(url) : try DataSource.labelled(url)
        let cache = PresizeCache(shorterSide: size)
        let start = Date()
        let problems = cache.fill(dataset.items)
        let seconds = Date().timeIntervalSince(start)
        print(String(format: "%d images in %.1f s (%.0f img/s) → %@", dataset.items.count, seconds, Double(dataset.items.count) / max(seconds, 1e-9), cache.folder.path))
        for p in problems { print("  \(p)") }
        if !problems.isEmpty { throw ExitCode.failure }
    }
}

/// `quadrat lr-find DATA`.
struct LRFindCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lr-find",
        abstract: "The learning-rate range test for the new head: prints the suggestions and plots the curve.",
        discussion: "Example: quadrat lr-find ~/invasive --out lr_find.html"
    )

    @Argument(help: "A labelled data folder or labels CSV.") var data: String
    @Option(help: "Architecture.") var arch: String = Architecture.efficientNetLite0.rawValue
    @Option(help: "Input size (default: the architecture's).") var size: Int?
    @Option(help: "Checkpoint for the body (ResNets).") var weights: String?
    @Option(help: "Where to write the plot.") var out: String = "lr_find.html"

    func run() throws {
        Torch.useAllCores()
        let architecture = try Architecture(named: arch)
        let size = self.size ?? architecture.defaultSize
        let dataset = try DataSource.labelled(URL(fileURLWithPath: data))
        let cache = PresizeCache(shorterSide: PresizeCache.defaultShorterSide(forSize: size))
        cache.fill(dataset.items)
        let classifier = try Classifier(architecture, classes: dataset.classes, weights: weights.map { URL(fileURLWithPath: $0) })
        let loader = DataLoader(dataset, size: size, normalization: architecture.normalization, cache: cache)
        let features = try classifier.precompute(loader, label: "precompute", mixedPrecision: true)
        let tail = classifier.headAfterPooling
        let learner = Learner(model: tail, groups: [[tail]], train: FeatureBatches(features: features.features, labels: features.labels), valid: nil)
        let result = try learner.findLearningRate()
        print(String(format: "suggested learning rate: %.2e (valley), %.2e (steepest)", result.valley, result.steepest))
        try ReportBuilder.lrFinderPage(result, title: "Quadrat — LR finder on \(URL(fileURLWithPath: data).lastPathComponent)").write(toFile: out, atomically: true, encoding: .utf8)
        print("plot: \(out)")
    }
}
