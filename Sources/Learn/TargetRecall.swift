import Foundation

/// The recall a binary threshold is chosen for on validation (`--target-recall`): one for every label (`0.95`), or
/// per label (`defective=0.95,mono=0.9`), where a label not named keeps `--decide-for`. A single-label model takes
/// one number (the recall of its second class).
public struct TargetRecall: Codable, Sendable, Equatable, ExpressibleByFloatLiteral, CustomStringConvertible {
    /// The recall for every label not named in ``labels``.
    public var all: Double?
    /// Recall by label name.
    public var labels: [String: Double]

    public init(all: Double?, labels: [String: Double] = [:]) { (self.all, self.labels) = (all, labels) }
    public init(floatLiteral value: Double) { self.init(all: value) }

    /// Parses "0.9", or "NAME=R" entries separated by commas (one bare number among them sets ``all``); nil when
    /// `text` is neither.
    public init?(text: String) {
        var all: Double?, labels: [String: Double] = [:]
        for entry in text.split(separator: ",") {
            let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            guard let value = parts.last.flatMap(Double.init) else { return nil }
            if parts.count == 1 {
                guard all == nil else { return nil }
                all = value
            } else {
                guard !parts[0].isEmpty, labels[parts[0]] == nil else { return nil }
                labels[parts[0]] = value
            }
        }
        guard all != nil || !labels.isEmpty else { return nil }
        self.init(all: all, labels: labels)
    }

    /// The recall for label `name`: its own, else the one for every label, else none (`--decide-for` decides).
    public func recall(for name: String) -> Double? { labels[name] ?? all }

    /// Every recall given, for checking their range.
    public var values: [Double] { (all.map { [$0] } ?? []) + labels.values }

    /// "0.9", or "defective=0.95,mono=0.9" (labels sorted), as `--target-recall` takes it.
    public var description: String {
        let named = labels.keys.sorted().map { "\($0)=\(labels[$0] ?? 0)" }
        return ((all.map { ["\($0)"] } ?? []) + named).joined(separator: ",")
    }

    /// A number, as config and model files have always stored it, or the text form for per-label recalls.
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let value = try? c.decode(Double.self) {  // not a number: read it as text below
            self.init(all: value)
            return
        }
        let given = try c.decode(String.self)
        guard let parsed = TargetRecall(text: given) else {
            throw DecodingError.dataCorruptedError(
                in: c, debugDescription: "must be a recall such as 0.9, or defective=0.95,mono=0.9, not '\(given)'")
        }
        self = parsed
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        if labels.isEmpty, let all { try c.encode(all) } else { try c.encode(description) }
    }
}
