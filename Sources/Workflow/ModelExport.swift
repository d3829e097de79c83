import Foundation
import Learn
import Torch
import Vision

/// `quadrat export`: a trained model for other tools. The training checkpoint (weights, optimizer state, history)
/// stays in the run folder; the export holds what inference needs and says how to feed it.
public enum ModelExport {
    /// The formats `export` writes.
    public enum Format: String, CaseIterable, Sendable {
        /// Inference weights as safetensors (`body.*`, `head.*`) and a JSON file describing input and output.
        case safetensors
        /// An ONNX model (opset 13): BatchNorm folded, normalisation baked in, the description in metadata_props.
        case onnx

        /// The file extension of the format.
        public var fileExtension: String { rawValue }
    }

    /// Writes `saved` to `out` (a `.safetensors` path; the JSON description goes beside it); returns both paths.
    @discardableResult
    public static func safetensors(_ saved: SavedModel, to out: URL) throws -> (weights: URL, description: URL) {
        let description = out.deletingPathExtension().appendingPathExtension("json")
        let info = Description(saved)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let text = String(decoding: try encoder.encode(info), as: UTF8.self)
        try Safetensors.write(
            saved.classifier.stateDict(), metadata: ["format": Description.format, "quadrat": text], to: out)
        try AtomicFile.write(text + "\n", to: description)
        return (out, description)
    }

    /// What another tool needs to run the weights: the network, the input it expects, the output it gives.
    public struct Description: Codable, Sendable {
        public static let format = "quadrat-inference-1"
        public var format = Description.format
        public var architecture: String
        public var classes: [String]
        /// The network's input side in pixels (square).
        public var size: Int
        public var input: String
        public var mean: [Double]
        public var std: [Double]
        public var preprocessing: String
        public var output: String
        public var head: HeadKind
        public var keys: String
        public var quadratVersion: String?

        init(_ saved: SavedModel) {
            architecture = saved.architecture.rawValue
            classes = saved.classes
            size = saved.size
            input = "float32 N×3×\(saved.size)×\(saved.size), RGB, pixels on the 0–255 scale, then (x − mean) / std"
            mean = saved.normalization.mean
            std = saved.normalization.std
            let square =
                switch saved.resize {
                case .crop: "centre square crop"
                case .squish: "the whole image stretched to a square"
                case .pad: "the whole image centred on black bars to a square"
                }
            preprocessing =
                "shorter side resized to \(saved.presizeCache.shorterSide) px (antialiased), \(square) "
                + "(resize: \(saved.resize.rawValue)), bilinear resize to \(saved.size) px"
            output = "N×\(saved.classes.count) logits in the order of `classes`; softmax gives probabilities"
            head = saved.classifier.headKind
            keys =
                "body.*: the \(saved.architecture.rawValue) backbone (torchvision / efficientnet-lite-pytorch names), "
                + "head.*: the classifier head"
            quadratVersion = saved.metadata["quadrat_version"]
        }
    }
}
