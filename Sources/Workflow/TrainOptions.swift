import Foundation
import Learn
import Vision
import Yams

/// Options of a training run (from flags, a config file, or both); written to config.json as used and
/// into the model file. Each option is declared once, here: its field names the config key, `train`'s flag
/// (`TrainFlags` names its properties after the fields) and `--print-config`'s entry; files are read over the
/// defaults (``merging(_:over:strict:)``), so a key absent from a file from an older version keeps its default.
public struct TrainOptions: Codable, Sendable, Equatable {
    /// The labelled data: a Kaggle-layout folder, a folder of class folders, or a labels CSV.
    public var data: String
    /// The run folder.
    public var out: String
    public var arch = Architecture.efficientNetLite0
    /// Model input size (nil: the architecture's).
    public var size: Int?
    /// Shorter side of the presize cache (nil: 1.25 × size).
    public var presize: Int?
    public var batchSize = 32
    public var validFraction = 0.2
    public var seed: UInt64 = 42
    /// The augmentation preset: side-on, top-down or dihedral; the three `max…` fields below override its limits.
    public var augmentation = Augmentation.Preset.sideOn
    public var maxRotation: Double?
    public var maxZoom: Double?
    public var maxLighting: Double?
    /// A checkpoint for the body (nil: the bundled ImageNet weights).
    public var weights: String?
    public var nameColumn: String?
    public var labelColumn: String?
    /// One class per photo, or any number of labels (the label column then lists them, split by `labelDelimiter`).
    public var task = TaskKind.singleLabel
    /// What separates the labels of one photo in the label column of multi-label data (the Planet CSV's space).
    public var labelDelimiter = " "
    public var recipe = Recipe()
    public var lrFind = true
    /// Epochs with the body unfrozen, one cosine cycle (nil: planned from the data size, or from `budget`).
    /// `--cycles`/`--cycle-len`/`--cycle-mult` (the recipe's SGDR fields) apply when this and `budget` are nil
    /// and the recipe's `cycleLength` is set.
    public var epochs: Int?
    /// Head epochs with augmentation, body frozen (nil: 1, or fewer when a budget is tight).
    public var headEpochs: Int?
    /// The head's learning rate (auto: the LR finder's suggestion); the body's discriminative rates follow it (from
    /// half of it for a multi-label model, whose sigmoid head takes about twice a softmax head's rate).
    public var lr = LearningRate.auto
    /// Time the whole run may take, TTA and report included (nil: no limit).
    public var budget: TimeSpan?
    /// The share of validation photos that the "unknown" answer may refuse: photos farther from the training photos
    /// than all but this share of validation are answered unknown by `predict` (0: never).
    public var unknownRate = 0.05
    /// AdamW's decoupled weight decay, in every phase (fastai's default, 0.01).
    public var weightDecay = 0.01
    /// Stop when the monitored value has not improved for this many epochs (nil: never).
    public var patience: Int?
    /// What chooses the epoch whose weights are kept: valid_loss, accuracy or roc_auc (single-label), map or
    /// macro_f1 (multi-label); auto is valid_loss for single-label and map for multi-label (``monitored``).
    public var monitor = Monitor.auto
    /// float32 or bfloat16 autocast, or whichever measured faster here.
    public var precision = Precision.auto
    /// Progressive resizing: the first half of the unfrozen epochs train at three quarters of the size.
    public var progressive = false
    /// A checkpoint (from Ctrl-C) to continue from: its weights are loaded and only the unfrozen phase runs.
    public var resume: String?
    /// Binary models: choose the decision threshold as the highest that keeps at least this recall of the second
    /// class on validation (nil: the threshold serves `decideFor`).
    public var targetRecall: TargetRecall?
    /// What the decision threshold serves (binary models, and each label of a multi-label one): accuracy (0.5 on
    /// calibrated probabilities), balanced accuracy (Youden's J on validation) or F1 (the best on validation); auto
    /// is accuracy for single-label and F1 for multi-label (``decisionGoal``).
    public var decideFor = DecisionGoal.auto
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
    /// The most time between two photos of one burst (`--group-by burst`, `predict --events`).
    public var burstGap = TimeSpan(seconds: 60)
    /// Let copies of a photo fall on both sides of the split (by default each cluster of near-duplicates stays on
    /// one side).
    public var splitDuplicates = false

