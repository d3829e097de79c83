import Foundation
import Learn

/// The JSON answer for one image (`POST /v1/predict`). Keys are written in snake_case (`batch_size`).
struct Prediction: Codable, Sendable {
    struct Top: Codable, Sendable {
        var `class`: String
        /// The name shown for the class (`train --class-names`, or "invasive" for the label 1 of `invasive`).
        var name: String
        var probability: Double
    }
    struct Timing: Codable, Sendable {
        var decodeMs: Double
        var queueMs: Double
        var totalMs: Double
        var batchSize: Int
    }
    var file: String
    var classes: [String]
    /// The names shown for `classes`, in their order.
    var classNames: [String]
    /// In the order of `classes`.
    var probabilities: [Double]
    var top: Top
    /// The decision threshold on the second class's probability (binary models): the one chosen on validation
    /// at training, 0.5 for model files from before calibration. `top` is decided with it.
    var threshold: Double?
    /// Multi-label models: the labels decided for the photo, each at its own threshold (`thresholds`, in the order
    /// of `classes`), with their probabilities; possibly none. `top` is then the most probable label.
    var labels: [Top]?
    var thresholds: [Double]?
    var timing: Timing
    /// With `?explain=1`: the Grad-CAM heat map of the top class over the model's view of the photo (a PNG data URL:
    /// the crop the model saw and the same with the map over it, side by side).
    var explanation: Explanation?
    /// Whether the photo looks like none of the classes (farther from the training photos than the share of
    /// validation set by `train --unknown-rate`), and that distance; absent for models without the unknown answer.
    var unknown: Bool?
    var unknownDistance: Double?

    struct Explanation: Codable, Sendable {
        var `class`: String
        var method: String
        var overlay: String
    }
}

/// `POST /v1/predict/batch`: one answer per file, in the order sent.
struct BatchPrediction: Codable, Sendable {
    var predictions: [Prediction]
}

/// Any error: what went wrong, and which file when it was one of several.
struct ErrorAnswer: Codable, Sendable {
    var error: String
    var file: String?
}

/// `GET /v1/model`: what the model is and how it scored when it was trained.
struct ModelDescription: Codable, Sendable {
    var file: String
    var architecture: String
    var classes: [String]
    var classNames: [String]
    /// How photos become the square input: crop, squish or pad.
    var resize: String
    /// The decision threshold on the second class's probability (binary models), as `predict` applies it.
    var threshold: Double?
    /// single-label or multi-label.
    var task: String
    /// Each label's threshold (multi-label models).
    var thresholds: [Double]?
    var size: Int
    var presize: Int
    var quadratVersion: String?
    var trained: String?
    /// The kept epoch's validation figures (loss and metrics), when the file records its history.
    var validation: [String: Double]

    init(model: SavedModel, url: URL) {
        file = url.lastPathComponent
        architecture = model.architecture.rawValue
        classes = model.classes
        classNames = model.classNames
        resize = model.resize.rawValue
        threshold = model.binaryThreshold
        task = model.task.rawValue
        thresholds = model.labelCalibration(tta: false)?.thresholds
        size = model.size
        presize = model.presizeCache.shorterSide
        quadratVersion = model.metadata["quadrat_version"]
        let modified = (try? FileManager.default.attributesOfItem(atPath: url.path))?[.modificationDate] as? Date
        trained = model.metadata["trained_at"] ?? modified.map { ISO8601DateFormatter().string(from: $0) }
        validation = Self.validation(model.metadata)
    }

    /// The kept epoch's validation loss and metrics from the history in the metadata.
    static func validation(_ metadata: [String: String]) -> [String: Double] {
        let epochs = Learner.history(in: metadata)
        // `best_epoch` counts from 1, as the report does.
        let index = metadata["best_epoch"].flatMap(Int.init).map { $0 - 1 } ?? (epochs.count - 1)
        guard epochs.indices.contains(index) else { return [:] }
        let epoch = epochs[index]
        var figures = Dictionary(epoch.metrics.filter { $0.value.isFinite }, uniquingKeysWith: { a, _ in a })
        if let loss = epoch.validLoss, loss.isFinite { figures["valid_loss"] = loss }
        return figures
    }
}
