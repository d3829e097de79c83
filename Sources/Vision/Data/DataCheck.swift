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
                } catch {
                    found.append(.unreadable(url, error))
                }
                progress.advance()
            }
        }
        let corrupt = found.all.sorted { $0.path.compare($1.path, options: .numeric) == .orderedAscending }
        // Label sets name a label used by one photo themselves, with its line (``LabelSets``): not twice.
        let training = tooFewClasses(in: dataset) + (dataset.isMultiLabel ? [] : classesOfOneImage(in: dataset))
        return dataset.problems + training + corrupt
    }

    /// What training refuses, so that `check` reports it first: fewer than two classes with images, or a
    /// class with fewer than two images (one to train on, one to validate with).
    public static func trainingProblems(in dataset: ImageDataset) -> [DataProblem] {
        tooFewClasses(in: dataset) + classesOfOneImage(in: dataset)
    }

    /// Fewer than two classes (labels) with images: nothing to tell apart.
    static func tooFewClasses(in dataset: ImageDataset) -> [DataProblem] {
        let present = dataset.classCounts.filter { $0 > 0 }.count
        guard !dataset.classes.isEmpty, present < 2 else { return [] }  // unlabelled data is not for training
        return [
            DataProblem(
                .tooFewImages, path: folder(of: dataset),
                "training needs images of at least 2 \(kind(dataset, plural: true)); found \(present)")
        ]
    }

    /// Classes (labels) with one image: none left to validate with.
    static func classesOfOneImage(in dataset: ImageDataset) -> [DataProblem] {
        zip(dataset.classes, dataset.classCounts).filter { $0.1 == 1 }.map { name, _ in
            DataProblem(
                .tooFewImages, path: folder(of: dataset),
                "\(kind(dataset)) '\(name)' has 1 image; training needs at least 2 (one to validate)")
        }
    }

    /// Where the data set's photos are, for problems of the whole set.
    static func folder(of dataset: ImageDataset) -> String {
        dataset.items.first?.url.deletingLastPathComponent().path ?? ""
    }

    /// What the data's classes are called: labels, when a photo may have several.
    static func kind(_ dataset: ImageDataset, plural: Bool = false) -> String {
        dataset.isMultiLabel ? (plural ? "labels" : "label") : (plural ? "classes" : "class")
    }

    /// Moves the image files named by `problems` (broken symbolic links included) into `folder`, each under its
    /// class folder's name (`a/1.jpg` and `b/1.jpg` do not collide); a name already there gets a `-2`, `-3`…
    /// suffix. Returns how many moved and a message for each file that could not be moved.
    @discardableResult
    public static func quarantine(_ problems: [DataProblem], to folder: URL) throws -> (moved: Int, failed: [String]) {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var moved = 0, failed: [String] = []
        for p in problems where p.kind == .corruptImage && p.line == nil {
            let source = URL(fileURLWithPath: p.path)
            guard FileBytes.exists(source) else { continue }
            let parent = folder.appendingPathComponent(source.deletingLastPathComponent().lastPathComponent)
            do {
                try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
                try FileManager.default.moveItem(at: source, to: freeName(for: source, in: parent))
                moved += 1
            } catch {
                failed.append("\(source.path): could not be moved (\(error.localizedDescription))")
            }
        }
        return (moved, failed)
    }

    /// `folder/name`, or `folder/stem-2.ext`, `-3`… when that is taken.
    static func freeName(for source: URL, in folder: URL) -> URL {
        let stem = source.deletingPathExtension().lastPathComponent, ext = source.pathExtension
        var candidate = folder.appendingPathComponent(source.lastPathComponent)
        var n = 2
        while FileBytes.exists(candidate) {
            candidate = folder.appendingPathComponent(ext.isEmpty ? "\(stem)-\(n)" : "\(stem)-\(n).\(ext)")
            n += 1
        }
        return candidate
    }
}
