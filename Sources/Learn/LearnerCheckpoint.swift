import Foundation
import Torch

/// One safetensors file with everything needed to resume or to predict: model weights
/// (`model.*`), optimizer state (`optimizer.*`), and metadata — the learner's
/// ``Learner/checkpointMetadata`` (architecture, classes, normalisation, size, recipe…),
/// epochs done, the recorder's history and the format version.
extension Learner {
    public static let checkpointFormat = "quadrat-checkpoint-1"

    /// Saves the learner as it is now, or as it was at `snapshot` (an epoch's start, for an exact resume);
    /// `extra` adds tensors and metadata of callbacks (``KeepBest``'s best weights).
    public func saveCheckpoint(
        to url: URL, snapshot: TrainingSnapshot? = nil,
        extra: (tensors: [String: Tensor], metadata: [String: String]) = ([:], [:])
    ) throws {
        let state = try snapshot ?? TrainingSnapshot(of: self, copying: false)
        var tensors = extra.tensors
        for (name, t) in state.model { tensors["model.\(name)"] = t }
        for (name, t) in state.optimizer { tensors["optimizer.\(name)"] = t }
        var metadata = checkpointMetadata.merging(extra.metadata) { $1 }
        metadata["format"] = Self.checkpointFormat
        metadata["epochs_done"] = String(state.epochsDone)
        metadata["base_rates"] = state.baseRates.map { String($0) }.joined(separator: ",")
        if let position = state.position {
            metadata["resume_phase"] = position.phase
            metadata["resume_epoch"] = String(position.epoch)
        }
        metadata["history"] = try String(
            decoding: JSONCoding.encoder.encode(recorder.epochs.prefix(state.epochCount).map(EpochRecord.init)),
            as: UTF8.self)
        metadata["steps"] = try String(
            decoding: JSONCoding.encoder.encode(recorder.steps.prefix(state.stepCount).map(StepRecord.init)),
            as: UTF8.self)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Safetensors.write(tensors, metadata: metadata, to: url)
    }

    /// Where a checkpoint saved by ``EpochStartSnapshots`` resumes: nil for files without one.
    public static func resumePosition(in metadata: [String: String]) -> TrainingSnapshot.Position? {
        guard let phase = metadata["resume_phase"], let epoch = metadata["resume_epoch"].flatMap({ Int($0) }) else {
            return nil
        }
        return .init(phase: phase, epoch: epoch)
    }

    /// Restores weights, optimizer state, epoch count and history; returns the file's metadata.
    @discardableResult
    public func loadCheckpoint(from url: URL) throws -> [String: String] {
        let (tensors, metadata) = try Self.readCheckpoint(url)
        var modelState: [String: Tensor] = [:], optimizerState: [String: Tensor] = [:]
        for (key, t) in tensors {
            if key.hasPrefix("model.") { modelState[String(key.dropFirst(6))] = t }
            if key.hasPrefix("optimizer.") { optimizerState[String(key.dropFirst(10))] = t }
        }
        try model.load(modelState)
        try optimizer.loadStateTensors(optimizerState)
        epochsDone = Int(metadata["epochs_done"] ?? "0") ?? 0
        if let rates = metadata["base_rates"]?.split(separator: ",").compactMap({ Double($0) }),
            rates.count == baseRates.count
        {
            baseRates = rates
        }
        // Files without a history (none so far) start an empty one; a history that is there but unreadable is an error.
        func decoded<T: Decodable>(_ key: String, _ type: [T].Type) throws -> [T] {
            guard let text = metadata[key] else { return [] }
            do {
                return try JSONCoding.decoder.decode(type, from: Data(text.utf8))
            } catch {
                throw LearnError("\(url.path): the '\(key)' entry of its metadata cannot be read: \(error)")
            }
        }
        recorder.restore(
            steps: try decoded("steps", [StepRecord].self).map(\.step),
            epochs: try decoded("history", [EpochRecord].self).map(\.record))
        return metadata
    }

    /// The epoch history a checkpoint's metadata records (empty for files without one or with an unreadable one).
    public static func history(in metadata: [String: String]) -> [Recorder.Epoch] {
        guard let text = metadata["history"] else { return [] }
        // Optional: `loadCheckpoint` reports a damaged history; readers of figures just show none.
        return (try? JSONCoding.decoder.decode([EpochRecord].self, from: Data(text.utf8)))?.map(\.record) ?? []
    }

    /// Reads a checkpoint and checks its format version, with a clear message for newer files.
    public static func readCheckpoint(_ url: URL) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw LearnError("model file \(url.path) does not exist")
        }
        let (tensors, metadata) = try Safetensors.read(url)
        guard let format = metadata["format"] else {
            throw LearnError("\(url.path) is not a Quadrat model (no format in its metadata)")
        }
        guard format == checkpointFormat else {
            throw LearnError(
                "\(url.path) was written by a newer Quadrat (format \(format)); this one reads \(checkpointFormat)")
        }
        return (tensors, metadata)
    }
}

/// Codable forms of the recorder's rows, for checkpoint metadata.
struct EpochRecord: Codable {
    var phase: String, epoch: Int, trainLoss: Double, validLoss: Double?, names: [String], values: [Double],
        seconds: Double
    init(_ e: Recorder.Epoch) {
        (phase, epoch, trainLoss, validLoss, seconds) = (e.phase, e.epoch, e.trainLoss, e.validLoss, e.seconds)
        names = e.metrics.map(\.name)
        values = e.metrics.map(\.value)
    }
    var record: Recorder.Epoch {
        Recorder.Epoch(
            phase: phase, epoch: epoch, trainLoss: trainLoss, validLoss: validLoss, metrics: Array(zip(names, values)),
            seconds: seconds)
    }
}

struct StepRecord: Codable {
    var phase: String, loss: Double, rates: [Double], momentum: Double
    init(_ s: Recorder.Step) { (phase, loss, rates, momentum) = (s.phase, s.loss, s.rates, s.momentum) }
    var step: Recorder.Step { Recorder.Step(phase: phase, loss: loss, rates: rates, momentum: momentum) }
}

/// JSON coding that keeps NaN and infinities (a metric can be NaN, e.g. AUC with one class).
enum JSONCoding {
    static var encoder: JSONEncoder {
        let e = JSONEncoder()
        e.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return e
    }
    static var decoder: JSONDecoder {
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return d
    }
}
