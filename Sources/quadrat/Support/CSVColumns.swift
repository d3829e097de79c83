import ArgumentParser
import Foundation
import Vision

/// `--name-column` and `--label-column`, the same on every command that reads a labels CSV.
struct CSVColumns: ParsableArguments {
    @Option(name: .customLong("name-column"), help: "CSV column with image names (default: the first).")
    var nameColumn: String?
    @Option(name: .customLong("label-column"), help: "CSV column with labels (default: the second).")
    var labelColumn: String?

    /// The labelled data set at `path`, read with these columns.
    func labelled(_ path: String) throws -> ImageDataset {
        try DataSource.labelled(URL(fileURLWithPath: path), nameColumn: nameColumn, labelColumn: labelColumn)
    }
}
