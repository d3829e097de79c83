import Foundation

/// What the "none of these" answer of a trained model rests on: how far validation photos lie from the training
/// photos, and the distances beyond which `predict` answers unknown and the deployment check counts a photo as far.
public struct UnknownFacts: Sendable {
    /// Each validation photo's distance from the training photos.
    public var validationDistances: [Double]
    /// The training photos the distances are measured against.
    public var referenceCount: Int
    /// Beyond it a photo is answered unknown (nil: `--unknown-rate 0`), and the share of validation beyond it.
    public var unknownThreshold: Double?
    public var unknownRate: Double?
    /// The distance 99 % of validation stays within (the deployment check's).
    public var driftThreshold: Double

    public init(
        validationDistances: [Double], referenceCount: Int, unknownThreshold: Double?, unknownRate: Double?,
        driftThreshold: Double
    ) {
        (self.validationDistances, self.referenceCount) = (validationDistances, referenceCount)
        (self.unknownThreshold, self.unknownRate, self.driftThreshold) = (unknownThreshold, unknownRate, driftThreshold)
    }
}

enum UnknownSection {
    static func html(_ facts: UnknownFacts) -> String {
        var html = "<section id='unknown'><h2>None of these: the unknown answer</h2>"
        html +=
            "<p>A photo's distance from the training photos is 1 − the mean cosine similarity of the model's pooled "
            + "features to those of its 5 nearest among \(facts.referenceCount) training photos: small for photos like "
            + "the training ones, large for photos of other things. "
        if let threshold = facts.unknownThreshold, let rate = facts.unknownRate {
            html += String(
                format: "<code>predict</code>, <code>evaluate</code> and <code>serve</code> answer <b>unknown</b> "
                    + "beyond %.4f, the distance %.0f %% of validation photos exceed (<code>train --unknown-rate</code>): "
                    + "expect about that share of new photos like these to be refused too.</p>", threshold, rate * 100)
        } else {
            html += "This model answers no photo unknown (<code>--unknown-rate 0</code>).</p>"
        }
        var marks = [(x: facts.driftThreshold, label: "99 % of validation")]
        if let threshold = facts.unknownThreshold { marks.append((threshold, "unknown beyond")) }
        html += SVG.histogram(
            facts.validationDistances, bins: 30, title: "Validation photos' distance from the training photos",
            xLabel: "distance (1 − cosine similarity)", width: 560, marks: marks)
        return html + "</section>"
    }
}
