import Foundation

/// Reads labelled and unlabelled image collections in the layouts users have.
public enum DataSource {
    /// The Kaggle layout: a folder of images and a CSV naming each image (with or without
    /// extension) and its label. Columns default to the first two of the header.
    /// Rows that cannot be used become ``DataProblem``s; a CSV with no usable shape throws.
    public static func csv(
        images folder: URL, labels csvURL: URL, nameColumn: String? = nil, labelColumn: String? = nil,
        classes fixedClasses: [String]? = nil
    ) throws -> ImageDataset {
        let table = try CSVTable(url: csvURL)
        let nameIndex = try column(nameColumn, default: 0, in: table, csv: csvURL)
        let labelIndex = try column(labelColumn, default: 1, in: table, csv: csvURL)
        guard !table.rows.isEmpty else { throw DataProblem(.badCSV, path: csvURL.path, "has a header but no rows") }

        let files = try filesByName(in: folder)
        try checkHeaderAndColumns(
            table, csv: csvURL, files: files, name: nameIndex, label: labelIndex, chosen: nameColumn ?? labelColumn)
        var problems: [DataProblem] = []
        var rows = usableRows(
            table, csv: csvURL, files: files, folder: folder, columns: (nameIndex, labelIndex), classes: fixedClasses,
            problems: &problems)
        if fixedClasses == nil { rows = leavingOutStrayLabels(rows, csv: csvURL, problems: &problems) }
        let classes = fixedClasses ?? ImageDataset.orderedClasses(rows.map(\.label))
        let index = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
        let items = rows.map {
            ImageItem(
                url: $0.url, name: removingExtension($0.url.lastPathComponent), label: index[$0.label])
        }
        return try finish(
            ImageDataset(items: items, classes: classes, problems: problems, labelsFile: csvURL), source: csvURL)
    }

    /// The index of a labels CSV's column called `wanted` (or the `default`-th), with an error naming the header.
    public static func column(_ wanted: String?, default index: Int, in table: CSVTable, csv: URL) throws -> Int {
        guard let wanted else {
            guard table.header.count > index else {
                throw DataProblem(
                    .badCSV, path: csv.path, line: 1,
                    "header has \(table.header.count) column(s) (\(table.header.joined(separator: ", "))); expected at least 2: image name, label"
                )
            }
            return index
        }
        guard let i = table.header.firstIndex(of: wanted) else {
            throw DataProblem(
                .badCSV, path: csv.path, line: 1,
                "has no column '\(wanted)'; its header is: \(table.header.joined(separator: ", "))")
        }
        return i
    }

    /// The images of `folder` by file name and by name without extension (`1.jpg` and `1`; the first file wins).
    public static func filesByName(in folder: URL) throws -> [String: URL] {
        var files: [String: URL] = [:]
        for url in try imageFiles(in: folder) {
            files[url.lastPathComponent] = url
            files[url.deletingPathExtension().lastPathComponent] =
                files[url.deletingPathExtension().lastPathComponent] ?? url
        }
        return files
    }

