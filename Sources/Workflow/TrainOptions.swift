import Foundation
import Learn
import Vision
import Yams

/// Options of a training run (from flags, a config file, or both); written to config.json as used and
/// into the model file. Every field decodes with its default when absent, so files from older versions
/// keep their options.
public struct TrainOptions: Codable, Sendable, Equatable {
    /// The labelled data: a Kaggle-layout folder, a folder of class folders, or a labels CSV.
    public var data: String
    /// The run folder.
    public var out: String
    public var arch = Architecture.efficientNetLite0.rawValue
    /// Model input size (nil: the architecture's).
    public var size: Int?
    /// Shorter side of the presize cache (nil: 1.25 × size).
    public var presize: Int?
    public var batchSize = 32
    public var validFraction = 0.2
    public var seed: UInt64 = 42
    /// The augmentation preset: side-on, top-down or dihedral; the three `max…` fields below override its limits.
    public var augmentation = "side-on"
    public var maxRotation: Double?
    public var maxZoom: Double?
    public var maxLighting: Double?
    /// A checkpoint for the body (nil: the bundled ImageNet weights).
    public var weights: String?
    public var nameColumn: String?
    public var labelColumn: String?
    public var recipe = Recipe()
    public var lrFind = true
    /// Epochs with the body unfrozen, one cosine cycle (nil: planned from the data size, or from `budget`).
    /// `--cycles`/`--cycle-len`/`--cycle-mult` (the recipe's SGDR fields) apply when this and `budget` are nil
    /// and the recipe's `cycleLength` is set.
    public var epochs: Int?
    /// Head epochs with augmentation, body frozen (nil: 1, or fewer when a budget is tight).
    public var headEpochs: Int?
    /// The head's learning rate (nil: the LR finder's suggestion); the body's discriminative rates follow it.
    public var lr: Double?
    /// Seconds the whole run may take, TTA and report included (nil: no limit).
    public var budget: Double?
    /// Stop when the monitored value has not improved for this many epochs (nil: never).
    public var patience: Int?
    /// What chooses the epoch whose weights are kept: valid_loss, accuracy or roc_auc.
    public var monitor = "valid_loss"
    /// float32 or bfloat16 autocast, or whichever measured faster here.
    public var precision = Precision.auto
    /// Progressive resizing: the first half of the unfrozen epochs train at three quarters of the size.
    public var progressive = false
    /// A checkpoint (from Ctrl-C) to continue from: its weights are loaded and only the unfrozen phase runs.
    public var resume: String?
    /// Binary models: choose the decision threshold as the highest that keeps at least this recall of the second
    /// class on validation (nil: the threshold serves `decideFor`).
    public var targetRecall: Double?
    /// Binary models: what the decision threshold serves, accuracy (0.5 on calibrated probabilities) or balanced
    /// accuracy (Youden's J on validation).
    public var decideFor = DecisionGoal.accuracy
    /// How a photo becomes the model's square input: centre crop, squish or pad.
    public var resize = ResizeMethod.crop
    /// Names shown for the classes, in the order of the label values (nil: the values themselves, or for 0/1 labels
    /// "not COLUMN" and "COLUMN"). Files the program writes keep the label values.
    public var classNames: [String]?
    /// Class weights in the loss: none, or auto (inverse frequency in the training split, so that every class
    /// weighs as much in total).
    public var classWeights = ClassWeights.none
    /// How training epochs draw images: shuffle (each once) or balanced (every class equally often).
    public var sampler = Sampler.shuffle
    /// What keeps photos together in the split (and in `--folds`): a column of the labels CSV (site, camera, module,
    /// patient), or `burst` for the events of EXIF capture times within ``burstGap``. Nil: each photo alone.
    public var groupBy: String?
    /// The most seconds between two photos of one burst (`--group-by burst`, `predict --events`).
    public var burstGap = 60.0
    /// Let copies of a photo fall on both sides of the split (by default each cluster of near-duplicates stays on
    /// one side).
    public var splitDuplicates = false

