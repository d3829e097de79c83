import ArgumentParser
import Foundation
import Learn
import Vision
import Yams

/// Options shared by commands that train: flags override a JSON config file.
struct TrainFlags: ParsableArguments {
    @Option(help: "Architecture: \(Architecture.allCases.map(\.rawValue).joined(separator: ", ")).")
    var arch: String?
    @Option(help: "Input size in pixels (default: the architecture's, 224 for Lite0).")
    var size: Int?
    @Option(help: "Shorter side of the presize cache (default: 1.25 × size).")
    var presize: Int?
    @Option(name: .customLong("batch-size"), help: "Images per batch.")
    var batchSize: Int?
    @Option(help: "Seed for split, initialisation, shuffling and augmentation.")
    var seed: UInt64?
    @Option(name: .customLong("valid-fraction"), help: "Share of the labelled images held out for validation.")
    var validFraction: Double?
    @Option(help: "Augmentation: side-on (photos from the side), top-down (photos from above: adds vertical flips and 90° turns) or dihedral (flips and 90° turns only: aligned images whose brightness and borders matter).")
    var augmentation: String?
    @Option(name: .customLong("max-rotation"), help: "Largest random rotation either way, in degrees (default 10).")
    var maxRotation: Double?
    @Option(name: .customLong("max-zoom"), help: "Largest random zoom factor (default 1.1; 1 for none).")
    var maxZoom: Double?
    @Option(name: .customLong("max-lighting"), help: "Largest random brightness and contrast change (default 0.2, that is ±20 %; 0 for none).")
    var maxLighting: Double?
    @Option(help: "Checkpoint for the body (required for the ResNets: a torchvision state dict).")
    var weights: String?
    @Option(name: .customLong("name-column"), help: "CSV column with image names (default: the first).")
    var nameColumn: String?
    @Option(name: .customLong("label-column"), help: "CSV column with labels (default: the second).")
    var labelColumn: String?
    @Option(help: "Unfrozen SGDR cycles (epochs grow with cycle-mult).")
    var cycles: Int?
    @Option(name: .customLong("cycle-len"), help: "Epochs of the first unfrozen SGDR cycle.")
    var cycleLength: Int?
    @Option(name: .customLong("cycle-mult"), help: "SGDR cycle-length multiplier.")
    var cycleMult: Int?
    @Option(name: .customLong("tta"), help: "Augmented views for the final TTA score (0 for none).")
    var ttaViews: Int?
    @Flag(name: .customLong("no-mixed-precision"), help: "Train in float32 instead of bfloat16 autocast.")
    var noMixedPrecision = false
    @Option(help: "Continue from a checkpoint saved by Ctrl-C (runs the unfrozen phase).")
    var resume: String?
    @Flag(name: .customLong("no-lr-find"), help: "Skip the learning-rate finder.")
    var noLRFind = false
    @Option(help: "A JSON or YAML config file with any of these options (flags override it).")
    var config: String?

    /// Decodes a config file over the defaults (keys as in config.json: arch, size, seed, augmentation, recipe…).
    static func decodeConfig(_ bytes: Data, yaml: Bool, data: String, out: String) throws -> TrainOptions {
        let defaults = try JSONSerialization.jsonObject(with: JSONEncoder().encode(TrainOptions(data: data, out: out))) as? [String: Any] ?? [:]
        let given: [String: Any]
        if yaml {
            given = try Yams.load(yaml: String(decoding: bytes, as: UTF8.self)) as? [String: Any] ?? [:]
        } else {
            given = try JSONSerialization.jsonObject(with: bytes) as? [String: Any] ?? [:]
        }
        var merged = defaults
        for (key, value) in given {
            if let inner = value as? [String: Any], var base = merged[key] as? [String: Any] {
                for (k, v) in inner { base[k] = v }
                merged[key] = base
            } else {
                merged[key] = value
            }
        }
        return try JSONDecoder().decode(TrainOptions.self, from: JSONSerialization.data(withJSONObject: merged))
    }

    /// The options: defaults, then the config file, then flags.
    func options(data: String, out: String) throws -> TrainOptions {
        var o = TrainOptions(data: data, out: out)
        if let config {
            guard let bytes = FileManager.default.contents(atPath: config) else { throw ValidationError("config file \(config) does not exist") }
            do {
                // Every key is optional in a config file: start from the defaults and overlay it.
                o = try Self.decodeConfig(bytes, yaml: !config.lowercased().hasSuffix(".json"), data: data, out: out)
                o.data = data
                o.out = out
            } catch {
                throw ValidationError("config file \(config) is not valid: \(error)")
            }
        }
        if let arch { o.arch = arch }
        _ = try Architecture(named: o.arch)
        if let size { o.size = size }
        if let presize { o.presize = presize }
        if let batchSize { o.batchSize = batchSize }
        if let seed { o.seed = seed }
        if let validFraction { o.validFraction = validFraction }
        if let augmentation { o.augmentation = augmentation }
        guard Augmentation(preset: o.augmentation) != nil else {
            throw ValidationError("--augmentation must be one of \(Augmentation.presetNames.joined(separator: ", ")), not '\(o.augmentation)'")
        }
        if let maxRotation { o.maxRotation = maxRotation }
        if let maxZoom { o.maxZoom = maxZoom }
        if let maxLighting { o.maxLighting = maxLighting }
        if let r = o.maxRotation, !(0...180).contains(r) { throw ValidationError("--max-rotation must be between 0 and 180 degrees, not \(r)") }
        if let z = o.maxZoom, !(1...4).contains(z) { throw ValidationError("--max-zoom must be between 1 and 4, not \(z)") }
        if let l = o.maxLighting, !(0..<1).contains(l) { throw ValidationError("--max-lighting must be at least 0 and below 1, not \(l)") }
        if let weights { o.weights = weights }
        if let nameColumn { o.nameColumn = nameColumn }
        if let labelColumn { o.labelColumn = labelColumn }
        if let cycles { o.recipe.unfrozenCycles = cycles }
        if let cycleMult { o.recipe.cycleMult = cycleMult }
        if let cycleLength { o.recipe.cycleLength = cycleLength }
        if let ttaViews { o.recipe.ttaViews = ttaViews }
        if noMixedPrecision { o.recipe.mixedPrecision = false }
        if noLRFind { o.lrFind = false }
        if let resume {
            guard FileManager.default.fileExists(atPath: resume) else { throw ValidationError("checkpoint \(resume) does not exist") }
            o.resume = resume
        }
        return o
    }
}

/// `quadrat train DATA --out RUN`.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a classifier with the default recipe and write model, history, predictions, config and report.",
        discussion: """
        DATA is a Kaggle-layout folder (train/ + train_labels.csv), a folder with one sub-folder per class, or a labels CSV.
        The recipe: head on precomputed activations → head with augmentation (SGDR) → all layers with discriminative
        rates (SGDR, cycle-mult 2) → TTA for the validation score.

        Example: quadrat train ~/invasive --out runs/invasive --arch efficientnet-lite0 --size 224
        """
    )

    @Argument(help: "The labelled data.")
    var data: String
    @Option(help: "Folder for the run's outputs.")
    var out: String
    @OptionGroup var flags: TrainFlags

    func run() throws {
        let outcome = try TrainingRun(options: flags.options(data: data, out: out)).run()
        print("model: \(outcome.modelURL.path)")
        print("report: \(outcome.reportURL.path)")
    }
}