    /// The rows of a labels CSV that name an image of `files` once, with a label (one of `classes` when given); every
    /// other row becomes a problem naming its line.
    static func usableRows(
        _ table: CSVTable, csv csvURL: URL, files: [String: URL], folder: URL, columns: (name: Int, label: Int),
        classes fixedClasses: [String]?, problems: inout [DataProblem]
    ) -> [LabelledRow] {
        let (nameIndex, labelIndex) = columns
        var rows: [LabelledRow] = []
        var seen: [String: Int] = [:]
        for (line, fields) in table.rows {
            guard fields.count > max(nameIndex, labelIndex) else {
                problems.append(
                    DataProblem(
                        .badCSV, path: csvURL.path, line: line,
                        "has \(fields.count) field(s), expected \(table.header.count)"))
                continue
            }
            let name = fields[nameIndex], label = fields[labelIndex]
            let stem = removingExtension(name)
            if let first = seen[stem] {
                problems.append(
                    DataProblem(
                        .duplicateName, path: csvURL.path, line: line, "names '\(name)' again (first on line \(first))")
                )
                continue
            }
            seen[stem] = line
            guard let url = files[name] ?? files[stem] else {
                problems.append(
                    DataProblem(
                        .missingFile, path: csvURL.path, line: line,
                        "names '\(name)', which is not an image in \(folder.path)"))
                continue
            }
            guard !label.isEmpty else {
                problems.append(
                    DataProblem(.badLabel, path: csvURL.path, line: line, "has an empty label for '\(name)'"))
                continue
            }
            if let fixedClasses, !fixedClasses.contains(label) {
                problems.append(
                    DataProblem(
                        .badLabel, path: csvURL.path, line: line,
                        "has label '\(label)', which is not one of the classes \(fixedClasses.joined(separator: ", "))")
                )
                continue
            }
            rows.append((url, stem, label, line))
        }
        return rows
    }

    typealias LabelledRow = (url: URL, name: String, label: String, line: Int)

    /// `name` without its extension ("12.jpg" → "12"; "a.b/c", ".hidden" unchanged). Not NSString's
    /// `deletingPathExtension`, which traps on some strings of slashes and dots (found by FuzzCSV: "////./////…").
    public static func removingExtension(_ name: String) -> String {
        guard let dot = name.lastIndex(of: ".") else { return name }
        let lastComponent = name.lastIndex(of: "/").map { name.index(after: $0) } ?? name.startIndex
        guard dot > lastComponent else { return name }
        return String(name[..<dot])
    }

    /// Two shapes that would lose rows in silence: a CSV without a header (its first row, read as the header,
    /// names an image) and columns the other way round (the label column names the images). With columns named
    /// by the caller (`chosen`), neither guess is made.
    public static func checkHeaderAndColumns(
        _ table: CSVTable, csv: URL, files: [String: URL], name: Int, label: Int, chosen: String?
    ) throws {
        guard chosen == nil else { return }
        func isImage(_ field: String) -> Bool {
            !field.isEmpty && (files[field] ?? files[removingExtension(field)]) != nil
        }
        if isImage(table.header[name]) {
            throw DataProblem(
                .badCSV, path: csv.path, line: 1,
                "has no header line: its first line names the image '\(table.header[name])'. Add a header such as "
                    + "'name,label' as the first line (otherwise that image would be lost)")
        }
        let sample = table.rows.prefix(50).filter { $0.fields.count > max(name, label) }
        // Swapped: the label column names images on most rows and holds many more distinct values than the name
        // column (a class column repeats a few values, even when one of them, such as '1', is also a photo's name).
        let labelsNamingImages = sample.filter { isImage($0.fields[label]) }.count
        let distinctNames = Set(sample.map { $0.fields[name] }).count
        let distinctLabels = Set(sample.map { $0.fields[label] }).count
        if labelsNamingImages * 2 > sample.count, distinctNames * 2 < distinctLabels {
            throw DataProblem(
                .badCSV, path: csv.path, line: 1,
                "its column '\(table.header[label])' names the images, not '\(table.header[name])': the columns are "
                    + "the other way round (give --name-column \(table.header[label]) "
                    + "--label-column \(table.header[name]))")
        }
    }

    /// In a column of numbers (at least two distinct ones, on 75 % of the rows or more) a word such as `maybe` is a
    /// typo, not a new class: such rows are reported and left out.
    static func leavingOutStrayLabels(
        _ rows: [LabelledRow], csv: URL, problems: inout [DataProblem]
    ) -> [LabelledRow] {
        let numeric = rows.filter { Double($0.label) != nil }
        let values = Set(numeric.map(\.label))
        guard values.count >= 2, numeric.count < rows.count, numeric.count * 4 >= rows.count * 3 else { return rows }
        let listed = ImageDataset.orderedClasses(Array(values)).joined(separator: ", ")
        for row in rows where Double(row.label) == nil {
            problems.append(
                DataProblem(
                    .badLabel, path: csv.path, line: row.line,
                    "has label '\(row.label)' for '\(row.name)' in a column of numbers (\(listed)): left out"))
        }
        return numeric
    }

