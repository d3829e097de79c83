import ArgumentParser
import Foundation
import Learn
import Vision
import Workflow

/// The defaults `train` starts from, quoted in the help below so that it tells the truth when they change.
private let defaults = TrainOptions(data: "", out: "")

/// `train`'s flags, one per option: each property is named after the field of ``TrainOptions`` (or of its
/// recipe) that it sets, and ``TrainFlags/given()`` reads them by that name, so a new option is its field, its
/// flag here and its use. Flags override a JSON or YAML config file.
struct TrainFlags: ParsableArguments {
    @OptionGroup var limits: ImageLimitOptions
    @Option(help: "The network (default \(defaults.arch.rawValue)).")
    var arch: Architecture?
    @Option(help: "Input size in pixels (default: the architecture's, 224 for Lite0).")
    var size: Int?
    @Option(help: "Shorter side of the presize cache (default: 1.25 × size).")
    var presize: Int?
    @Option(help: "Images per batch (default \(defaults.batchSize)).")
    var batchSize: Int?
    @Option(help: "Seed for split, initialisation, shuffling and augmentation (default \(defaults.seed)).")
    var seed: UInt64?
    @Option(help: "Share of the labelled images held out for validation (default \(defaults.validFraction)).")
    var validFraction: Double?
    @Option(
        help: """
            Augmentation: side-on (photos from the side), top-down (photos from above: adds vertical flips and 90° \
            turns) or dihedral (flips and 90° turns only: aligned images whose brightness and borders matter); \
            default \(defaults.augmentation.rawValue).
            """)
    var augmentation: Augmentation.Preset?
    @Option(help: "Largest random rotation either way, in degrees (default 10).")
    var maxRotation: Double?
    @Option(help: "Largest random zoom factor (default 1.1; 1 for none).")
    var maxZoom: Double?
    @Option(help: "Largest random brightness and contrast change (default 0.2, that is ±20 %; 0 for none).")
    var maxLighting: Double?
    @Option(
        help: """
            Weights for the body (required for the ResNets): a torchvision or timm state dict, as safetensors or a \
            torch.save checkpoint, told apart by content; a 'module.' or 'model.' prefix on every key is removed.
            """)
    var weights: String?
    @OptionGroup var columns: CSVColumns
    @Option(
        help: """
            single-label (default: one class per photo) or multi-label (any number of labels per photo, none \
            included: the label column lists them, split by --label-delimiter).
            """)
    var task: TaskKind?
    @Option(help: "Multi-label: what separates a photo's labels in the label column (default: a space).")
    var labelDelimiter: String?
    @Option(name: .customLong("cycles"), help: "Unfrozen SGDR cycles (epochs grow with cycle-mult).")
    var unfrozenCycles: Int?
    @Option(name: .customLong("cycle-len"), help: "Epochs of the first unfrozen SGDR cycle.")
    var cycleLength: Int?
    @Option(help: "SGDR cycle-length multiplier.")
    var cycleMult: Int?
    @Option(
        name: .customLong("tta"),
        help: "Augmented views for the final TTA score (0 for none; default \(defaults.recipe.ttaViews)).")
    var ttaViews: Int?
    @Option(help: "Unfrozen epochs, one cosine cycle (default: planned from the data size, 3 to 12).")
    var epochs: Int?
    @Option(help: "Head epochs with augmentation, body frozen (default 0).")
    var headEpochs: Int?
    @Option(
        help: """
            The head's learning rate, or auto (default): a tenth of the rate at the LR finder's lowest loss. \
            In the unfrozen phase the groups train at 1/600, 1/60 and 1/10 of it (recipe.unfrozenRateDivisors).
            """)
    var lr: LearningRate?
    @Option(help: "Time for the whole run, e.g. 5m, 90s, 1h30m: epochs and TTA views are planned to fit it.")
    var budget: TimeSpan?
    @Option(
        help: """
            The share of validation photos the 'unknown' answer may refuse (default \(defaults.unknownRate)): \
            predict marks photos farther from the training photos than the rest of validation as unknown; 0 for never.
            """)
    var unknownRate: Double?
    @Option(help: "AdamW's weight decay, decoupled from the gradient (default \(defaults.weightDecay)).")
    var weightDecay: Double?
    @Option(help: "Stop when the monitored value has not improved for N epochs.")
    var patience: Int?
    @Option(
        help: """
            What picks the epoch whose weights are kept: valid_loss, accuracy, roc_auc (two classes), map or macro_f1 \
            (multi-label); default auto: valid_loss, or map for multi-label.
            """)
    var monitor: Monitor?
    @Option(help: "auto (default: time both on this machine, once), fp32 or bf16 (bfloat16 autocast).")
    var precision: Precision?
    @Option(
        help: """
            Binary models (and each label of a multi-label one): pick the decision threshold that keeps at least \
            this recall of the second class (of the label) on validation, instead of --decide-for. Multi-label: \
            per label as NAME=R,NAME=R (labels not named keep --decide-for; a bare number among them sets the rest).
            """)
    var targetRecall: TargetRecall?
    @Option(
        help: """
            What a binary model's threshold (each label's, multi-label) serves: accuracy (0.5 on calibrated \
            probabilities), balanced-accuracy (Youden's J on validation: for a rare class that matters) or f1 (the \
            best F1 on validation); default auto: accuracy, or f1 for multi-label.
            """)
    var decideFor: DecisionGoal?
    @Option(
        help: """
            How a photo becomes the square input: crop (default: the centre square), squish (the whole photo, \
            stretched) or pad (the whole photo, black bars).
            """)
    var resize: ResizeMethod?
    @Option(
        help: """
            Names to show for the classes, comma-separated in the order of the label values (e.g. 'healthy,invasive' \
            for 0,1); written files keep the values. Default: the values, or 'not COLUMN'/'COLUMN' for 0/1 labels.
            """)
    var classNames: NameList?
    @Option(help: "none, or auto: weigh each class by its inverse frequency in the loss (rare classes count more).")
    var classWeights: ClassWeights?
    @Option(help: "shuffle (default: every image once per epoch) or balanced (every class drawn equally often).")
    var sampler: Sampler?
    @Option(
        help: """
            Keep photos that belong together on one side of the split and in one fold: a column of the labels CSV \
            (site, camera, module, patient), or 'burst' for photos taken within --burst-gap of each other by one \
            camera (EXIF capture time).
            """)
    var groupBy: String?
    @Option(help: "The most time between two photos of one burst, e.g. 60s, 5m (default 60s).")
    var burstGap: TimeSpan?
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
    @Flag(inversion: .prefixedNo, help: "Run the learning-rate finder (default) or skip it.")
    var lrFind: Bool?
    @Option(help: "A JSON or YAML config file with any of these options (flags override it).")
    var config: String?
    @Flag(help: "Print the options as they would be used (defaults, config file and flags) as JSON, and exit.")
    var printConfig = false

