import ArgumentParser
import Foundation
import Learn
import Vision
import Workflow

/// The defaults `train` starts from, quoted in the help below so that it tells the truth when they change.
private let defaults = TrainOptions(data: "", out: "")

/// Options shared by commands that train: flags override a JSON config file.
struct TrainFlags: ParsableArguments {
    @OptionGroup var limits: ImageLimitOptions
    @Option(help: "The network (default \(defaults.arch)).")
    var arch: Architecture?
    @Option(help: "Input size in pixels (default: the architecture's, 224 for Lite0).")
    var size: Int?
    @Option(help: "Shorter side of the presize cache (default: 1.25 × size).")
    var presize: Int?
    @Option(name: .customLong("batch-size"), help: "Images per batch (default \(defaults.batchSize)).")
    var batchSize: Int?
    @Option(help: "Seed for split, initialisation, shuffling and augmentation (default \(defaults.seed)).")
    var seed: UInt64?
    @Option(
        name: .customLong("valid-fraction"),
        help: "Share of the labelled images held out for validation (default \(defaults.validFraction)).")
    var validFraction: Double?
    @Option(
        help:
            "Augmentation: side-on (photos from the side), top-down (photos from above: adds vertical flips and 90° turns) or dihedral (flips and 90° turns only: aligned images whose brightness and borders matter); default \(defaults.augmentation)."
    )
    var augmentation: Augmentation.Preset?
    @Option(name: .customLong("max-rotation"), help: "Largest random rotation either way, in degrees (default 10).")
    var maxRotation: Double?
    @Option(name: .customLong("max-zoom"), help: "Largest random zoom factor (default 1.1; 1 for none).")
    var maxZoom: Double?
    @Option(
        name: .customLong("max-lighting"),
        help: "Largest random brightness and contrast change (default 0.2, that is ±20 %; 0 for none).")
    var maxLighting: Double?
    @Option(
        help: """
            Weights for the body (required for the ResNets): a torchvision or timm state dict, as safetensors or a \
            torch.save checkpoint, told apart by content; a 'module.' or 'model.' prefix on every key is removed.
            """)
    var weights: String?
    @OptionGroup var columns: CSVColumns
    @Option(help: "Unfrozen SGDR cycles (epochs grow with cycle-mult).")
    var cycles: Int?
    @Option(name: .customLong("cycle-len"), help: "Epochs of the first unfrozen SGDR cycle.")
    var cycleLength: Int?
    @Option(name: .customLong("cycle-mult"), help: "SGDR cycle-length multiplier.")
    var cycleMult: Int?
    @Option(
        name: .customLong("tta"),
        help: "Augmented views for the final TTA score (0 for none; default \(defaults.recipe.ttaViews)).")
    var ttaViews: Int?
    @Option(help: "Unfrozen epochs, one cosine cycle (default: planned from the data size, 3 to 12).")
    var epochs: Int?
    @Option(name: .customLong("head-epochs"), help: "Head epochs with augmentation, body frozen (default 0).")
    var headEpochs: Int?
    @Option(
        help: """
            The head's learning rate, or auto (default): a tenth of the rate at the LR finder's lowest loss. \
            In the unfrozen phase the groups train at 1/600, 1/60 and 1/10 of it (recipe.unfrozenRateDivisors).
            """)
    var lr: String?
    @Option(help: "Time for the whole run, e.g. 5m, 90s, 1h30m: epochs and TTA views are planned to fit it.")
    var budget: String?
    @Option(help: "Stop when the monitored value has not improved for N epochs.")
    var patience: Int?
    @Option(
        help:
            "What picks the epoch whose weights are kept: valid_loss, accuracy or roc_auc (default \(defaults.monitor))."
    )
    var monitor: String?
    @Option(help: "auto (default: time both on this machine, once), fp32 or bf16 (bfloat16 autocast).")
    var precision: Precision?
    @Option(
        help: """
            Binary models: pick the decision threshold that keeps at least this recall of the second class on \
            validation (instead of --decide-for).
            """)
    var targetRecall: Double?
    @Option(
        name: .customLong("decide-for"),
        help: """
            Binary models: what the decision threshold serves, accuracy (default: 0.5 on calibrated probabilities) \
            or balanced-accuracy (Youden's J on validation: for a rare class that matters).
            """)
    var decideFor: DecisionGoal?
    @Option(
        help: """
            How a photo becomes the square input: crop (default: the centre square), squish (the whole photo, \
            stretched) or pad (the whole photo, black bars).
            """)
    var resize: ResizeMethod?
    @Option(
        name: .customLong("class-names"),
        help: """
            Names to show for the classes, comma-separated in the order of the label values (e.g. 'healthy,invasive' \
            for 0,1); written files keep the values. Default: the values, or 'not COLUMN'/'COLUMN' for 0/1 labels.
            """)
    var classNames: String?
    @Option(help: "none, or auto: weigh each class by its inverse frequency in the loss (rare classes count more).")
    var classWeights: ClassWeights?
    @Option(
        help: "shuffle (default: every image once per epoch) or balanced (every class drawn equally often).")
    var sampler: Sampler?
    @Option(
        name: .customLong("group-by"),
        help: """
            Keep photos that belong together on one side of the split and in one fold: a column of the labels CSV \
            (site, camera, module, patient), or 'burst' for photos taken within --burst-gap of each other by one \
            camera (EXIF capture time).
            """)
    var groupBy: String?
    @Option(help: "The most time between two photos of one burst, e.g. 60s, 5m (default 60s).")
    var burstGap: String?
    @Flag(
        help: "Let near-duplicate photos fall on both sides of the split (by default each cluster stays on one side).")
    var splitDuplicates = false
    @Flag(help: "Progressive resizing: the first half of the unfrozen epochs at three quarters of the size.")
    var progressive = false
    @Flag(name: .customLong("no-mixed-precision"), help: "Same as --precision fp32.")
    var noMixedPrecision = false
    @Option(
        help: "Continue from a checkpoint saved by Ctrl-C: the interrupted epoch again, then what was left.")
    var resume: String?
    @Flag(name: .customLong("no-lr-find"), help: "Skip the learning-rate finder.")
    var noLRFind = false
    @Option(help: "A JSON or YAML config file with any of these options (flags override it).")
    var config: String?
    @Flag(
        name: .customLong("print-config"),
        help: "Print the options as they would be used (defaults, config file and flags) as JSON, and exit.")
    var printConfig = false

