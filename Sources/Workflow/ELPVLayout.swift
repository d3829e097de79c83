import Foundation
import Vision

/// Lays the ELPV solar-cell set (from the set-up cache) out in the Kaggle layout the demo trains on:
/// `train/` + `train_labels.csv` (`name,defective`), `test/`, and the test labels kept apart in
/// `answers/test_labels.csv`. Defective means a defect probability ≥ 0.5; the test part is a
/// stratified 25 % with seed 0. The layout is deterministic: the same files every time.
/// Multi-label (`demo --multi-label`): the same cells and split, each tagged with its type and, when defective,
/// `defective` (`name,tags`: "mono", "poly defective"…).
public enum ELPVLayout {
    /// One cell of labels.csv: its image, whether its defect probability is at least 0.5, and its type.
    public struct Cell: Sendable {
        public var file: String
        public var defective: Bool
        /// mono or poly (crystalline silicon), or nil in a labels file without the column.
        public var type: String?

        /// The multi-label tags of the cell: its type, then `defective` when it is.
        var tags: String { ([type].compactMap { $0 } + (defective ? ["defective"] : [])).joined(separator: " ") }
    }

    public static func cells(from source: URL) throws -> [Cell] {
        let labels = source.appendingPathComponent("labels.csv")
        guard FileManager.default.fileExists(atPath: labels.path) else {
            throw WorkflowError("ELPV labels not found at \(labels.path): run `make setup` (scripts/setup.sh data)")
        }
        let text = try String(contentsOf: labels, encoding: .utf8)
        return try text.split(separator: "\n").enumerated().compactMap { number, line in
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard !fields.isEmpty else { return nil }
            guard fields.count >= 2, let probability = Double(fields[1]) else {
                throw WorkflowError("\(labels.path):\(number + 1): expected 'path probability type', got '\(line)'")
            }
            return Cell(
                file: String(fields[0]), defective: probability >= 0.5, type: fields.count > 2 ? String(fields[2]) : nil
            )
        }
    }

    /// Writes the layout under `root` (replacing an older one; images are symbolic links) and returns the part sizes.
    @discardableResult
    /// `limit` keeps a stratified, seeded subset of that many cells (a small set for quick comparisons).
    public static func write(
        source: URL = QuadratPaths.elpv, to root: URL, limit: Int? = nil, multiLabel: Bool = false
    ) throws -> (
        train: Int, test: Int
    ) {
        var cells = try cells(from: source)
        if let limit, limit < cells.count {
            guard limit >= 8 else { throw WorkflowError("--cells must be at least 8, not \(limit)") }
            let keep = Split.random(
                count: cells.count, fraction: Double(limit) / Double(cells.count), seed: 1,
                labels: cells.map { $0.defective ? 1 : 0 }
            ).valid
            cells = keep.map { cells[$0] }
        }
        let split = Split.random(
            count: cells.count, fraction: 0.25, seed: 0, labels: cells.map { $0.defective ? 1 : 0 })
        let fm = FileManager.default
        if fm.fileExists(atPath: root.path) { try fm.removeItem(at: root) }
        for folder in ["train", "test", "answers"] {
            try fm.createDirectory(at: root.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        func place(_ indices: [Int], in folder: String) throws -> String {
            var csv = multiLabel ? "name,tags\n" : "name,defective\n"
            for i in indices {
                let name = URL(fileURLWithPath: cells[i].file).deletingPathExtension().lastPathComponent
                let target = root.appendingPathComponent("\(folder)/\(name).png")
                try fm.createSymbolicLink(at: target, withDestinationURL: source.appendingPathComponent(cells[i].file))
                csv += "\(name),\(multiLabel ? cells[i].tags : cells[i].defective ? "1" : "0")\n"
            }
            return csv
        }
        try place(split.train, in: "train").write(
            to: root.appendingPathComponent("train_labels.csv"), atomically: true, encoding: .utf8)
        try place(split.valid, in: "test").write(
            to: root.appendingPathComponent("answers/test_labels.csv"), atomically: true, encoding: .utf8)
        return (split.train.count, split.valid.count)
    }
}
