import Foundation
import Learn
import NN
import ONNX
import Torch
import Vision

extension ModelExport {
    /// Writes `saved` as an ONNX model (opset 13) to `out`.
    ///
    /// The graph takes `image`, float32 N×3×size×size RGB on the 0–255 scale (the batch dimension is dynamic),
    /// normalises it itself (the mean and std are baked in as a scale and shift), and gives `logits` and
    /// `probabilities` (as the task gives them: a softmax, or a sigmoid per label), N×classes; with an unknown
    /// threshold beside the model (``DriftReference``), also `unknown_distance` and `unknown` (0/1), N. Every BatchNorm
    /// is folded into its convolution, or into a scale and shift in the head; dropout is gone. The model's
    /// metadata_props carry the classes, the input size, the preprocessing that makes a photo into `image` and the
    /// model's training metadata.
    ///
    /// With `int8`, the body is written in QDQ form from the calibration beside the model (``Int8Calibration``):
    /// what `--precision int8` runs, for runtimes that fuse it into integer operators.
    public static func onnx(_ saved: SavedModel, to out: URL, int8: Bool = false) throws {
        let info = Description(saved)
        let ranges = int8 ? try int8Ranges(saved) : nil
        var graph = InferenceGraph()
        let (mean, std) = (saved.normalization.mean, saved.normalization.std)
        let normalised = try graph.affine(
            "image", scale: Tensor(std.map { Float(1 / $0) }, shape: [3, 1, 1]),
            shift: Tensor(zip(mean, std).map { Float(-$0 / $1) }, shape: [3, 1, 1]))
        let (pooled, logits) = try saved.classifier.exportWithPooled(
            normalised, side: saved.size, into: &graph, int8: ranges)
        graph.add("Identity", [logits], output: "logits")
        try saved.task.workflow.exportProbabilities(saved, into: &graph)

        // A damaged reference costs the unknown outputs, not the export.
        let reference = (try? DriftReference.beside(saved))?.flatMap { $0.unknownThreshold == nil ? nil : $0 }
        if let reference { try exportUnknown(pooled, reference: reference, into: &graph) }

        let side = ONNXModel.Port.Dimension.fixed(saved.size)
        let classes = ONNXModel.Port.Dimension.fixed(saved.classes.count)
        let model = try ONNXModel.message(
            graph, name: "quadrat-\(info.architecture)",
            inputs: [
                .init("image", [.named("N"), .fixed(3), side, side], doc: "RGB, 0–255, shorter side presized")
            ],
            outputs: [.init("logits", [.named("N"), classes]), .init("probabilities", [.named("N"), classes])]
                + (reference == nil
                    ? [] : [.init("unknown_distance", [.named("N")]), .init("unknown", [.named("N")])]),
            metadata: try metadata(saved, info: info, reference: reference)
                + (int8
                    ? [
                        (
                            "precision",
                            "int8: the body in QDQ form (uint8 activations, per-channel int8 weights in "
                                + "±\(QuantizedConv2d.weightLevels) levels, int32 biases) as Quadrat's --precision "
                                + "int8 runs it; the head in float32"
                        )
                    ] : []),
            producerVersion: quadratVersion)
        try AtomicFile.write(try model.serializedData(), to: out)
    }

    /// The activation ranges of the calibration beside `saved` (one member: ensembles are not exported).
    static func int8Ranges(_ saved: SavedModel) throws -> ActivationRanges {
        guard let calibration = try Int8Calibration.beside(saved), let first = calibration.members.first else {
            throw WorkflowError(
                "\(saved.source.path) has no INT8 calibration beside it: " + Int8Calibration.remedy(saved))
        }
        return first
    }

