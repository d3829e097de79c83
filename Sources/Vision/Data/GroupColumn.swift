import Foundation

/// A column of the labels CSV that says which photos belong together (a site, a camera, a module, a patient): the
/// photos of one group must not fall on both sides of a split.
public enum GroupColumn {
    /// The value of `column` for every item of `dataset`, read from the CSV the dataset came from. Throws naming the
    /// column when the data has no CSV or the CSV lacks it, and the line when a photo's value is empty.
    public static func values(_ column: String, of dataset: ImageDataset, nameColumn: String? = nil) throws -> [String]
    {
        guard let csv = dataset.labelsFile else {
            throw DataProblem(
                .badCSV, path: dataset.items.first?.url.deletingLastPathComponent().path ?? "",
                "is a folder of class folders: --group-by \(column) needs a labels CSV with a '\(column)' column")
        }
        let table = try CSVTable(url: csv)
        guard let groupIndex = table.header.firstIndex(of: column) else {
            throw DataProblem(
                .badCSV, path: csv.path, line: 1,
                "has no column '\(column)' for --group-by; its header is: \(table.header.joined(separator: ", "))")
        }
        let nameIndex = nameColumn.flatMap { table.header.firstIndex(of: $0) } ?? 0
        var byName: [String: String] = [:]
        for (line, fields) in table.rows where fields.count > nameIndex {
            let name = fields[nameIndex]
            let value = fields.count > groupIndex ? fields[groupIndex].trimmingCharacters(in: .whitespaces) : ""
            guard !value.isEmpty else {
                throw DataProblem(
                    .badCSV, path: csv.path, line: line,
                    "has no '\(column)' value for '\(name)': every photo needs a group for --group-by")
            }
            // By the name as written and without its extension, as the data set matches rows to files.
            for key in [name, DataSource.removingExtension(name)] where byName[key] == nil { byName[key] = value }
        }
        return try dataset.items.map { item in
            guard let value = byName[item.name] else {
                throw DataProblem(.badCSV, path: csv.path, "has no row for '\(item.name)' to read its '\(column)' from")
            }
            return value
        }
    }
}