    /// The options: `base`, then the config file, then flags; checked before any work starts.
    func options(over base: TrainOptions) throws -> TrainOptions {
        var o = base
        if let config {
            guard let bytes = FileManager.default.contents(atPath: config) else {
                throw ValidationError("config file \(config) does not exist")
            }
            do {
                o = try TrainOptions.decodingConfig(bytes, yaml: !config.lowercased().hasSuffix(".json"), over: base)
            } catch {
                throw ValidationError("config file \(config) is not valid: \(error)")
            }
        }
        if let arch { o.arch = arch.rawValue }
        if let size { o.size = size }
        if let presize { o.presize = presize }
        if let batchSize { o.batchSize = batchSize }
        if let seed { o.seed = seed }
        if let validFraction { o.validFraction = validFraction }
        if let augmentation { o.augmentation = augmentation.rawValue }
        if let maxRotation { o.maxRotation = maxRotation }
        if let maxZoom { o.maxZoom = maxZoom }
        if let maxLighting { o.maxLighting = maxLighting }
        if let weights { o.weights = weights }
        if let nameColumn = columns.nameColumn { o.nameColumn = nameColumn }
        if let labelColumn = columns.labelColumn { o.labelColumn = labelColumn }
        if let cycles { o.recipe.unfrozenCycles = cycles }
        if let cycleMult { o.recipe.cycleMult = cycleMult }
        if let cycleLength { o.recipe.cycleLength = cycleLength }
        if let ttaViews { o.recipe.ttaViews = ttaViews }
        if let epochs { o.epochs = epochs }
        if let headEpochs { o.headEpochs = headEpochs }
        if let lr {
            if lr.lowercased() == "auto" {
                o.lr = nil
            } else if let rate = Double(lr) {
                o.lr = rate
            } else {
                throw ValidationError("--lr must be 'auto' or a number such as 3e-3, not '\(lr)'")
            }
        }
        if let budget {
            guard let seconds = DurationText.seconds(budget) else {
                throw ValidationError("--budget must be a duration such as 5m, 90s or 1h30m, not '\(budget)'")
            }
            o.budget = seconds
        }
        if let patience { o.patience = patience }
        if let monitor { o.monitor = monitor }
        if let precision { o.precision = precision }
        if noMixedPrecision { o.precision = .fp32 }
        if progressive { o.progressive = true }
        if noLRFind { o.lrFind = false }
        if let resume { o.resume = resume }
        if let targetRecall { o.targetRecall = targetRecall }
        if let decideFor { o.decideFor = decideFor }
        if let resize { o.resize = resize }
        if let classNames {
            o.classNames = classNames.split(separator: ",", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
        }
        if let classWeights { o.classWeights = classWeights }
        if let sampler { o.sampler = sampler }
        try mergeGrouping(into: &o)
        do {
            try o.validate()
        } catch let error as WorkflowError {
            throw ValidationError(error.message)
        }
        return o
    }
}

extension TrainFlags {
    /// `--group-by`, `--burst-gap` and `--split-duplicates` over the options.
    func mergeGrouping(into o: inout TrainOptions) throws {
        if let groupBy { o.groupBy = groupBy }
        if let burstGap {
            guard let seconds = DurationText.seconds(burstGap), seconds >= 0 else {
                throw ValidationError("--burst-gap \(burstGap) is not a duration (e.g. 60s, 5m, 1h)")
            }
            o.burstGap = seconds
        }
        if splitDuplicates { o.splitDuplicates = true }
    }
}

extension Precision: ExpressibleByArgument {}
extension ClassWeights: ExpressibleByArgument {}
extension Sampler: ExpressibleByArgument {}
extension DecisionGoal: ExpressibleByArgument {}
extension ResizeMethod: ExpressibleByArgument {}
extension Architecture: ExpressibleByArgument {}
extension Augmentation.Preset: ExpressibleByArgument {}

/// `quadrat train DATA --out RUN`.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract:
            "Train a classifier with the default recipe and write model, history, predictions, config and report.",
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
    @Option(
        help: """
            Cross-validation: train K models on stratified folds; write out-of-fold predictions, each fold's \
            scores with mean ± sd, and the K models as one ensemble (RUN/model.safetensors) that predict, \
            evaluate and serve average.
            """)
    var folds: Int?
    @OptionGroup(title: "Data-parallel training (or quadrat launch -n N -- train …)")
    var distributed: DistributedOptions

    func validate() throws {
        _ = try distributed.settings()
        if let folds {
            guard (2...20).contains(folds) else { throw ValidationError("--folds must be 2 to 20, not \(folds)") }
            guard flags.resume == nil else { throw ValidationError("--resume continues one run, not --folds") }
        }
    }

    func run() throws {
        let options = try flags.options(over: TrainOptions(data: data, out: out))
        if flags.printConfig {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(options), as: UTF8.self))
            return
        }
        let group = try distributed.join()
        if let folds {
            let outcome = try CrossValidation(options: options, folds: folds, group: group).run()
            guard (group?.rank ?? 0) == 0 else { return }
            print("ensemble model: \(outcome.modelURL.path)")
            return
        }
        let outcome = try TrainingRun(options: options, group: group).run()
        guard (group?.rank ?? 0) == 0 else { return }
        print("model: \(outcome.modelURL.path)")
        print("report: \(outcome.reportURL.path)")
    }
}
