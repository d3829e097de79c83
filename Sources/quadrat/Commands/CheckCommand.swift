import ArgumentParser
import Foundation
import Vision

/// `quadrat check DATA`: every problem in a data set, at once.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Verify images and labels; list every problem and exit non-zero if there are any.",
        discussion: "Example: quadrat check ~/invasive --quarantine ~/invasive-bad"
    )

    @Argument(
        help:
            "A labelled data folder (Kaggle layout or class folders), a labels CSV, or with --unlabelled a folder of images."
    )
    var data: String
    @Flag(help: "DATA is a folder of unlabelled images (a test folder).")
    var unlabelled = false
    @Option(help: "Move unreadable images into this folder.")
    var quarantine: String?
    @OptionGroup var columns: CSVColumns

    @OptionGroup var limits: ImageLimitOptions

    func run() throws {
        let url = URL(fileURLWithPath: data)
        let dataset: ImageDataset
        do {
            dataset =
                unlabelled
                ? try DataSource.unlabelled(url)
                : try columns.labelled(data)
        } catch let problem as DataProblem {
            print("1 problem:\n  \(problem)")
            throw ExitCode.failure
        }
        let problems = DataCheck.problems(in: dataset)
        let counts =
            dataset.classes.isEmpty
            ? "" : ", " + zip(dataset.classes, dataset.classCounts).map { "\($0): \($1)" }.joined(separator: ", ")
        print("\(dataset.items.count) images\(counts)")
        guard !problems.isEmpty else {
            print("no problems found")
            return
        }
        print("\(problems.count) problem(s):")
        for p in problems { print("  \(p)") }
        if let quarantine {
            let result = try DataCheck.quarantine(problems, to: URL(fileURLWithPath: quarantine))
            print("moved \(result.moved) unreadable image(s) to \(quarantine)")
            for line in result.failed { print("  \(line)") }
        }
        throw ExitCode.failure
    }
}
