import Foundation
import Torch
import Vision

/// How far photos lie from the training photos, in what the trained model sees: the cosine distance of a photo's
/// pooled body features to its ``neighbours`` nearest among a sample of the training photos'. Fitted when training
/// ends (`drift.safetensors` beside the model) with the distance 99 % of validation photos stay within; `predict`
/// then says how many new photos lie farther, the sign of photos unlike the training ones (another site, camera or
/// season), where the validation score no longer holds.
public struct DriftReference: Sendable {
    public static let fileName = "drift.safetensors"
    public static let neighbours = 5
    /// Training photos kept as the reference (a seeded sample; all when fewer).
    public static let sampleSize = 500
    /// The share of validation photos within ``threshold``.
    public static let quantile = 0.99

    /// The reference features, one unit row per training photo.
    public var reference: Tensor
    /// The distance that ``quantile`` of validation photos stay within.
    public var threshold: Double
    /// The distance beyond which a photo is answered "unknown" (none of the classes): the one that the given share of
    /// validation photos (``unknownRate``) lies beyond. Nil for references made before the unknown answer existed,
    /// or with a rate of 0.
    public var unknownThreshold: Double?
    /// The share of validation photos beyond ``unknownThreshold`` (`train --unknown-rate`).
    public var unknownRate: Double?
    /// Validation's mean highest class probability (calibrated), the confidence new photos are compared with.
    public var validationConfidence: Double
    /// The model file's size and content fingerprint: a reference fits the model it was made with only.
    public var modelFingerprint: String

    public init(
        reference: Tensor, threshold: Double, unknownThreshold: Double? = nil, unknownRate: Double? = nil,
        validationConfidence: Double, modelFingerprint: String
    ) {
        (self.reference, self.threshold, self.unknownThreshold, self.unknownRate) =
            (reference, threshold, unknownThreshold, unknownRate)
        (self.validationConfidence, self.modelFingerprint) = (validationConfidence, modelFingerprint)
    }

    /// The fingerprint a reference made for `model` records.
    public static func fingerprint(of model: SavedModel) throws -> String { try fingerprint(of: model.source) }

    /// Pooled body features of `items` (the plain evaluation view) by the model's first member, as unit rows, and
    /// the positions of the photos read (unreadable ones are left out).
    public static func features(_ model: SavedModel, items: [ImageItem]) throws -> (unit: Tensor, kept: [Int]) {
        let (features, kept) = try pooledFeatures(model, items: items)
        return (try unit(features), kept)
    }

    /// `features` with each row scaled to unit length.
    public static func unit(_ features: Tensor) throws -> Tensor {
        let norms = try (features * features).sum([1], keepDim: true).sqrt().clamp(1e-12, 1e30)
        return try (features / norms).contiguous()
    }

    /// Pooled body features of `items` (the plain evaluation view) by the model's first member, and the positions of
    /// the photos read (unreadable ones are left out).
    public static func pooledFeatures(_ model: SavedModel, items: [ImageItem]) throws -> (features: Tensor, kept: [Int])
    {
        let loader = model.evaluationLoader(items: items)
        let features = try model.classifier.precompute(loader, label: "deployment check").features
        let skipped = Set(loader.skipped.all.map(\.path))
        return (features, items.indices.filter { !skipped.contains(items[$0].url.path) })
    }

