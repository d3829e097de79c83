import Foundation

/// How probabilities are written in prediction files and submissions: six decimals, and near 0 or 1 as many
/// significant digits as it takes to keep distinct scores distinct. At six decimals alone, a confident model's
/// scores all read 0.000000 or 1.000000 and tie, and a ranking metric (ROC AUC) scored on the file loses the order
/// the model knew.
public enum ProbabilityText {
    /// "0.731058", "0.999999870", "3.0590232e-07": near 1 nine decimals, near 0 eight significant digits (the
    /// network's probabilities are float32, so more would be noise).
    public static func text(_ p: Double) -> String {
        guard p.isFinite else { return String(p) }
        if p >= 1e-4, p <= 1 - 1e-4 { return String(format: "%.6f", p) }
        if p > 0.5 { return String(format: "%.9f", p) }
        return p == 0 ? "0.000000" : String(format: "%.8g", p)
    }
}
