import Foundation
import Learn
import NN
import ONNX
import TestSupport
import Testing
import Torch
import Vision
import Workflow

/// `quadrat export --format onnx`: a valid ONNX file (read back with the generated messages), which gives the same
/// probabilities as the model file, run by an independent reading here and by ONNX Runtime when Python has it.
@Suite struct ONNXExportTests {
    /// A model file for `architecture` with random weights and random BatchNorm statistics (so that folding them
    /// matters), written the way training writes one.
    static func modelFile(
        _ architecture: Architecture, size: Int, in folder: URL, seed: UInt64 = 7, name: String? = nil,
        classes: [String] = ["cat", "dog", "owl"]
    ) throws -> URL {
        Torch.manualSeed(seed)
        let classifier = try Classifier(architecture, classes: classes, pretrained: false)
        try Torch.withoutGrad {
            for (_, module) in classifier.namedModules() {
                guard let bn = module as? BatchNorm else { continue }
                let n = bn.runningMean.shape[0]
                try bn.runningMean.copyInPlace(from: Tensor.randn([n]) * 0.1)
                try bn.runningVar.copyInPlace(from: Tensor.rand([n]) + 0.5)
                try bn.weight.copyInPlace(from: Tensor.rand([n]) + 0.5)
                try bn.bias.copyInPlace(from: Tensor.randn([n]) * 0.1)
            }
        }
        var tensors: [String: Tensor] = [:]
        for (name, t) in classifier.stateDict() { tensors["model.\(name)"] = t }
        var metadata = try SavedModel.metadata(
            architecture: architecture, classes: classifier.classes, size: size, presize: size * 5 / 4,
            head: classifier.headKind, options: "{}")
        metadata["format"] = Learner.checkpointFormat
        let url = folder.appendingPathComponent("\(name ?? architecture.rawValue).safetensors")
        try Safetensors.write(tensors, metadata: metadata, to: url)
        return url
    }

    /// Four photo-like inputs on the 0–255 scale (`image`), Quadrat's probabilities for them and the largest
    /// difference from the exported graph's, run by the reference reader.
    static func probabilityDifference(
        _ saved: SavedModel, _ model: Onnx_ModelProto, size: Int
    ) throws -> (image: Tensor, expected: [[Double]], difference: Double) {
        let inputs = try (0..<4).map { _ in try (Tensor.rand([3 * size * size]) * 255).toArray(Float.self) }
        let expected = try saved.probabilities(inputs: inputs)
        let image = try Tensor(inputs.flatMap { $0 }, shape: [4, 3, size, size])
        let outputs = try Torch.withoutGrad { try ONNXReference(model: model).run(["image": image]) }
        let probabilities = try #require(outputs["probabilities"])
        let difference = try maxAbsDifference(
            probabilities, Tensor(expected.flatMap { $0.map(Float.init) }, shape: [4, saved.classes.count]))
        return (image, expected, difference)
    }

