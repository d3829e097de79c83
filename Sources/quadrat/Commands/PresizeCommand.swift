import ArgumentParser
import Foundation
import Vision

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

    @OptionGroup var limits: ImageLimitOptions
    @OptionGroup var columns: CSVColumns

    func validate() throws {
        guard (32...4096).contains(size) else { throw ValidationError("--size must be 32 to 4096, not \(size)") }
    }

    func run() throws {
        let url = URL(fileURLWithPath: data)
        let dataset = unlabelled ? try DataSource.unlabelled(url) : try columns.labelled(data)
        let cache = PresizeCache(shorterSide: size)
        let start = Date()
        let problems = cache.fill(dataset.items)
        let seconds = Date().timeIntervalSince(start)
        print(
            String(
                format: "%d images in %.1f s (%.0f img/s) → %@", dataset.items.count, seconds,
                Double(dataset.items.count) / max(seconds, 1e-9), cache.folder.path))
        for p in problems { print("  \(p)") }
        if !problems.isEmpty { throw ExitCode.failure }
    }
}