    /// The input size of the default architecture: what `check` and `explore` presize for, so `train` finds it.
    public static var defaultSize: Int { TrainOptions(data: "", out: "").arch.defaultSize }

    public init(data: String, out: String) {
        self.data = data
        self.out = out
    }

    /// The metric keep-best and early stopping watch: `monitor`, or the task's default for auto.
    public var monitored: Monitor {
        guard monitor == .auto else { return monitor }
        return task.task.monitorable.first.flatMap(Monitor.init(rawValue:)) ?? .validLoss
    }

    /// What decision thresholds serve: `decideFor`, or the task's default for auto.
    public var decisionGoal: DecisionGoal {
        guard decideFor == .auto else { return decideFor }
        return task.task.defaultDecisionGoal
    }

    /// The preset named by `augmentation` with the limits given in the options.
    public var augmentationSettings: Augmentation {
        // Every preset has settings; side-on stands in should a preset ever lack them.
        var a = Augmentation(preset: augmentation.rawValue) ?? .sideOn
        if let maxRotation { a.maxRotation = maxRotation }
        if let maxZoom { a.maxZoom = maxZoom }
        if let maxLighting { a.maxLighting = maxLighting }
        return a
    }

    /// Checks every option before any work starts, with a message naming the option.
    public func validate() throws {
        try check(size, 32...1024, "size", " pixels")
        try check(presize, 32...4096, "presize", " pixels")
        try check(batchSize, 1...1024, "batchSize")
        try check(maxRotation, 0...180, "maxRotation", " degrees")
        try check(maxZoom, 1...4, "maxZoom")
        if let l = maxLighting, !(0..<1).contains(l) {
            throw WorkflowError(option: "maxLighting", "must be at least 0 and below 1, not \(l)")
        }
        if !(validFraction > 0 && validFraction < 1) {
            throw WorkflowError(option: "validFraction", "must be above 0 and below 1, not \(validFraction)")
        }
        if groupBy?.trimmingCharacters(in: .whitespaces).isEmpty == true {
            throw WorkflowError(option: "groupBy", "needs a column of the labels CSV, or burst")
        }
        if !(burstGap.seconds >= 0 && burstGap.seconds <= 366 * 86_400) {
            throw WorkflowError(option: "burstGap", "must be 0 s to a year, not \(burstGap)")
        }
        if precision == .int8 {
            throw WorkflowError(
                option: "precision", "int8 is for inference (predict, evaluate, serve): train in auto, fp32 or bf16")
        }
        try validateRecipe()
        try check(epochs, 1...1000, "epochs")
        try check(headEpochs, 0...100, "headEpochs")
        try check(weightDecay, 0...1, "weightDecay")
        try check(unknownRate, 0...0.5, "unknownRate")
        if let rate = lr.given, !(rate > 0 && rate < 1) {
            throw WorkflowError(option: "lr", "must be 'auto' or a rate between 0 and 1, not \(rate)")
        }
        if let budget, !(budget.seconds >= 10) {
            throw WorkflowError(option: "budget", "must be at least 10 s, not \(budget)")
        }
        if let patience, patience < 1 { throw WorkflowError(option: "patience", "must be at least 1, not \(patience)") }
        if let targetRecall, let bad = targetRecall.values.first(where: { !($0 > 0 && $0 <= 1) }) {
            throw WorkflowError(option: "targetRecall", "must be above 0 and at most 1, not \(bad)")
        }
        if let targetRecall, !targetRecall.labels.isEmpty, !task.task.decidesEachClass {
            throw WorkflowError(
                option: "targetRecall",
                "names labels (\(targetRecall)), which only a multi-label model has: give one number, or --task "
                    + "multi-label")
        }
        if let classNames,
            classNames.contains(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty })
                || Set(classNames).count != classNames.count
        {
            throw WorkflowError(option: "classNames", "must be distinct, non-empty names, not \(classNames)")
        }
        try validateTask()
        if let resume, !FileManager.default.fileExists(atPath: resume) {
            throw WorkflowError("checkpoint \(resume) does not exist")
        }
    }

    /// Options that belong to one task only.
    func validateTask() throws {
        let monitorable = task.task.monitorable
        if monitor != .auto, !monitorable.contains(monitor.rawValue) {
            let owner = TaskKind.allCases.first { $0.task.monitorable.contains(monitor.rawValue) }
            throw WorkflowError(
                option: "monitor",
                "\(monitor.rawValue) scores \(owner.map { $0.rawValue + " models" } ?? "no task"): a \(task.rawValue) "
                    + "model monitors \(monitorable.joined(separator: ", "))")
        }
        if labelDelimiter.isEmpty { throw WorkflowError(option: "labelDelimiter", "must not be empty") }
        if task.task.decidesEachClass, classNames != nil {
            throw WorkflowError(
                option: "classNames",
                "renames the classes of one-class-per-photo data; \(task.rawValue) data keeps its labels")
        }
    }

    /// The recipe's fields, named as config keys (`recipe.ttaViews`).
    func validateRecipe() throws {
        try check(recipe.unfrozenCycles, 0...100, "recipe.unfrozenCycles")
        try check(recipe.cycleLength, 1...1000, "recipe.cycleLength")
        try check(recipe.cycleMult, 1...10, "recipe.cycleMult")
        // SGDR's epochs grow geometrically: 100 cycles at ×10 is 10^99 epochs, which overflowed the plan (a trap).
        let sgdrEpochs =
            (0..<recipe.unfrozenCycles).reduce(0.0) { total, k in
                total + pow(Double(recipe.cycleMult), Double(k))
            } * Double(recipe.cycleLength ?? 1)
        if sgdrEpochs > 1000 {
            throw WorkflowError(
                option: "recipe.unfrozenCycles",
                "\(recipe.unfrozenCycles) with recipe.cycleMult \(recipe.cycleMult) and recipe.cycleLength "
                    + "\(recipe.cycleLength ?? 1) make \(String(format: "%.3g", sgdrEpochs)) epochs; at most 1000")
        }
        try check(recipe.ttaViews, 0...64, "recipe.ttaViews")
        try check(recipe.precomputeEpochs, 0...1000, "recipe.precomputeEpochs")
        try check(recipe.unfrozenFrom, 0...2, "recipe.unfrozenFrom")
        let rateLists = [
            ("unfrozenRates", recipe.unfrozenRates, 10.0), ("unfrozenRateDivisors", recipe.unfrozenRateDivisors, 1e6),
        ]
        for (name, rates, most) in rateLists
        where rates.isEmpty || rates.count > 3 || !rates.allSatisfy({ $0 > 0 && $0 <= most }) {
            throw WorkflowError(
                option: "recipe.\(name)",
                "must hold 1 to 3 numbers above 0 and at most \(most) (early body, late body, head), not \(rates)")
        }
        if !(recipe.unfrozenWarmup >= 0 && recipe.unfrozenWarmup < 1) {
            throw WorkflowError(
                option: "recipe.unfrozenWarmup", "must be at least 0 and below 1, not \(recipe.unfrozenWarmup)")
        }
    }

    /// Refuses a value outside `range`, naming the option.
    private func check<T: Comparable>(
        _ value: T?, _ range: ClosedRange<T>, _ option: String, _ unit: String = ""
    )
        throws
    {
        // Whole numbers without a decimal point: "between 1 and 4", not "between 1.0 and 4.0".
        func text(_ number: T) -> String { (number as? Double).map { String(format: "%g", $0) } ?? "\(number)" }
        if let value, !range.contains(value) {
            throw WorkflowError(
                option: option,
                "must be between \(text(range.lowerBound)) and \(text(range.upperBound))\(unit), not \(text(value))")
        }
    }
}

/// A problem with a job's inputs or options that the user can act on.
public struct WorkflowError: Error, CustomStringConvertible, Sendable {
    public let message: String
    /// The option at fault, as a config file names it (`batchSize`, `recipe.ttaViews`), when one is.
    public let option: String?
    public init(_ message: String) { (self.message, self.option) = (message, nil) }
    /// "option 'batchSize' must be …": `problem` says what is wrong with it.
    public init(option: String, _ problem: String) {
        (self.message, self.option) = ("option '\(option)' \(problem)", option)
    }
    public var description: String { message }
}