    /// Properties that are not options of the run: the config file itself, what to do with it, the decoders'
    /// pixel limit and an alias.
    static let notOptions: Set<String> = ["config", "printConfig", "maxPixels", "noMixedPrecision"]

    /// The options: `base`, then the config file, then flags; checked before any work starts.
    func options(over base: TrainOptions) throws -> TrainOptions {
        do {
            var o = base
            if let config {
                guard let bytes = FileManager.default.contents(atPath: config) else {
                    throw ValidationError("config file \(config) does not exist")
                }
                do {
                    o = try TrainOptions.decodingConfig(bytes, yaml: !config.lowercased().hasSuffix(".json"), over: o)
                } catch {
                    // A parser's own error (JSON, YAML) or an option's: either way, the file is at fault.
                    throw ValidationError("config file \(config) is not valid: \(error)")
                }
            }
            o = try TrainOptions.merging(given(), over: o, strict: true)
            try o.validate()
            return o
        } catch let error as WorkflowError {
            throw ValidationError(Self.namingFlags(error))
        }
    }

    /// The options given as flags, as JSON values by option key (the recipe's under `recipe`).
    func given() throws -> [String: Any] {
        var options: [String: Any] = [:]
        var recipe: [String: Any] = [:]
        for (name, value) in GivenArguments.values(of: self) where !Self.notOptions.contains(name) {
            let json = try GivenArguments.json(value)
            if TrainOptions.optionNames.contains(name) {
                options[name] = json
            } else {
                // FlagTableTests checks that every other property names a field of the recipe.
                recipe[name] = json
            }
        }
        if noMixedPrecision { options["precision"] = Precision.fp32.rawValue }
        if !recipe.isEmpty { options["recipe"] = recipe }
        return options
    }

    /// "option 'batchSize' must be …" as "--batch-size must be …" where the flag is the option's name.
    static func namingFlags(_ error: WorkflowError) -> String {
        guard let option = error.option, !option.contains("."), !option.contains("[") else { return error.message }
        let flag = "--" + option.map { $0.isUppercase ? "-" + $0.lowercased() : String($0) }.joined()
        return error.message.replacingOccurrences(of: "option '\(option)'", with: flag)
    }
}

extension Precision: ExpressibleByArgument {}
extension Monitor: ExpressibleByArgument {}
extension LearningRate: ExpressibleByArgument {
    public init?(argument: String) { self.init(text: argument) }
}
extension TimeSpan: ExpressibleByArgument {
    public init?(argument: String) { self.init(text: argument) }
}
extension TargetRecall: ExpressibleByArgument {
    public init?(argument: String) { self.init(text: argument) }
}
extension ClassWeights: ExpressibleByArgument {}
extension Sampler: ExpressibleByArgument {}
extension DecisionGoal: ExpressibleByArgument {}
extension TaskKind: ExpressibleByArgument {}
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
    @OptionGroup var device: DeviceOptions
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
        do {
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
        } catch let error as WorkflowError where error.option != nil {
            // An option the data refuses (a label it lacks, a metric its classes cannot give): named as typed.
            throw WorkflowError(TrainFlags.namingFlags(error))
        }
    }
}
