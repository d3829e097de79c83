import ArgumentParser
import Foundation
import Learn
import Vision
import Workflow

/// `quadrat check DATA`: every problem in a data set, at once, and the copies and bursts in it.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Verify images and labels; list every problem and exit non-zero if there are any.",
        discussion: """
            Also finds exact and near-duplicate photos (resized, recompressed, slightly cropped or brightened \
            copies) within the data and between it and its test/ folder, and counts the photos without an EXIF \
            capture time (each of those is a burst of its own for --group-by burst). Duplicates are reported, \
            not counted as problems.

            Example: quadrat check ~/invasive --quarantine ~/invasive-bad --near-duplicates dups.csv
            """
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
    @Option(help: "Write the duplicate clusters to this CSV (cluster,image,kind).")
    var nearDuplicates: String?
    @Option(
        help:
            "The likeness (0–1) at which two photos count as copies; lower finds more edited copies, and more false ones."
    )
    var duplicateSimilarity = NearDuplicates.threshold
    @Flag(help: "Skip the duplicate and burst search (it presizes every photo the first time).")
    var noDuplicates = false
    @OptionGroup var columns: CSVColumns
    @Option(
        help: """
            single-label (default), or multi-label: the label column lists several labels per photo (the Planet \
            set's tags); check reports the label vocabulary and refuses a label used by one photo only.
            """)
    var task: TaskKind = .singleLabel
    @Option(help: "multi-label: what separates the labels in a cell (default: a space).")
    var labelDelimiter: String?

    @OptionGroup var limits: ImageLimitOptions

    func validate() throws {
        guard (0...1).contains(duplicateSimilarity) else {
            throw ValidationError("--duplicate-similarity must be 0 to 1, not \(duplicateSimilarity)")
        }
        if labelDelimiter?.isEmpty == true { throw ValidationError("--label-delimiter must not be empty") }
        if !task.task.decidesEachClass, labelDelimiter != nil {
            throw ValidationError("--label-delimiter is for --task multi-label")
        }
    }

    func run() throws {
        let url = URL(fileURLWithPath: data)
        let dataset: ImageDataset
        do {
            dataset =
                unlabelled
                ? try DataSource.unlabelled(url)
                : try task.workflow.labelled(
                    url,
                    columns: LabelColumns(
                        name: columns.nameColumn, label: columns.labelColumn, delimiter: labelDelimiter ?? " "),
                    among: nil)
        } catch let problem as DataProblem {
            print("1 problem:\n  \(problem)")
            throw ExitCode.failure
        }
        let problems = DataCheck.problems(in: dataset)
        for line in unlabelled ? ["\(dataset.items.count) images"] : try task.workflow.census(dataset) { print(line) }
        if !noDuplicates {
            var search = DuplicateCheck(data: url)
            (search.threshold, search.clustersFile) = (
                duplicateSimilarity, nearDuplicates.map(URL.init(fileURLWithPath:))
            )
            try search.run(dataset, compareWithTest: !unlabelled) { print($0) }
        }
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