    enum CodingKeys: String, CodingKey, CaseIterable {
        case data, out, arch, size, presize, batchSize, validFraction, seed, augmentation, maxRotation, maxZoom,
            maxLighting, weights, nameColumn, labelColumn, recipe, lrFind, epochs, headEpochs, lr, budget, patience,
            monitor, precision, progressive, resume, targetRecall, decideFor, resize, classNames, classWeights, sampler,
            groupBy, burstGap, splitDuplicates
    }

    /// The input size of the default architecture: what `check` and `explore` presize for, so `train` finds it.
    public static var defaultSize: Int {
        (try? Architecture(named: TrainOptions(data: "", out: "").arch))?.defaultSize ?? 224
    }

    public init(data: String, out: String) {
        self.data = data
        self.out = out
    }

    public init(from decoder: Decoder) throws {
        // Decode over the defaults: a missing key keeps its default instead of failing or being lost.
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(data: try c.decode(String.self, forKey: .data), out: try c.decode(String.self, forKey: .out))
        func take<T: Decodable>(_ key: CodingKeys, _ field: inout T) throws {
            if let value = try c.decodeIfPresent(T.self, forKey: key) { field = value }
        }
        try take(.arch, &arch)
        size = try c.decodeIfPresent(Int.self, forKey: .size)
        presize = try c.decodeIfPresent(Int.self, forKey: .presize)
        try take(.batchSize, &batchSize)
        try take(.validFraction, &validFraction)
        try take(.seed, &seed)
        try take(.augmentation, &augmentation)
        maxRotation = try c.decodeIfPresent(Double.self, forKey: .maxRotation)
        maxZoom = try c.decodeIfPresent(Double.self, forKey: .maxZoom)
        maxLighting = try c.decodeIfPresent(Double.self, forKey: .maxLighting)
        weights = try c.decodeIfPresent(String.self, forKey: .weights)
        nameColumn = try c.decodeIfPresent(String.self, forKey: .nameColumn)
        labelColumn = try c.decodeIfPresent(String.self, forKey: .labelColumn)
        try take(.recipe, &recipe)
        try take(.lrFind, &lrFind)
        epochs = try c.decodeIfPresent(Int.self, forKey: .epochs)
        headEpochs = try c.decodeIfPresent(Int.self, forKey: .headEpochs)
        lr = try c.decodeIfPresent(Double.self, forKey: .lr)
        budget = try c.decodeIfPresent(Double.self, forKey: .budget)
        patience = try c.decodeIfPresent(Int.self, forKey: .patience)
        try take(.monitor, &monitor)
        try take(.precision, &precision)
        try take(.progressive, &progressive)
        resume = try c.decodeIfPresent(String.self, forKey: .resume)
        targetRecall = try c.decodeIfPresent(Double.self, forKey: .targetRecall)
        try take(.decideFor, &decideFor)
        try take(.resize, &resize)
        classNames = try c.decodeIfPresent([String].self, forKey: .classNames)
        try take(.classWeights, &classWeights)
        try take(.sampler, &sampler)
        groupBy = try c.decodeIfPresent(String.self, forKey: .groupBy)
        try take(.burstGap, &burstGap)
        try take(.splitDuplicates, &splitDuplicates)
    }

    /// The preset named by `augmentation` with the limits given in the options.
    public var augmentationSettings: Augmentation {
        // `validate()` has refused unknown preset names; side-on is the default for model files that predate it.
        var a = Augmentation(preset: augmentation) ?? .sideOn
        if let maxRotation { a.maxRotation = maxRotation }
        if let maxZoom { a.maxZoom = maxZoom }
        if let maxLighting { a.maxLighting = maxLighting }
        return a
    }

