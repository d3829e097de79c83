import Foundation
import Learn
import Torch
import Vision

/// Which "none of these" score tells a model's own kind of photo from photos it has never seen: the highest
/// probability, the energy of the logits, the Mahalanobis distance of the pooled features and their cosine distance
/// to the nearest training photos, each fitted on the model's training photos and measured on photos of its kind that
/// it did not train on (`known`) against photos of other things (`unknown`).
public struct UnknownScoreComparison {
    public var model: URL
    /// Photos of the model's kind it did not train on (a held-out test folder).
    public var known: URL
    /// Photos of other things.
    public var unknown: URL
    /// The share of known photos the threshold may refuse.
    public var rate = 0.05

    public init(model: URL, known: URL, unknown: URL) {
        (self.model, self.known, self.unknown) = (model, known, unknown)
    }

    /// One score's figures.
    public struct Row: Sendable {
        public var name: String
        /// ROC AUC of the score for unknown against known photos.
        public var auc: Double
        /// Unknown photos refused at the threshold that refuses `rate` of the first half of the known photos.
        public var unknownRefused: Double
        /// The second half of the known photos refused at that threshold (should be about `rate`).
        public var knownRefused: Double
    }

    /// Measures every score; says a line per score.
    public func run(say: (String) -> Void) throws -> [Row] {
        let saved = try SavedModel(model)
        guard let options = try saved.trainOptions() else {
            throw WorkflowError(
                "\(model.path) does not say what it was trained on: the scores need its training photos")
        }
        let data = URL(fileURLWithPath: options.data)
        let training = try saved.task.workflow.labelled(data, columns: LabelColumns(options), among: nil)
        let (knownSet, unknownSet) = try (DataSource.unlabelled(known), DataSource.unlabelled(unknown))
        say(
            "fitting on \(training.items.count) training photos; \(knownSet.items.count) known and "
                + "\(unknownSet.items.count) unknown photos")
        let fit = try DriftReference.pooledFeatures(saved, items: training.items)
        // The class means are those of the sets of classes seen in training: one class per photo gives the classes,
        // a multi-label model each label set seen.
        let sets = fit.kept.map { i in saved.classes.indices.filter { training.items[i].has(class: $0) } }
        let distinctSets = Array(Set(sets)).sorted { $0.lexicographicallyPrecedes($1) }
        let mahalanobis = try MahalanobisScore.fit(
            features: fit.features, labels: sets.map { distinctSets.firstIndex(of: $0) ?? 0 },
            classes: distinctSets.count)
        let reference = try DriftReference.unit(fit.features)
        let head = saved.classifier.headAfterPooling
        head.eval()
        func scores(_ items: [ImageItem]) throws -> [String: [Double]] {
            let features = try DriftReference.pooledFeatures(saved, items: items).features
            let logits = try Torch.withoutGrad { try head(features) }
            let k = min(DriftReference.neighbours, reference.shape[0])
            let nearest = try DriftReference.unit(features).matmul(reference.transposed(0, 1)).topk(k, dim: 1).values
                .mean([1])
            return [
                "max probability": try UnknownScores.maxProbability(logits: logits, task: saved.task.task),
                "energy": try UnknownScores.energy(logits: logits),
                "Mahalanobis": try mahalanobis.scores(features),
                "nearest training photos (cosine)": try nearest.toArray(Float.self).map { 1 - Double($0) },
            ]
        }
        let (inside, outside) = try (scores(knownSet.items), scores(unknownSet.items))
        return inside.keys.sorted().map { name in
            let row = figures(name, known: inside[name] ?? [], unknown: outside[name] ?? [])
            say(
                String(
                    format: "%@: ROC AUC %.4f; at the threshold refusing %.0f %% of half the known photos, %.1f %% of "
                        + "the unknown and %.1f %% of the other half of the known are refused", name, row.auc,
                    rate * 100, row.unknownRefused * 100, row.knownRefused * 100))
            return row
        }
    }

    /// The AUC over all photos; the threshold from the even-numbered known photos, checked on the odd ones.
    func figures(_ name: String, known: [Double], unknown: [Double]) -> Row {
        let auc = Metrics.rocAUC(
            scores: known + unknown, positives: known.map { _ in false } + unknown.map { _ in true })
        let calibration = known.enumerated().filter { $0.offset % 2 == 0 }.map(\.element).sorted()
        let check = known.enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
        let index = min(calibration.count - 1, Int((Double(calibration.count) * (1 - rate)).rounded(.up)) - 1)
        let threshold = calibration.isEmpty ? .infinity : calibration[max(0, index)]
        func refused(_ scores: [Double]) -> Double {
            scores.isEmpty ? .nan : Double(scores.filter { $0 > threshold }.count) / Double(scores.count)
        }
        return Row(name: name, auc: auc, unknownRefused: refused(unknown), knownRefused: refused(check))
    }
}
