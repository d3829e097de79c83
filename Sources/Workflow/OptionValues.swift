import Foundation

/// What picks the epoch whose weights are kept (and what early stopping watches).
public enum Monitor: String, Codable, Sendable, CaseIterable {
    case validLoss = "valid_loss"
    case accuracy
    case rocAUC = "roc_auc"
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
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .auto
        } else if let rate = try? c.decode(Double.self) {  // not a number: read it as text below
            self = .value(rate)
        } else {
            let text = try c.decode(String.self)
            guard let rate = LearningRate(text: text) else {
                throw DecodingError.dataCorruptedError(
                    in: c, debugDescription: "must be 'auto' or a number such as 3e-3, not '\(text)'")
            }
            self = rate
        }
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
        let c = try decoder.singleValueContainer()
        if let seconds = try? c.decode(Double.self) {  // not a number: read it as text below
            self.seconds = seconds
            return
        }
        let text = try c.decode(String.self)
        guard let span = TimeSpan(text: text) else {
            throw DecodingError.dataCorruptedError(
                in: c, debugDescription: "must be a duration such as 5m, 90s or 1h30m, not '\(text)'")
        }
        self = span
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(seconds)
    }

    public static func < (a: TimeSpan, b: TimeSpan) -> Bool { a.seconds < b.seconds }

    public var description: String { String(format: "%g s", seconds) }
}
