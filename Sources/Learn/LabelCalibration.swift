import Foundation

/// Calibration of a multi-label model: each label has its own temperature and threshold, fitted on validation as a
/// binary ``Calibration`` of its sigmoid's two-way probabilities (absent, present).
public struct LabelCalibration: Codable, Sendable, Equatable {
    /// One binary calibration per label, in the order of the model's labels.
    public var labels: [Calibration]

    public init(labels: [Calibration]) { self.labels = labels }

    /// Fits each label on `probabilities` (one row per photo, one column per label) against `truth`; `goal` and
    /// the label's recall in `targetRecall` (by its name in `names`) choose its threshold
    /// (``Calibration/fit(probabilities:labels:goal:targetRecall:)``).
    public static func fit(
        probabilities: [[Double]], truth: [[Bool]], goal: DecisionGoal, targetRecall: TargetRecall? = nil,
        names: [String] = []
    ) -> LabelCalibration {
        let count = probabilities.first?.count ?? 0
        return LabelCalibration(
            labels: (0..<count).map { k in
                Calibration.fit(
                    probabilities: probabilities.map { [1 - $0[k], $0[k]] }, labels: truth.map { $0[k] ? 1 : 0 },
                    goal: goal,
                    targetRecall: k < names.count ? targetRecall?.recall(for: names[k]) : targetRecall?.all)
            })
    }

    /// Each label's probability with its temperature applied.
    public func apply(_ p: [Double]) -> [Double] {
        zip(p, labels).map { probability, calibration in calibration.apply([1 - probability, probability])[1] }
    }

    /// The labels decided for calibrated probabilities `p`: each at its threshold.
    public func decide(_ p: [Double]) -> [Bool] { zip(p, thresholds).map { $0 >= $1 } }

    /// Each label's threshold on calibrated probabilities.
    public var thresholds: [Double] { labels.map { $0.threshold ?? 0.5 } }
}

/// The label calibrations a multi-label model file carries (metadata key `label_calibration`): for plain
/// predictions and for TTA.
public struct ModelLabelCalibration: Codable, Sendable, Equatable {
    public var plain: LabelCalibration
    public var tta: LabelCalibration?

    public init(plain: LabelCalibration, tta: LabelCalibration?) { (self.plain, self.tta) = (plain, tta) }

    /// The metadata key of the model file.
    public static let metadataKey = "label_calibration"
}