    /// Checks every option before any work starts, with a message naming the flag.
    public func validate() throws {
        _ = try Architecture(named: arch)
        guard Augmentation(preset: augmentation) != nil else {
            let names = Augmentation.presetNames.joined(separator: ", ")
            throw WorkflowError("--augmentation must be one of \(names), not '\(augmentation)'")
        }
        if let r = maxRotation, !(0...180).contains(r) {
            throw WorkflowError("--max-rotation must be between 0 and 180 degrees, not \(r)")
        }
        if let z = maxZoom, !(1...4).contains(z) { throw WorkflowError("--max-zoom must be between 1 and 4, not \(z)") }
        if let l = maxLighting, !(0..<1).contains(l) {
            throw WorkflowError("--max-lighting must be at least 0 and below 1, not \(l)")
        }
        func check<T: Comparable>(_ value: T?, _ range: ClosedRange<T>, _ flag: String, _ unit: String = "") throws {
            if let value, !range.contains(value) {
                throw WorkflowError(
                    "\(flag) must be between \(range.lowerBound) and \(range.upperBound)\(unit), not \(value)")
            }
        }
        try check(size, 32...1024, "--size", " pixels")
        try check(presize, 32...4096, "--presize", " pixels")
        try check(batchSize, 1...1024, "--batch-size")
        if groupBy?.trimmingCharacters(in: .whitespaces).isEmpty == true {
            throw WorkflowError("--group-by needs a column of the labels CSV, or burst")
        }
        if !(burstGap >= 0 && burstGap <= 366 * 86_400) {
            throw WorkflowError("--burst-gap must be 0 s to a year, not \(burstGap) s")
        }
        if !(validFraction > 0 && validFraction < 1) {
            throw WorkflowError("--valid-fraction must be above 0 and below 1, not \(validFraction)")
        }
        try validateRecipe()
        if let epochs, !(1...1000).contains(epochs) {
            throw WorkflowError("--epochs must be between 1 and 1000, not \(epochs)")
        }
        if let headEpochs, !(0...100).contains(headEpochs) {
            throw WorkflowError("--head-epochs must be between 0 and 100, not \(headEpochs)")
        }
        if let lr, !(lr > 0 && lr < 1) {
            throw WorkflowError("--lr must be 'auto' or a rate between 0 and 1, not \(lr)")
        }
        if let budget, !(budget >= 10) { throw WorkflowError("--budget must be at least 10 s, not \(budget) s") }
        if let patience, patience < 1 { throw WorkflowError("--patience must be at least 1, not \(patience)") }
        if let targetRecall, !(targetRecall > 0 && targetRecall <= 1) {
            throw WorkflowError("--target-recall must be above 0 and at most 1, not \(targetRecall)")
        }
        if let classNames,
            classNames.contains(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty })
                || Set(classNames).count != classNames.count
        {
            throw WorkflowError("--class-names must be distinct, non-empty names, not \(classNames)")
        }
        guard ["valid_loss", "accuracy", "roc_auc"].contains(monitor) else {
            throw WorkflowError("--monitor must be valid_loss, accuracy or roc_auc, not '\(monitor)'")
        }
        if let resume, !FileManager.default.fileExists(atPath: resume) {
            throw WorkflowError("checkpoint \(resume) does not exist")
        }
    }

    /// The recipe's fields, as flags (`--cycles`, `--tta`) or config keys (`recipe.unfrozenRates`) name them.
    func validateRecipe() throws {
        func check<T: Comparable>(_ value: T?, _ range: ClosedRange<T>, _ flag: String) throws {
            if let value, !range.contains(value) {
                throw WorkflowError("\(flag) must be between \(range.lowerBound) and \(range.upperBound), not \(value)")
            }
        }
        try check(recipe.unfrozenCycles, 0...100, "--cycles")
        try check(recipe.cycleLength, 1...1000, "--cycle-len")
        try check(recipe.cycleMult, 1...10, "--cycle-mult")
        // SGDR's epochs grow geometrically: 100 cycles at ×10 is 10^99 epochs, which overflowed the plan (a trap).
        let sgdrEpochs =
            (0..<recipe.unfrozenCycles).reduce(0.0) { total, k in
                total + pow(Double(recipe.cycleMult), Double(k))
            } * Double(recipe.cycleLength ?? 1)
        if sgdrEpochs > 1000 {
            throw WorkflowError(
                "--cycles \(recipe.unfrozenCycles) with --cycle-mult \(recipe.cycleMult) and --cycle-len "
                    + "\(recipe.cycleLength ?? 1) make \(String(format: "%.3g", sgdrEpochs)) epochs; at most 1000")
        }
        try check(recipe.ttaViews, 0...64, "--tta")
        try check(recipe.precomputeEpochs, 0...1000, "recipe.precomputeEpochs")
        try check(recipe.unfrozenFrom, 0...2, "recipe.unfrozenFrom")
        let rateLists = [
            ("unfrozenRates", recipe.unfrozenRates, 10.0), ("unfrozenRateDivisors", recipe.unfrozenRateDivisors, 1e6),
        ]
        for (name, rates, most) in rateLists
        where rates.isEmpty || rates.count > 3 || !rates.allSatisfy({ $0 > 0 && $0 <= most }) {
            throw WorkflowError(
                "recipe.\(name) must hold 1 to 3 numbers above 0 and at most \(most) (early body, late body, head), "
                    + "not \(rates)")
        }
        if !(recipe.unfrozenWarmup >= 0 && recipe.unfrozenWarmup < 1) {
            throw WorkflowError("recipe.unfrozenWarmup must be at least 0 and below 1, not \(recipe.unfrozenWarmup)")
        }
    }

    /// Every key a config file may hold at the top level.
    static var optionNames: Set<String> { Set(CodingKeys.allCases.map(\.rawValue)) }

    /// Reads a JSON or YAML config file over `base` (keys as in config.json: arch, size, seed,
    /// augmentation, recipe…; a `recipe` mapping sets only the fields it names); `data` and `out` stay `base`'s.
    public static func decodingConfig(_ bytes: Data, yaml: Bool, over base: TrainOptions) throws -> TrainOptions {
        try ConfigLimits.check(bytes, yaml: yaml)
        let given: Any? =
            yaml
            ? try ConfigLimits.plainValue(Yams.compose(yaml: String(decoding: bytes, as: UTF8.self)))
            : try JSONSerialization.jsonObject(with: bytes)
        guard let given = given as? [String: Any] else {
            throw WorkflowError("a config file must be a mapping of option names to values")
        }
        guard var merged = try JSONSerialization.jsonObject(with: JSONEncoder().encode(base)) as? [String: Any] else {
            throw WorkflowError("internal: options do not encode as a mapping")
        }
        try rejectUnknownKeys(given, names: optionNames, nested: ["recipe": Recipe.optionNames])
        for (key, value) in given {
            if let inner = value as? [String: Any], var nested = merged[key] as? [String: Any] {
                for (k, v) in inner { nested[k] = v }
                merged[key] = nested
            } else {
                merged[key] = value
            }
        }
        merged["data"] = base.data
        merged["out"] = base.out
        do {
            return try JSONDecoder().decode(TrainOptions.self, from: JSONSerialization.data(withJSONObject: merged))
        } catch DecodingError.typeMismatch(let type, let context) {
            throw WorkflowError(typeMismatch(type, context, yaml: yaml))
        } catch DecodingError.dataCorrupted(let context) {
            // An enum's unknown value ("resize: stretch"): the field and what it says.
            throw WorkflowError("option '\(path(context))': \(context.debugDescription)")
        }
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

    /// "option 'classNames[0]' must be a String (YAML reads yes, no, on and off as true or false: quote them)".
    static func typeMismatch(_ type: Any.Type, _ context: DecodingError.Context, yaml: Bool) -> String {
        let path = path(context)
        let hint =
            yaml && type == String.self
            ? " (YAML reads yes, no, on and off as true or false, and bare digits as numbers: quote them, as in 'no')"
            : ""
        return "option '\(path)' must be a \(type)\(hint)"
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

/// A problem with a job's inputs or options that the user can act on.
public struct WorkflowError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
