import Foundation
import Learn
import Torch
import Vision

/// `quadrat explain`: Grad-CAM heat maps for photos, written as PNGs (the model's view of the photo, the centre
/// crop at its input size, beside the same with the heat map over it).
public enum Explanations {
    /// One photo explained.
    public struct Explained: Sendable {
        public var photo: URL
        public var picture: URL
        public var map: GradCAM.Map
    }

    /// Explains each photo (for `className`, or each photo's top class) and writes `out/NAME-gradcam.png`.
    /// A photo that cannot be read is skipped and reported through `skipped`; the others go on.
    public static func run(
        _ saved: SavedModel, photos: [URL], out: URL, className: String? = nil, batchSize: Int = 8,
        skipped: (URL, Error) -> Void
    ) throws -> [Explained] {
        let classIndex = try className.map { name in
            // A label value ("1") or the name shown for it ("invasive").
            guard let i = saved.classes.firstIndex(of: name) ?? saved.classNames.firstIndex(of: name) else {
                throw WorkflowError(
                    "class '\(name)' is not one of the model's: \(saved.classes.joined(separator: ", "))"
                        + (saved.classNames == saved.classes
                            ? "" : " (shown as \(saved.classNames.joined(separator: ", ")))"))
            }
            return i
        }
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        var readable: [(URL, [Float])] = []
        for photo in photos {
            do {
                readable.append((photo, try saved.input(imageBytes: try FileBytes.read(photo), source: photo)))
            } catch {
                skipped(photo, error)
            }
        }
        var explained: [Explained] = []
        for start in stride(from: 0, to: readable.count, by: batchSize) {
            let batch = Array(readable[start..<min(start + batchSize, readable.count)])
            let maps = try saved.gradCAM(
                inputs: batch.map(\.1), classes: classIndex.map { Array(repeating: $0, count: batch.count) })
            for ((photo, input), map) in zip(batch, maps) {
                let picture = out.appendingPathComponent(
                    photo.deletingPathExtension().lastPathComponent + "-gradcam.png")
                try PNGWriter.write(saved.heatMapPicture(input: input, map: map), to: picture)
                explained.append(Explained(photo: photo, picture: picture, map: map))
            }
        }
        return explained
    }
}
