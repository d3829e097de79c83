import Foundation
import Torch
import Vision

/// `labels.reviewed.csv`: the labels CSV as the review left it, written whole after every decision (atomically: a
/// reader sees the old file or the new one). The original CSV is never touched unless `--in-place`, and then only
/// after a backup (`NAME.before-review.csv`, made once).
public struct ReviewedLabels {
    /// The original labels CSV and the columns holding the photo's name and its labels.
    public var original: CSVTable
    public var source: URL
    public var nameColumn: Int, labelColumn: Int
    /// How several labels of one photo are joined (multi-label data).
    public var delimiter: String

    public init(source: URL, nameColumn: String?, labelColumn: String?, delimiter: String = " ") throws {
        original = try CSVTable(url: source)
        self.source = source
        self.nameColumn = try DataSource.column(nameColumn, default: 0, in: original, csv: source)
        self.labelColumn = try DataSource.column(labelColumn, default: 1, in: original, csv: source)
        self.delimiter = delimiter
    }

    /// Where the reviewed labels go: `labels.reviewed.csv` beside the original.
    public var reviewedURL: URL {
        source.deletingLastPathComponent().appendingPathComponent(
            source.deletingPathExtension().lastPathComponent + ".reviewed.csv")
    }

    /// The backup of the original that `--in-place` makes before its first write.
    public var backupURL: URL {
        source.deletingLastPathComponent().appendingPathComponent(
            source.deletingPathExtension().lastPathComponent + ".before-review.csv")
    }

    /// The CSV text with `labels` (by the photo's name as the data set names it: the file name without extension)
    /// in place of the original's, then one row for each photo in `added` (pool photos, by file name) in order.
    public func text(labels: [String: [String]], added: [(file: String, labels: [String])]) -> String {
        let width = original.header.count
        var text = CSVTable.row(original.header) + "\n"
        for (_, fields) in original.rows {
            var row = fields + Array(repeating: "", count: max(0, width - fields.count))
            if nameColumn < fields.count, let reviewed = labels[DataSource.removingExtension(fields[nameColumn])] {
                row[labelColumn] = reviewed.joined(separator: delimiter)
            }
            text += CSVTable.row(row) + "\n"
        }
        for (file, reviewed) in added {
            var row = Array(repeating: "", count: width)
            (row[nameColumn], row[labelColumn]) = (file, reviewed.joined(separator: delimiter))
            text += CSVTable.row(row) + "\n"
        }
        return text
    }

    /// Writes `text` to ``reviewedURL``, and `original` (the CSV's own rows, without pool photos, which its image
    /// folder does not hold) over the labels CSV when given (`--in-place`), after the backup.
    public func write(_ text: String, original: String? = nil) throws {
        try AtomicFile.write(text, to: reviewedURL)
        guard let original else { return }
        if !FileManager.default.fileExists(atPath: backupURL.path) {
            try AtomicFile.write(Data(contentsOf: source), to: backupURL)
        }
        try AtomicFile.write(original, to: source)
    }
}