    /// One sub-folder per class (the ImageNet layout); folder names are the class names.
    public static func folders(_ root: URL, classes fixedClasses: [String]? = nil) throws -> ImageDataset {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: root.path)
        } catch {
            throw DataProblem(.missingFile, path: root.path, "folder does not exist or cannot be read")
        }
        var isDir: ObjCBool = false
        let classFolders = names.filter {
            !$0.hasPrefix(".")
                && FileManager.default.fileExists(atPath: root.appendingPathComponent($0).path, isDirectory: &isDir)
                && isDir.boolValue
        }
        let classes = fixedClasses ?? ImageDataset.orderedClasses(classFolders)
        var items: [ImageItem] = []
        var problems: [DataProblem] = []
        for (label, name) in classes.enumerated() {
            let folder = root.appendingPathComponent(name)
            let files: [URL]
            do {
                files = try imageFiles(in: folder)
            } catch {
                problems.append(
                    DataProblem(
                        .missingFile, path: folder.path, "class folder cannot be read: \(error.localizedDescription)"))
                continue
            }
            if files.isEmpty {
                problems.append(
                    DataProblem(
                        .emptyClass, path: root.appendingPathComponent(name).path, "class '\(name)' has no images"))
            }
            items += files.map { ImageItem(url: $0, name: $0.deletingPathExtension().lastPathComponent, label: label) }
        }
        return try finish(ImageDataset(items: items, classes: classes, problems: problems), source: root)
    }

    /// Images without labels (a test folder).
    public static func unlabelled(_ folder: URL) throws -> ImageDataset {
        let items = try imageFiles(in: folder).map {
            ImageItem(url: $0, name: $0.deletingPathExtension().lastPathComponent, label: nil)
        }
        guard !items.isEmpty else {
            throw DataProblem(.noImages, path: folder.path, "contains no .jpg, .jpeg or .png images")
        }
        return ImageDataset(items: items, classes: [])
    }

    /// Finds the layout of a data folder: `train/` + a labels CSV (Kaggle), `train/` with class
    /// sub-folders, or class sub-folders directly.
    public static func labelled(
        _ root: URL, nameColumn: String? = nil, labelColumn: String? = nil, classes: [String]? = nil
    ) throws -> ImageDataset {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: root.path, isDirectory: &isDir) else {
            throw DataProblem(.missingFile, path: root.path, "does not exist")
        }
        if !isDir.boolValue, root.pathExtension.lowercased() == "csv" {
            return try csv(
                images: imageFolder(forLabels: root), labels: root, nameColumn: nameColumn, labelColumn: labelColumn,
                classes: classes)
        }
        let names: [String]
        do {
            names = try fm.contentsOfDirectory(atPath: root.path)
        } catch {
            throw DataProblem(.missingFile, path: root.path, "cannot be read: \(error.localizedDescription)")
        }
        // Labels of another folder (`test_labels.csv` for `test/`, what a held-out test set adds) never label the
        // training photos.
        let csvs = names.filter { name in
            let lower = name.lowercased()
            // What `review` writes beside a labels CSV is not a second labels CSV.
            guard lower.hasSuffix(".csv"), !lower.hasSuffix(".reviewed.csv"), !lower.hasSuffix(".before-review.csv")
            else { return false }
            return !lower.hasSuffix("_labels.csv") || lower == "train_labels.csv"
        }.sorted()
        let train = root.appendingPathComponent("train")
        let hasTrain = fm.fileExists(atPath: train.path, isDirectory: &isDir) && isDir.boolValue
        let labelsCSV =
            csvs.first { $0 == "train_labels.csv" } ?? csvs.first { $0 == "labels.csv" }
            ?? (csvs.count == 1 ? csvs.first : nil)
        // A folder of photos whose labels lie beside it (`test/` and `test_labels.csv`).
        // Only for a folder holding photos itself: class folders beside a CSV of the same name stay class folders.
        if labelsCSV == nil, !hasTrain, let beside = Self.labelsCSV(for: root),
            beside.deletingLastPathComponent().standardized != root.standardized,
            (try? imageFiles(in: root))?.isEmpty == false  // unreadable: read as class folders, which says why
        {
            return try csv(
                images: root, labels: beside, nameColumn: nameColumn, labelColumn: labelColumn, classes: classes)
        }
        if let labelsCSV {
            return try csv(
                images: hasTrain ? train : root, labels: root.appendingPathComponent(labelsCSV),
                nameColumn: nameColumn, labelColumn: labelColumn, classes: classes)
        }
        return try folders(hasTrain ? train : root, classes: classes)
    }

    /// The labels CSV of a folder of photos: `NAME_labels.csv` beside the folder `NAME/`, or `labels.csv` inside it.
    public static func labelsCSV(for folder: URL) -> URL? {
        let folder = folder.standardized
        let beside = folder.deletingLastPathComponent().appendingPathComponent(folder.lastPathComponent + "_labels.csv")
        let inside = folder.appendingPathComponent("labels.csv")
        return [beside, inside].first { FileManager.default.fileExists(atPath: $0.path) }
    }

    /// The photos a labels CSV names: `NAME/` beside `NAME_labels.csv` when that folder exists (or beside the CSV's
    /// folder: answers kept apart in `answers/test_labels.csv` name the photos in `test/`), else `train/` beside it
    /// (the Kaggle layout's `labels.csv` or `train_labels.csv`).
    static func imageFolder(forLabels csv: URL) -> URL {
        let parent = csv.deletingLastPathComponent()
        let stem = csv.deletingPathExtension().lastPathComponent
        if stem.hasSuffix("_labels") {
            let name = String(stem.dropLast("_labels".count))
            for folder in [parent, parent.deletingLastPathComponent()] {
                let named = folder.appendingPathComponent(name)
                var isDir: ObjCBool = false
                if FileManager.default.fileExists(atPath: named.path, isDirectory: &isDir), isDir.boolValue {
                    return named
                }
            }
        }
        return parent.appendingPathComponent("train")
    }

    /// The `test/` folder of a Kaggle-layout data folder: `data/test`, or `test/` beside a labels CSV given as `data`.
    public static func testFolder(besides data: URL) -> URL {
        (data.pathExtension.lowercased() == "csv" ? data.deletingLastPathComponent() : data)
            .appendingPathComponent("test")
    }

    /// The labelled test folder of a Kaggle-layout data folder (`data` itself, or the folder of a labels CSV given
    /// as `data`): `test/` with its labels in `test_labels.csv` beside it or `labels.csv` inside it, read with the
    /// training's classes and columns. Nil when there is none (an unlabelled `test/` included).
    public static func labelledTest(
        besides data: URL, classes: [String], nameColumn: String? = nil, labelColumn: String? = nil
    ) throws -> ImageDataset? {
        let test = testFolder(besides: data)
        guard let labels = labelsCSV(for: test) else { return nil }
        return try csv(images: test, labels: labels, nameColumn: nameColumn, labelColumn: labelColumn, classes: classes)
    }

    static func finish(_ dataset: ImageDataset, source: URL) throws -> ImageDataset {
        guard !dataset.items.isEmpty else {
            let detail = dataset.problems.prefix(3).map(\.description).joined(separator: "; ")
            throw DataProblem(
                .noImages, path: source.path,
                "yields no usable labelled images" + (detail.isEmpty ? "" : " (\(detail))"))
        }
        return dataset
    }
}