    /// The reference for `model` from its training and validation photos and validation's probabilities, with the
    /// validation photos' distances it was set by (sorted). `validFeatures`, when given, are the validation photos'
    /// pooled features (a row per photo of `valid`, as ``pooledFeatures(_:items:)`` makes them) from a pass already
    /// made, such as training's TTA over validation: they are not computed again.
    public static func fit(
        _ model: SavedModel, train: [ImageItem], valid: [ImageItem], validFeatures: Tensor? = nil,
        validProbabilities: [[Double]], seed: UInt64, unknownRate: Double = 0.05
    ) throws -> (reference: DriftReference, validationDistances: [Double]) {
        var rng = SeededRandom(seed: seed)
        let sample = rng.permutation(train.count).prefix(sampleSize).sorted().map { train[$0] }
        let reference = try features(model, items: sample).unit
        var drift = DriftReference(
            reference: reference, threshold: 0,
            validationConfidence: validProbabilities.map { $0.max() ?? 0 }.reduce(0, +)
                / Double(max(1, validProbabilities.count)),
            modelFingerprint: try fingerprint(of: model.source))
        let given = validFeatures.flatMap { $0.shape.first == valid.count ? $0 : nil }
        let validUnit = try given.map(unit) ?? features(model, items: valid).unit
        let distances = try drift.distances(validUnit).sorted()
        guard !distances.isEmpty else { throw LearnError("no validation photo could be read for the drift reference") }
        drift.threshold = Self.quantile(quantile, of: distances)
        if unknownRate > 0 {
            (drift.unknownThreshold, drift.unknownRate) = (Self.quantile(1 - unknownRate, of: distances), unknownRate)
        }
        return (drift, distances)
    }

    /// The value that a share `q` of the sorted `values` stays within.
    static func quantile(_ q: Double, of sorted: [Double]) -> Double {
        sorted[Swift.max(0, Swift.min(sorted.count - 1, Int((Double(sorted.count) * q).rounded(.up)) - 1))]
    }

    /// Whether each distance is beyond the unknown threshold (all false without one).
    public func unknown(_ distances: [Double]) -> [Bool] {
        distances.map { d in unknownThreshold.map { d > $0 } ?? false }
    }

    /// Each row's distance to the reference: 1 − the mean cosine similarity of its nearest reference rows.
    public func distances(_ unit: Tensor) throws -> [Double] {
        guard unit.shape[0] > 0 else { return [] }
        let k = min(Self.neighbours, reference.shape[0])
        let nearest = try unit.matmul(reference.transposed(0, 1)).topk(k, dim: 1).values.mean([1])
        return try nearest.toArray(Float.self).map { 1 - Double($0) }
    }

    static func fingerprint(of model: URL) throws -> String {
        let size = (try FileManager.default.attributesOfItem(atPath: model.path)[.size] as? Int) ?? 0
        return "\(size)-\(String(try contentFingerprint(of: model), radix: 16))"
    }

    public func write(to url: URL) throws {
        try Safetensors.write(
            ["reference": reference],
            metadata: [
                "threshold": String(threshold), "validation_confidence": String(validationConfidence),
                "model": modelFingerprint,
            ].merging(
                unknownThreshold.map { ["unknown_threshold": String($0), "unknown_rate": String(unknownRate ?? 0)] }
                    ?? [:]
            ) { a, _ in a }, to: url)
    }

    /// Where `train` writes the reference of `model`: ``fileName`` in the model's folder.
    public static func url(beside model: SavedModel) -> URL {
        model.source.deletingLastPathComponent().appendingPathComponent(fileName)
    }

    /// The reference saved beside `model` (nil: none there, or one made for another model file).
    public static func beside(_ model: SavedModel) throws -> DriftReference? {
        let url = url(beside: model)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let (tensors, metadata) = try Safetensors.read(url)
        guard let reference = tensors["reference"], let threshold = metadata["threshold"].flatMap(Double.init),
            let confidence = metadata["validation_confidence"].flatMap(Double.init), let made = metadata["model"]
        else { throw LearnError("\(url.path) is not a drift reference (retrain, or delete it)") }
        guard made == (try fingerprint(of: model.source)) else { return nil }
        return DriftReference(
            reference: reference, threshold: threshold,
            unknownThreshold: metadata["unknown_threshold"].flatMap(Double.init),
            unknownRate: metadata["unknown_rate"].flatMap(Double.init), validationConfidence: confidence,
            modelFingerprint: made)
    }
}
