import ArgumentParser
import Foundation
import Vision
import Workflow

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

    @Flag(help: "Skip the duplicate search (it presizes every photo the first time).")
    var noDuplicates = false

    func run() throws {
        var job = DataExploration(data: URL(fileURLWithPath: data))
        (job.nameColumn, job.labelColumn) = (columns.nameColumn, columns.labelColumn)
        (job.augmentation, job.size) = (Augmentation(preset: augmentation.rawValue) ?? .sideOn, size)
        job.searchDuplicates = !noDuplicates
        try job.run(page: URL(fileURLWithPath: out)) { print($0) }
    }
}
