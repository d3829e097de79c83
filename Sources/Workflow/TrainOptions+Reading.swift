import Foundation
import Learn
import Yams

/// Reading options from config files and model files: a file's keys laid over defaults.
extension TrainOptions {
    /// Every key a config file may hold at the top level: the fields themselves.
    public static var optionNames: Set<String> { fieldNames(of: TrainOptions(data: "", out: "")) }

    /// Every key a config file's `recipe` mapping may hold.
    public static var recipeOptionNames: Set<String> { fieldNames(of: Recipe()) }

    /// The stored properties of `value`, as its synthesized coding keys name them.
    static func fieldNames(of value: Any) -> Set<String> { Set(Mirror(reflecting: value).children.compactMap(\.label)) }

    /// Reads a JSON or YAML config file over `base` (keys as in config.json: arch, size, seed,
    /// augmentation, recipe…; a `recipe` mapping sets only the fields it names); `data` and `out` stay `base`'s.
    public static func decodingConfig(_ bytes: Data, yaml: Bool, over base: TrainOptions) throws -> TrainOptions {
        try ConfigLimits.check(bytes, yaml: yaml)
        let given: Any? =
            yaml
            ? try ConfigLimits.plainValue(Yams.compose(yaml: String(decoding: bytes, as: UTF8.self)))
            : try JSONSerialization.jsonObject(with: bytes)
        guard var given = given as? [String: Any] else {
            throw WorkflowError("a config file must be a mapping of option names to values")
        }
        (given["data"], given["out"]) = (base.data, base.out)
        return try merging(given, over: base, strict: true, yaml: yaml)
    }

    /// The options stored in a model file or config.json, over today's defaults: a file from an older version lacks
    /// the newer keys (they keep their defaults) and may hold retired ones (ignored).
    public static func reading(stored bytes: Data) throws -> TrainOptions {
        guard let given = try JSONSerialization.jsonObject(with: bytes) as? [String: Any] else {
            throw WorkflowError("stored options must be a mapping of option names to values")
        }
        var options = try merging(given, over: TrainOptions(data: "", out: ""), strict: false, yaml: false)
        // Files from before training and inference precision were told apart used one setting for both.
        if let recipe = given["recipe"] as? [String: Any], recipe["inferenceMixedPrecision"] == nil,
            let both = recipe["mixedPrecision"] as? Bool
        {
            options.recipe.inferenceMixedPrecision = both
        }
        return options
    }

    /// `given` (JSON values: a parsed file, or the flags given) laid over `base`: a key it lacks keeps base's
    /// value, a nested mapping (`recipe`) sets only the fields it names. `strict` refuses unknown keys with the
    /// closest name.
    public static func merging(
        _ given: [String: Any], over base: TrainOptions, strict: Bool, yaml: Bool = false
    )
        throws -> TrainOptions
    {
        guard var merged = try JSONSerialization.jsonObject(with: JSONEncoder().encode(base)) as? [String: Any] else {
            throw WorkflowError("internal: options do not encode as a mapping")
        }
        if strict { try rejectUnknownKeys(given, names: optionNames, nested: ["recipe": recipeOptionNames]) }
        for (key, value) in given {
            if let inner = value as? [String: Any], var nested = merged[key] as? [String: Any] {
                for (k, v) in inner { nested[k] = v }
                merged[key] = nested
            } else {
                merged[key] = value
            }
        }
        do {
            return try JSONDecoder().decode(TrainOptions.self, from: JSONSerialization.data(withJSONObject: merged))
        } catch DecodingError.typeMismatch(let type, let context) {
            throw WorkflowError(option: path(context), typeMismatch(type, yaml: yaml))
        } catch DecodingError.dataCorrupted(let context) {
            throw WorkflowError(option: path(context), invalidValue(context, in: merged))
        } catch DecodingError.valueNotFound(let type, let context) {
            // `key: null` (or YAML's `~`) for an option that must have a value.
            throw WorkflowError(
                option: path(context), "must be a \(type), not null (leave the key out for the default)")
        }
    }

    /// What an unreadable value should have been: an enum's values ("must be one of crop, squish, pad, not
    /// 'stretch'"), or what the type says of itself.
    static func invalidValue(_ context: DecodingError.Context, in merged: [String: Any]) -> String {
        let key = context.codingPath.first?.stringValue ?? ""
        let field = Mirror(reflecting: TrainOptions(data: "", out: "")).children.first { $0.label == key }?.value
        guard let choices = field.flatMap(Self.choices) else { return context.debugDescription }
        return "must be one of \(choices.joined(separator: ", ")), not '\(merged[key] ?? "")'"
    }

    /// The names an enum option takes (nil when `value` is not one).
    static func choices(_ value: Any) -> [String]? {
        func names<T: CaseIterable & RawRepresentable>(_: T) -> [String] { T.allCases.map { "\($0.rawValue)" } }
        return (value as? any CaseIterable & RawRepresentable).map { names($0) }
    }

    /// "recipe.unfrozenRates[1]": where in the options a decoding error is.
    static func path(_ context: DecodingError.Context) -> String {
        var path = ""
        for key in context.codingPath {
            if let index = key.intValue {
                path += "[\(index)]"
            } else {
                path += (path.isEmpty ? "" : ".") + key.stringValue
            }
        }
        return path
    }

    /// "must be a String (YAML reads yes, no, on and off as true or false: quote them)".
    static func typeMismatch(_ type: Any.Type, yaml: Bool) -> String {
        let hint =
            yaml && type == String.self
            ? " (YAML reads yes, no, on and off as true or false, and bare digits as numbers: quote them, as in 'no')"
            : ""
        return "must be a \(type)\(hint)"
    }
}

/// Refuses keys that are not options (a typo would otherwise be ignored silently), suggesting the closest.
func rejectUnknownKeys(
    _ given: [String: Any], names: Set<String>, nested: [String: Set<String>], path: String = ""
)
    throws
{
    for (key, value) in given {
        guard names.contains(key) else {
            let closest = names.min { editDistance($0, key) < editDistance($1, key) }
            let hint = closest.map { editDistance($0, key) <= 3 ? "; did you mean '\(path)\($0)'?" : "" } ?? ""
            throw WorkflowError("unknown option '\(path)\(key)'\(hint)")
        }
        if let inner = value as? [String: Any], let innerNames = nested[key] {
            try rejectUnknownKeys(inner, names: innerNames, nested: [:], path: path + key + ".")
        }
    }
}

/// Levenshtein distance, for did-you-mean suggestions (case-insensitive).
public func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a.lowercased()), b = Array(b.lowercased())
    var previous = Array(0...b.count)
    for i in 1...max(1, a.count) where !a.isEmpty {
        var current = [i] + Array(repeating: 0, count: b.count)
        for j in 1...max(1, b.count) where !b.isEmpty {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return a.isEmpty ? b.count : previous[b.count]
}