    /// Python with onnxruntime, if this machine has one (Debian's python3 or the first on PATH).
    static let python: String? = ["/usr/bin/python3", "/usr/local/bin/python3"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    // 57 px: odd sides, so EfficientNet's TensorFlow-style padding is asymmetric at every stride.
    @Test(arguments: Architecture.allCases)
    func exportedModelGivesTheModelFilesProbabilities(_ architecture: Architecture) throws {
        let folder = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let size = architecture.rawValue.hasPrefix("resnet") ? 64 : 57
        let saved = try SavedModel(Self.modelFile(architecture, size: size, in: folder))
        let onnxURL = folder.appendingPathComponent("model.onnx")
        try ModelExport.onnx(saved, to: onnxURL)

        let model = try Onnx_ModelProto(serializedBytes: Data(contentsOf: onnxURL))
        #expect(model.opsetImport.first?.version == 13 && model.irVersion == 7)
        let dims = model.graph.input.first?.type.tensorType.shape.dim.map {
            $0.dimParam.isEmpty ? "\($0.dimValue)" : $0.dimParam
        }
        #expect(dims == ["N", "3", "\(size)", "\(size)"])
        #expect(model.graph.output.map(\.name) == ["logits", "probabilities"])
        #expect(!model.graph.node.contains { $0.opType == "BatchNormalization" || $0.opType == "Dropout" })
        let metadata = Dictionary(uniqueKeysWithValues: model.metadataProps.map { ($0.key, $0.value) })
        #expect(metadata["classes"] == #"["cat","dog","owl"]"# && metadata["size"] == "\(size)")
        #expect(
            metadata["architecture"] == architecture.rawValue && metadata["normalization"]?.hasPrefix("baked") == true)
        #expect(metadata["unknown_threshold"] == nil, "no reference beside the model: no unknown answer")
        // Four photo-like inputs on the 0–255 scale, through the model file and through the exported graph.
        let (image, expected, difference) = try Self.probabilityDifference(saved, model, size: size)
        #expect(difference < 1e-4, "\(architecture.rawValue): ONNX graph probabilities \(difference) away")

        // With a reference beside the model (here: the pooled features of 7 other inputs, the threshold at the middle
        // of these photos' distances), the graph answers unknown as the reference does, and the metadata says how.
        func pooled(_ images: Tensor) throws -> Tensor {
            try Torch.withoutGrad {
                try saved.classifier.pooledFeatures(saved.normalization.apply(images).contiguous(.channelsLast))
            }
        }
        var reference = DriftReference(
            reference: try DriftReference.unit(pooled(Tensor.rand([7, 3, size, size]) * 255)), threshold: 0.3,
            validationConfidence: 0.9, modelFingerprint: try DriftReference.fingerprint(of: saved))
        let distances = try reference.distances(DriftReference.unit(pooled(image)))
        let sorted = distances.sorted()
        (reference.unknownThreshold, reference.unknownRate) = ((sorted[1] + sorted[2]) / 2, 0.05)
        try reference.write(to: folder.appendingPathComponent(DriftReference.fileName))
        let withUnknown = folder.appendingPathComponent("unknown.onnx")
        try ModelExport.onnx(saved, to: withUnknown)
        try FileManager.default.removeItem(at: folder.appendingPathComponent(DriftReference.fileName))
        let unknownModel = try Onnx_ModelProto(serializedBytes: Data(contentsOf: withUnknown))
        let described = Dictionary(uniqueKeysWithValues: unknownModel.metadataProps.map { ($0.key, $0.value) })
        #expect(described["unknown_threshold"] == String(reference.unknownThreshold ?? 0))
        #expect(described["unknown"]?.contains("5 nearest of 7 training photos") == true, "\(described)")
        #expect(unknownModel.graph.output.map(\.name) == ["logits", "probabilities", "unknown_distance", "unknown"])
        let unknownOutputs = try Torch.withoutGrad { try ONNXReference(model: unknownModel).run(["image": image]) }
        let graphDistances = try #require(unknownOutputs["unknown_distance"]).toArray(Float.self)
        #expect(distances.count == 4 && graphDistances.count == 4)
        #expect(
            zip(distances, graphDistances).allSatisfy { abs($0 - Double($1)) < 1e-4 }, "\(distances) \(graphDistances)")
        let marks = try #require(unknownOutputs["unknown"]).toArray(Float.self)
        // The answer is the graph's own distance against the threshold (random weights put the distances close
        // together, closer than float32 and float64 may agree on).
        let threshold = Float(reference.unknownThreshold ?? 0)
        #expect(marks == graphDistances.map { $0 > threshold ? 1 : 0 }, "\(marks) \(graphDistances)")

