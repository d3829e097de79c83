import Foundation

/// What picks the epoch whose weights are kept (and what early stopping watches).
public enum Monitor: String, Codable, Sendable, CaseIterable {
    /// The task's default (``TrainOptions/monitored``).
    case auto
    case validLoss = "valid_loss"
    case accuracy
    case rocAUC = "roc_auc"
    /// Multi-label: the mean over labels of the average precision.
    case meanAveragePrecision = "map"
    /// Multi-label: the mean over labels of F1 at 0.5.
    case macroF1 = "macro_f1"
}

/// The head's learning rate: found by the LR finder, or given.
public enum LearningRate: Codable, Sendable, Equatable {
    /// A tenth of the rate at the LR finder's lowest loss.
    case auto
    case value(Double)

    /// "auto", or a number such as 3e-3; nil for anything else.
    public init?(text: String) {
        if text.lowercased() == "auto" {
            self = .auto
        } else if let rate = Double(text) {
            self = .value(rate)
        } else {
            return nil
        }
    }

    /// The given rate, or nil for auto.
    public var given: Double? {
        if case .value(let rate) = self { return rate }
        return nil
    }

    /// A number, or "auto" (config files and model files from before this type stored a number or nothing).
    public init(from decoder: Decoder) throws {
        if try decoder.singleValueContainer().decodeNil() {
            self = .auto
            return
        }
        self = try decodeNumberOrText(
            decoder, number: LearningRate.value, text: LearningRate.init(text:),
            expected: "'auto' or a number such as 3e-3")
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .auto: try c.encode("auto")
        case .value(let rate): try c.encode(rate)
        }
    }
}

/// A length of time typed as people type it ("90s", "5m", "1h30m"), stored as seconds.
public struct TimeSpan: Codable, Sendable, Equatable, Comparable, CustomStringConvertible {
    public var seconds: Double

    public init(seconds: Double) { self.seconds = seconds }

    /// Nil when `text` is not a duration (``DurationText``).
    public init?(text: String) {
        guard let seconds = DurationText.seconds(text) else { return nil }
        self.seconds = seconds
    }

    /// A number of seconds, as config and model files have always stored it, or a duration as text ("5m").
    public init(from decoder: Decoder) throws {
        self = try decodeNumberOrText(
            decoder, number: TimeSpan.init(seconds:), text: TimeSpan.init(text:),
            expected: "a duration such as 5m, 90s or 1h30m")
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(seconds)
    }

    public static func < (a: TimeSpan, b: TimeSpan) -> Bool { a.seconds < b.seconds }

    public var description: String { String(format: "%g s", seconds) }
}

/// A value a file may hold as a number or as text: the number through `number`, the text through `text`, else an
/// error saying what was `expected`.
func decodeNumberOrText<T>(
    _ decoder: Decoder, number: (Double) -> T, text: (String) -> T?, expected: String
) throws -> T {
    let c = try decoder.singleValueContainer()
    if let value = try? c.decode(Double.self) { return number(value) }  // not a number: read it as text below
    let given = try c.decode(String.self)
    guard let value = text(given) else {
        throw DecodingError.dataCorruptedError(in: c, debugDescription: "must be \(expected), not '\(given)'")
    }
    return value
}
