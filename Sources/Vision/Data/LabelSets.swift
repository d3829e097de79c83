import Foundation

/// Several labels per photo, from one column of a labels CSV whose cells list them (the Planet set's `tags`:
/// `haze primary water`): the label vocabulary, each photo's set, how often each label is used, and what is wrong.
/// A photo may have no label at all (an empty cell).
public struct LabelSets: Sendable {
    /// The labels in the order `ImageDataset.orderedClasses` gives them.
    public var vocabulary: [String]
    /// The photos the CSV names that exist, in its order.
    public var items: [ImageItem]
    /// Each item's labels, as indices into ``vocabulary``.
    public var sets: [Set<Int>]
    /// Each item's CSV line.
    public var lines: [Int]
    /// Rows that name no photo, or name one twice; and every label used by one photo only.
    public var problems: [DataProblem]
    /// The CSV they were read from.
    public var labelsFile: URL

    /// Photos with each label.
    public var counts: [Int] { vocabulary.indices.map { label in sets.filter { $0.contains(label) }.count } }

    /// Photos with no label.
    public var unlabelledCount: Int { sets.filter(\.isEmpty).count }

    /// The photos as a multi-label data set: each item's ``ImageItem/labelSet`` its labels, the vocabulary its classes.
    public var dataset: ImageDataset {
        var labelled = items
        for i in labelled.indices { labelled[i].labelSet = sets[i].sorted() }
        return ImageDataset(
            items: labelled, classes: vocabulary, problems: problems, labelsFile: labelsFile, isMultiLabel: true)
    }

    /// Reads `data`: a Kaggle-layout folder (`train/` with `train_labels.csv`), a folder of photos with its labels
    /// beside it (`test/` and `test_labels.csv`) or inside it (`labels.csv`), or a labels CSV. The name column is
    /// the first unless `nameColumn`, the labels column the second unless `labelColumn`; labels are separated by
    /// `delimiter` (blanks around them ignored).
    public static func read(
        _ data: URL, nameColumn: String? = nil, labelColumn: String? = nil, delimiter: String = " "
    ) throws -> LabelSets {
        let train = data.appendingPathComponent("train")
        var isFolder: ObjCBool = false
        let hasTrain = FileManager.default.fileExists(atPath: train.path, isDirectory: &isFolder) && isFolder.boolValue
        let images: URL, csv: URL?
        if data.pathExtension.lowercased() == "csv" {
            (csv, images) = (data, DataSource.imageFolder(forLabels: data))
        } else {
            let folder = hasTrain ? train : data
            (csv, images) = (DataSource.labelsCSV(for: folder), folder)
        }
        guard let csv else {
            throw DataProblem(
                .missingFile, path: data.path,
                "has no labels CSV (train_labels.csv beside train/, NAME_labels.csv beside a folder NAME, or "
                    + "labels.csv inside it): multi-label data needs one")
        }
        return try parse(
            CSVTable(url: csv), csv: csv, files: DataSource.filesByName(in: images), nameColumn: nameColumn,
            labelColumn: labelColumn, delimiter: delimiter)
    }

    /// The label sets of a parsed labels CSV (`csv` names it in problems) whose names are looked up in `files`
    /// (``DataSource/filesByName(in:)``).
    public static func parse(
        _ table: CSVTable, csv: URL, files: [String: URL], nameColumn: String?, labelColumn: String?, delimiter: String
    ) throws -> LabelSets {
        let name = try DataSource.column(nameColumn, default: 0, in: table, csv: csv)
        let label = try DataSource.column(labelColumn, default: 1, in: table, csv: csv)
        var rows: [(item: ImageItem, labels: [String], line: Int)] = []
        var problems: [DataProblem] = []
        var seen: [String: Int] = [:]
        for (line, fields) in table.rows {
            guard fields.count == table.header.count else {
                problems.append(
                    DataProblem(
                        .badCSV, path: csv.path, line: line,
                        "has \(fields.count) field(s), expected \(table.header.count)"))
                continue
            }
            // Not NSString.deletingPathExtension: it traps on some names (a fuzzer found "///.//" shapes).
            let stem = DataSource.removingExtension(fields[name])
            guard let url = files[fields[name]] ?? files[stem] else {
                problems.append(
                    DataProblem(.missingFile, path: csv.path, line: line, "names '\(fields[name])', no photo"))
                continue
            }
            if let first = seen[url.path] {
                problems.append(
                    DataProblem(.duplicateName, path: csv.path, line: line, "names the photo of line \(first)"))
                continue
            }
            seen[url.path] = line
            let labels = fields[label].components(separatedBy: delimiter)
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            rows.append(
                (ImageItem(url: url, name: url.deletingPathExtension().lastPathComponent, label: nil), labels, line))
        }
        guard !rows.isEmpty else {
            let detail = problems.prefix(3).map(\.description).joined(separator: "; ")
            throw DataProblem(
                .noImages, path: csv.path, "yields no usable labelled images" + (detail.isEmpty ? "" : ": \(detail)"))
        }
        let vocabulary = ImageDataset.orderedClasses(rows.flatMap(\.labels))
        let index = Dictionary(uniqueKeysWithValues: vocabulary.enumerated().map { ($1, $0) })
        var sets = LabelSets(
            vocabulary: vocabulary, items: rows.map(\.item), sets: rows.map { Set($0.labels.compactMap { index[$0] }) },
            lines: rows.map(\.line), problems: problems, labelsFile: csv)
        sets.problems += sets.singletons(csv: csv)
        return sets
    }

    /// The photos as a multi-label data set whose labels are `classes` (a model's): a photo with a label outside
    /// them is left out with a problem naming its line.
    public func dataset(among classes: [String]) -> ImageDataset {
        let index = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
        var kept: [ImageItem] = []
        var problems = self.problems.filter { $0.kind != .badLabel }
        for (i, item) in items.enumerated() {
            let names = sets[i].sorted().map { vocabulary[$0] }
            if let unknown = names.first(where: { index[$0] == nil }) {
                problems.append(
                    DataProblem(
                        .badLabel, path: labelsFile.path, line: lines[i],
                        "has label '\(unknown)', which is not one of the labels \(classes.joined(separator: ", "))"))
                continue
            }
            var labelled = item
            labelled.labelSet = names.compactMap { index[$0] }.sorted()
            kept.append(labelled)
        }
        return ImageDataset(
            items: kept, classes: classes, problems: problems, labelsFile: labelsFile, isMultiLabel: true)
    }

    /// A label used by one photo only: a model can neither learn it nor be scored on it.
    func singletons(csv: URL) -> [DataProblem] {
        zip(vocabulary, counts).enumerated().compactMap { label, entry in
            guard entry.1 == 1, let row = sets.firstIndex(where: { $0.contains(label) }) else { return nil }
            return DataProblem(
                .badLabel, path: csv.path, line: lines[row],
                "label '\(entry.0)' is used by this photo only: a model can neither learn it nor be scored on it "
                    + "(merge it with another label or drop it)")
        }
    }
}
