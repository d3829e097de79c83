import Foundation
import NN
import Torch
import Vision

/// What makes a model's INT8 copy: the range of every activation of each member's body, watched in float32 over a
/// few hundred of its training photos (plain evaluation view, no augmentation), and kept beside the model file as
/// `MODEL.int8-calibration.json` (`model.int8-calibration.json` in a run folder). Tied to the model file by its
/// fingerprint: a calibration of another model is refused.
public struct Int8Calibration: Codable, Sendable, Equatable {
    /// What the file's name adds to the model file's name without its extension.
    public static let suffix = ".int8-calibration.json"
    /// How many training photos calibrate by default: enough that the averaged ranges settle (the ELPV demo's INT8
    /// accuracy did not change between 128 and 512, see docs/measurements.md), few enough to take seconds.
    public static let defaultPhotos = 256

    /// One entry per ensemble member, in order.
    public var members: [ActivationRanges]
    /// The input size the ranges were measured at.
    public var size: Int
    /// The fingerprint of the model file calibrated.
    public var model: String

    public init(members: [ActivationRanges], size: Int, model: String) {
        (self.members, self.size, self.model) = (members, size, model)
    }

    /// Watches every member's body over up to `photos` of `items`, spread evenly over the list.
    public static func fit(_ model: SavedModel, items: [ImageItem], photos: Int = defaultPhotos) throws -> Self {
        guard !items.isEmpty else { throw LearnError("INT8 calibration needs photos, and none were given") }
        let step = max(1, items.count / max(photos, 1))
        let chosen = stride(from: 0, to: items.count, by: step).prefix(photos).map { items[$0] }
        let loader = model.evaluationLoader(items: chosen, batchSize: 8)
        let members = try model.members.map { member in
            let (graph, output) = try member.bodyGraph(size: model.size)
            return try Torch.inferenceMode {
                try ActivationRanges.observe(
                    graph, input: Classifier.graphInput, output: output,
                    batches: loader.batches(epoch: 0).lazy.map(\.images))
            }
        }
        guard let seen = members.first?.photos, seen > 0 else {
            throw LearnError("INT8 calibration: none of the \(chosen.count) photos could be read")
        }
        return Int8Calibration(members: members, size: model.size, model: try DriftReference.fingerprint(of: model))
    }

    /// Where the calibration of `model` lives.
    public static func url(beside model: SavedModel) -> URL { url(forModelFile: model.source) }

    /// Where the calibration of the model file at `model` lives.
    public static func url(forModelFile model: URL) -> URL {
        model.deletingPathExtension().appendingPathExtension(String(suffix.dropFirst()))
    }

    /// What to run to calibrate `model`.
    public static func remedy(_ model: SavedModel) -> String {
        "run `quadrat quantize \(model.source.path) --photos DIR` with some of its training photos"
    }

    /// Writes the calibration beside `model` (atomically).
    public func write(beside model: SavedModel) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try AtomicFile.write(try encoder.encode(self), to: Self.url(beside: model))
    }

    /// The calibration beside `model`, or nil when there is none; throws when it was made for another model file (the
    /// model changed since) or cannot be read.
    public static func beside(_ model: SavedModel) throws -> Int8Calibration? {
        let url = url(beside: model)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let calibration: Int8Calibration
        do {
            calibration = try JSONDecoder().decode(Int8Calibration.self, from: Data(contentsOf: url))
        } catch {
            throw LearnError("\(url.path) is not an INT8 calibration (\(error)); delete it and calibrate again")
        }
        guard calibration.model == (try DriftReference.fingerprint(of: model)) else {
            throw LearnError(
                "\(url.path) was made for another model file (\(model.source.lastPathComponent) changed since): "
                    + Self.remedy(model))
        }
        return calibration
    }
}

extension SavedModel {
    /// Runs every member's body in INT8 from now on, with the calibration beside the model file; throws saying how
    /// to make one when there is none.
    public func quantize() throws {
        // libtorch's quantized operators (FBGEMM, oneDNN, QNNPACK) are the CPU's.
        guard !Torch.defaultDevice.isCUDA else {
            throw LearnError("INT8 runs on the CPU only: add --device cpu (the GPU runs fp32 or bf16)")
        }
        guard let calibration = try Int8Calibration.beside(self) else {
            throw LearnError(
                "\(source.path) has no INT8 calibration beside it "
                    + "(\(Int8Calibration.url(beside: self).lastPathComponent)): models trained by this version have "
                    + "one; " + Int8Calibration.remedy(self))
        }
        guard calibration.members.count == members.count, calibration.size == size else {
            throw LearnError("\(Int8Calibration.url(beside: self).path) was made for another model: calibrate again")
        }
        for (member, ranges) in zip(members, calibration.members) { try member.quantize(ranges, size: size) }
    }
}
