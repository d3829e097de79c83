import Foundation

/// fastai's `verify_images`, done right: every image of a data set is decoded (in parallel), and every
/// problem — in the labels or in the files — is listed at once.
///
/// JPEGs are decoded at the smallest DCT scale (every coefficient is still read, so damage is still found,
/// but a 100-megapixel photo needs a 1/64 buffer); images above the pixel limit are reported from their header.
public enum DataCheck {
    /// The data set's own problems plus every image that cannot be decoded.
    public static func problems(
        in dataset: ImageDataset, threads: Int = ProcessInfo.processInfo.activeProcessorCount
    ) -> [DataProblem] {
        let found = ProblemList()
        let next = AtomicCounter()
        let progress = Feedback.start("check", total: dataset.items.count)
        DispatchQueue.concurrentPerform(iterations: max(1, threads)) { _ in
            while true {
                let i = next.increment()
                guard i < dataset.items.count else { return }
                let url = dataset.items[i].url
                do {
                    _ = try ImageDecoder(minimumSide: 1).decode(url)
                } catch let error as ImageError {
                    found.append(DataProblem(.corruptImage, path: url.path, error.problem))
                } catch {
                    found.append(DataProblem(.corruptImage, path: url.path, "\(error)"))
                }
                progress.advance()
            }
        }
        let corrupt = found.all.sorted { $0.path.compare($1.path, options: .numeric) == .orderedAscending }
        return dataset.problems + trainingProblems(in: dataset) + corrupt
    }

    /// What training refuses, so that `check` reports it first: fewer than two classes with images, or a
    /// class with fewer than two images (one to train on, one to validate with).
    public static func trainingProblems(in dataset: ImageDataset) -> [DataProblem] {
        guard !dataset.classes.isEmpty else { return [] }  // unlabelled data is not for training
        let counts = dataset.classCounts
        var problems: [DataProblem] = []
        let source = dataset.items.first?.url.deletingLastPathComponent().path ?? ""
        if counts.filter({ $0 > 0 }).count < 2 {
            problems.append(
                DataProblem(
                    .tooFewImages, path: source,
                    "training needs images of at least 2 classes; found \(counts.filter { $0 > 0 }.count)"))
        }
        for (name, count) in zip(dataset.classes, counts) where count == 1 {
            problems.append(
                DataProblem(
                    .tooFewImages, path: source,
                    "class '\(name)' has 1 image; training needs at least 2 (one to validate)"))
        }
        return problems
    }

    /// Moves the image files named by `problems` into `folder` (keeping their names); returns how many moved.
    @discardableResult
    public static func quarantine(_ problems: [DataProblem], to folder: URL) throws -> Int {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var moved = 0
        for p in problems where p.kind == .corruptImage && p.line == nil {
            let source = URL(fileURLWithPath: p.path)
            guard FileManager.default.fileExists(atPath: source.path) else { continue }
            try FileManager.default.moveItem(at: source, to: folder.appendingPathComponent(source.lastPathComponent))
            moved += 1
        }
        return moved
    }
}