        // ONNX Runtime, when this machine's Python has it (scripts/onnx_parity.py exits 2 when it does not).
        guard let python = Self.python else { return }
        let sample = folder.appendingPathComponent("sample.parity.safetensors")
        try Safetensors.write(
            ["image": image, "probabilities": try Tensor(expected.flatMap { $0.map(Float.init) }, shape: [4, 3])],
            to: sample)
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../scripts/onnx_parity.py").standardized
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script.path, onnxURL.path, sample.path]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        if process.terminationStatus == 2 {
            print("ONNX Runtime parity skipped: \(text)")
            return
        }
        #expect(process.terminationStatus == 0, "onnx_parity.py: \(text)")
    }

    /// A binary model calibrated with a temperature and a bias (Platt scaling): the graph applies both, as `predict`
    /// does, and the metadata gives them.
    @Test func exportedBinaryModelAppliesTheCalibrationsBias() throws {
        let folder = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = try Self.modelFile(.efficientNetLite0, size: 40, in: folder, classes: ["ok", "defective"])
        var (tensors, metadata) = try Learner.readCheckpoint(url)
        let calibration = ModelCalibration(
            plain: Calibration(temperature: 1.3, bias: 0.6, threshold: 0.5, thresholdRule: "accuracy"), tta: nil)
        metadata["calibration"] = String(decoding: try JSONEncoder().encode(calibration), as: UTF8.self)
        try Safetensors.write(tensors, metadata: metadata, to: url)
        let saved = try SavedModel(url)
        let onnxURL = folder.appendingPathComponent("model.onnx")
        try ModelExport.onnx(saved, to: onnxURL)
        let model = try Onnx_ModelProto(serializedBytes: Data(contentsOf: onnxURL))
        let described = Dictionary(uniqueKeysWithValues: model.metadataProps.map { ($0.key, $0.value) })
        #expect(described["temperature"] == "1.3" && described["bias"] == "0.6", "\(described)")
        let (_, expected, difference) = try Self.probabilityDifference(saved, model, size: 40)
        #expect(difference < 1e-4, "ONNX graph probabilities \(difference) away")
        // The bias matters here: without it the probabilities differ by more than the tolerance.
        let unbiased = expected.map { Calibration(temperature: 1, bias: -0.6).apply($0) }
        #expect(zip(expected, unbiased).contains { abs($0[1] - $1[1]) > 0.05 })
    }

    /// `export --int8`: the body in QDQ form from the calibration beside the model, which an independent reading of
    /// the file runs to what `--precision int8` answers, and ONNX Runtime too when Python has it.
    @Test(
        .enabled(if: Torch.defaultDevice == .cpu, "INT8 runs on the CPU"),
        arguments: [Architecture.efficientNetLite0, .resNet18])
    func int8ExportGivesTheINT8Answers(_ architecture: Architecture) throws {
        let folder = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let size = 57
        let saved = try SavedModel(Self.modelFile(architecture, size: size, in: folder))
        let onnxURL = folder.appendingPathComponent("model-int8.onnx")
        do {
            try ModelExport.onnx(saved, to: onnxURL, int8: true)
            Issue.record("exported INT8 without a calibration")
        } catch {
            #expect("\(error)".contains("quadrat quantize \(saved.source.path) --photos"), "\(error)")
        }
        // A calibration on photo-like inputs, as `train` or `quadrat quantize` writes one.
        Torch.manualSeed(11)
        let calibrationImages = try saved.normalization.apply(Tensor.rand([8, 3, size, size]) * 255)
        let (body, output) = try saved.classifier.bodyGraph(size: size)
        let ranges = try Torch.withoutGrad {
            try ActivationRanges.observe(
                body, input: Classifier.graphInput, output: output, batches: [calibrationImages])
        }
        try Int8Calibration(members: [ranges], size: size, model: DriftReference.fingerprint(of: saved))
            .write(beside: saved)
        try ModelExport.onnx(saved, to: onnxURL, int8: true)
        let model = try Onnx_ModelProto(serializedBytes: Data(contentsOf: onnxURL))
        let types = Set(model.graph.initializer.map(\.dataType))
        #expect(types.contains(Int32(Onnx_TensorProto.DataType.int8.rawValue)))
        #expect(types.contains(Int32(Onnx_TensorProto.DataType.int32.rawValue)))
        #expect(model.graph.node.contains { $0.opType == "QuantizeLinear" })
        let metadata = Dictionary(uniqueKeysWithValues: model.metadataProps.map { ($0.key, $0.value) })
        #expect(metadata["precision"]?.hasPrefix("int8") == true)

        try saved.quantize()
        let difference = try Self.probabilityDifference(saved, model, size: size).difference
        // Integer and float accumulation round a few values to neighbouring steps, and a random network amplifies
        // that (Int8BodyTests holds the QDQ form to one step on the first block); the answers stay together.
        #expect(difference < 0.1, "\(architecture.rawValue): INT8 ONNX probabilities \(difference) away")
    }
}
