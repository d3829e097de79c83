import Foundation

/// One image of a data set: where it is, the name it is known by (file name without
/// extension, as Kaggle submissions want it) and its class index, if labelled.
public struct ImageItem: Sendable, Equatable {
    public var url: URL
    public var name: String
    /// The class of single-label data (nil for an unlabelled photo).
    public var label: Int?
    /// The labels of multi-label data, as sorted class indices (empty: a photo with none of the labels); nil in
    /// single-label data.
    public var labelSet: [Int]?

    public init(url: URL, name: String, label: Int?, labelSet: [Int]? = nil) {
        self.url = url
        self.name = name
        self.label = label
        self.labelSet = labelSet
    }

    /// The photo is of class `c` (single-label), or has label `c` (multi-label).
    public func has(class c: Int) -> Bool { labelSet?.contains(c) ?? (label == c) }

    /// 0/1 for each of `classCount` classes: the photo's labels, or its class.
    public func indicators(classCount: Int) -> [Bool] { (0..<classCount).map(has(class:)) }
}

extension Sequence where Element == ImageItem {
    /// The class of every image, for scoring; throws naming the first image that has none (an
    /// unlabelled image has no place in a score).
    public func labels() throws -> [Int] {
        try map { item in
            guard let label = item.label else { throw VisionError("\(item.url.path) has no label to score against") }
            return label
        }
    }
}

/// Images with their class names. Class order is stable (sorted by name, numbers
/// numerically) and travels with the model, so index i always means `classes[i]`.
public struct ImageDataset: Sendable {
    public var items: [ImageItem]
    public var classes: [String]
    /// Problems found while reading the source (missing files, bad labels…); the items exclude them.
    public var problems: [DataProblem]
    /// The labels CSV the items come from (nil for class folders): where other columns, such as a group, are read.
    public var labelsFile: URL?
    /// Each photo has a set of labels (``ImageItem/labelSet``) rather than one class: `classes` are then the labels.
    public var isMultiLabel: Bool

    public init(
        items: [ImageItem], classes: [String], problems: [DataProblem] = [], labelsFile: URL? = nil,
        isMultiLabel: Bool = false
    ) {
        self.items = items
        self.classes = classes
        self.problems = problems
        self.labelsFile = labelsFile
        self.isMultiLabel = isMultiLabel
    }

    /// Number of images per class (or with each label, for multi-label data), in class order.
    public var classCounts: [Int] {
        var counts = [Int](repeating: 0, count: classes.count)
        for item in items {
            for l in item.labelSet ?? item.label.map({ [$0] }) ?? [] where l < counts.count { counts[l] += 1 }
        }
        return counts
    }

    /// The items at `indices`.
    public func subset(_ indices: [Int]) -> ImageDataset {
        ImageDataset(
            items: indices.map { items[$0] }, classes: classes, problems: [], labelsFile: labelsFile,
            isMultiLabel: isMultiLabel)
    }

    /// Each item's labels as 0/1 per class (multi-label data; a single-label item has its class).
    public func indicators(_ indices: [Int]) -> [[Bool]] {
        indices.map { items[$0].indicators(classCount: classes.count) }
    }

    /// Sorts class names: numerically when all are integers ("0" < "2" < "10"), else alphabetically.
    public static func orderedClasses<S: Sequence>(_ names: S) -> [String] where S.Element == String {
        let unique = Array(Set(names))
        if unique.allSatisfy({ Int($0) != nil }) { return unique.sorted { Int($0)! < Int($1)! } }
        return unique.sorted()
    }
}

/// A problem with one input, named precisely enough to fix it.
public struct DataProblem: Error, CustomStringConvertible, Sendable, Equatable {
    /// What is wrong.
    public enum Kind: String, Sendable {
        case missingFile, corruptImage, duplicateName, badLabel, badCSV, emptyClass, noImages, notAnImage, tooFewImages
    }
    public var kind: Kind
    /// The file (image or CSV) the problem is about.
    public var path: String
    /// CSV line number (1-based), when the problem comes from a CSV row.
    public var line: Int?
    public var message: String

    public init(_ kind: Kind, path: String, line: Int? = nil, _ message: String) {
        self.kind = kind
        self.path = path
        self.line = line
        self.message = message
    }

    public var description: String {
        line.map { "\(path):\($0): \(message)" } ?? "\(path): \(message)"
    }

    /// An image that could not be read or decoded, in the words of the error (without its path twice).
    public static func unreadable(_ url: URL, _ error: Error) -> DataProblem {
        DataProblem(.corruptImage, path: url.path, (error as? ImageError)?.problem ?? "\(error)")
    }
}

extension [DataProblem] {
    /// The problems with each image's first one only: the same photo can fail in the presize cache and again in
    /// the loader, and is listed once.
    public func onePerImage() -> [DataProblem] {
        var seen = Set<String>()
        return filter { $0.kind != .corruptImage || $0.line != nil || seen.insert($0.path).inserted }
    }
}

/// File extensions taken as images when listing folders (the content is still checked by magic bytes).
let imageExtensions: Set<String> = ["jpg", "jpeg", "png", "jpe", "jfif"]

/// Image files directly in `folder`, sorted by name (numbers numerically: 2.jpg before 10.jpg).
func imageFiles(in folder: URL) throws -> [URL] {
    let names: [String]
    do {
        names = try FileManager.default.contentsOfDirectory(atPath: folder.path)
    } catch {
        throw DataProblem(.missingFile, path: folder.path, "folder does not exist or cannot be read")
    }
    // The extension after the last dot, found by hand (NSString's path functions trapped on odd names).
    return names.filter { name in
        guard !name.hasPrefix("."), let dot = name.lastIndex(of: ".") else { return false }
        return imageExtensions.contains(name[name.index(after: dot)...].lowercased())
    }
    .sorted { $0.compare($1, options: .numeric) == .orderedAscending }
    .map { folder.appendingPathComponent($0) }
}