    /// The export's `metadata_props`: what a caller must do to a photo, what the outputs mean, and the model file's
    /// own entries.
    static func metadata(
        _ saved: SavedModel, info: Description, reference: DriftReference?
    ) throws -> [(String, String)] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let classList = String(decoding: try encoder.encode(saved.classes), as: UTF8.self)
        var metadata: [(String, String)] = [
            ("format", "quadrat-onnx-1"), ("architecture", info.architecture), ("classes", classList),
            ("size", String(info.size)), ("resize", saved.resize.rawValue),
            ("class_names", String(decoding: try encoder.encode(saved.classNames), as: UTF8.self)),
            ("input", "image: float32 N×3×\(info.size)×\(info.size), RGB, pixels on the 0–255 scale (not normalised)"),
            ("normalization", "baked in: (x − mean) / std with mean \(info.mean), std \(info.std)"),
            ("preprocessing", info.preprocessing),
        ]
        metadata += try saved.task.workflow.exportMetadata(saved, encoder: encoder)
        if let reference, let threshold = reference.unknownThreshold {
            metadata += [
                ("unknown_threshold", String(threshold)), ("unknown_rate", String(reference.unknownRate ?? 0)),
                (
                    "unknown",
                    "outputs unknown_distance (1 − the mean cosine similarity of the photo's pooled body features to "
                        + "its \(min(DriftReference.neighbours, reference.reference.shape[0])) nearest of "
                        + "\(reference.reference.shape[0]) training photos') "
                        + "and unknown (1 when unknown_distance > unknown_threshold: the photo looks like none of the "
                        + "classes)"
                ),
            ]
        }
        // The model file's own entries, but not its per-step and per-epoch history (megabytes of JSON).
        return metadata
            + saved.metadata.sorted { $0.key < $1.key }.filter { !["history", "steps"].contains($0.key) }
            .map { ("quadrat.\($0.key)", $0.value) }
    }

    /// The unknown answer as graph nodes from the pooled features: the unit rows' cosine similarity to the
    /// reference's training rows, the mean of the 5 largest, `unknown_distance` = 1 − that mean, and `unknown` = 1
    /// beyond the threshold (as ``DriftReference/distances(_:)`` and ``DriftReference/unknown(_:)`` compute them).
    static func exportUnknown(_ pooled: String, reference: DriftReference, into graph: inout InferenceGraph) throws {
        let norm = graph.add("ReduceL2", [pooled], [("axes", .ints([1])), ("keepdims", .int(1))])
        let floor = try graph.constant(Tensor([Float(1e-12)], shape: []), name: "unknown.eps")
        let unit = graph.add("Div", [pooled, graph.add("Max", [norm, floor])])
        let rows = try graph.constant(reference.reference.transposed(0, 1).contiguous(), name: "unknown.reference")
        let similarity = graph.add("MatMul", [unit, rows])
        let k = min(DriftReference.neighbours, reference.reference.shape[0])
        let kName = try graph.constant(Tensor([Int64(k)], shape: [1]), name: "unknown.k")
        let nearest = graph.add("TopK", [similarity, kName], [("axis", .int(1))], outputs: 2)[0]
        let mean = graph.add("ReduceMean", [nearest], [("axes", .ints([1])), ("keepdims", .int(0))])
        let one = try graph.constant(Tensor([Float(1)], shape: []), name: "unknown.one")
        graph.add("Sub", [one, mean], output: "unknown_distance")
        let threshold = try graph.constant(
            Tensor([Float(reference.unknownThreshold ?? .infinity)], shape: []), name: "unknown.threshold")
        let beyond = graph.add("Greater", ["unknown_distance", threshold])
        graph.add("Cast", [beyond], [("to", .int(1))], output: "unknown")  // 1: FLOAT
    }

    /// Writes what a check against another runtime needs, as safetensors: `image`, the inputs the ONNX model
    /// takes for `photos` (prepared exactly as `predict` prepares them), and `probabilities`, Quadrat's own
    /// answer for them. `scripts/onnx_parity.py MODEL.onnx SAMPLE` compares ONNX Runtime's answer with it.
    public static func paritySample(_ saved: SavedModel, photos: [URL], to out: URL) throws {
        let inputs = try photos.map { url in try saved.input(imageBytes: try FileBytes.read(url), source: url) }
        // As the export itself: a damaged reference costs the distances, not the sample.
        let reference = (try? DriftReference.beside(saved))?.flatMap { $0.unknownThreshold == nil ? nil : $0 }
        let (probabilities, features) = try saved.probabilitiesAndFeatures(
            inputs: inputs, withFeatures: reference != nil)
        let n = inputs.count, c = saved.classes.count
        let image = try Tensor(inputs.flatMap { $0 }, shape: [n, 3, saved.size, saved.size])
        var tensors = [
            "image": image, "probabilities": try Tensor(probabilities.flatMap { $0.map(Float.init) }, shape: [n, c]),
        ]
        // With the unknown answer, Quadrat's distances too (the export then has `unknown_distance`).
        if let reference, let features {
            let distances = try reference.distances(DriftReference.unit(features))
            tensors["unknown_distance"] = try Tensor(distances.map(Float.init), shape: [n])
        }
        try Safetensors.write(
            tensors, metadata: ["photos": photos.map(\.lastPathComponent).joined(separator: "\n")], to: out)
    }
}
