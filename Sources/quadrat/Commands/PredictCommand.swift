import ArgumentParser
import Foundation
import Learn
import Torch
import Vision
import Workflow

extension SubmissionFormat: ExpressibleByArgument {}

/// `quadrat predict MODEL (IMAGES…|DIR)`.
struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Predict classes for new photos: a Kaggle submission, CSV or JSON.",
        discussion:
            "Example: quadrat predict runs/invasive/model.safetensors ~/invasive/test --tta --out submission.csv"
    )

    @OptionGroup var model: ModelArgument
    @Argument(help: "Image files, or one folder of images.")
    var inputs: [String] = []
    @Flag(help: "Test-time augmentation: the plain image and the views the model was validated with.")
    var tta = false
    @Option(help: ArgumentHelp(Precision.inferenceHelp))
    var precision: Precision = .auto
    @Option(help: "Output format: kaggle (a submission), csv (file, predicted class, every probability) or json.")
    var format: SubmissionFormat = .kaggle
    @Option(help: "Write here instead of standard output.")
    var out: String?
    @Option(
        help: ArgumentHelp(
            "Predict only the i-th of N equal parts of the folder's sorted listing, as a part file for --merge.",
            valueName: "i/N"))
    var shard: String?
    @Option(
        parsing: .upToNextOption,
        help: ArgumentHelp(
            "Join part files written with --shard, in the listing's order: the decisions of one unsharded run, and "
                + "probabilities within 1e-4 of it (other batches pick other kernels).", valueName: "part"))
    var merge: [String] = []

    @Option(
        help: """
            Also write one row per event to this CSV: photos by one camera in one folder taken within --burst-gap \
            of each other (EXIF capture time), with each class's highest probability and the event's class.
            """)
    var events: String?
    @Option(
        help: """
            With --events: the class meaning 'nothing there' (e.g. empty). An event is that class only when every \
            photo is; otherwise the other class most probable in any photo.
            """)
    var emptyClass: String?
    @Option(help: "The most time between two photos of one event, e.g. 60s, 5m (default 60s).")
    var burstGap = TimeSpan(seconds: 60)
    @Flag(
        help: """
            Skip the deployment check (how far the photos lie from the training ones), and with it \
            the unknown answer (csv and json lose their unknown columns).
            """)
    var noDriftCheck = false
    @Option(help: "Write each photo's distance from the training photos and its confidence to this CSV.")
    var driftReport: String?
    @OptionGroup var limits: ImageLimitOptions
    @OptionGroup var device: DeviceOptions
    @OptionGroup(title: "Prediction split between processes (or quadrat launch -n N -- predict …)")
    var distributed: DistributedOptions

    func validate() throws {
        if emptyClass != nil, events == nil { throw ValidationError("--empty-class is for --events") }
        if !merge.isEmpty || shard != nil {
            if driftReport != nil {
                throw ValidationError("--drift-report needs every photo: not with --shard or --merge")
            }
            if events != nil { throw ValidationError("--events needs every photo: not with --shard or --merge") }
        }
        if try distributed.settings() != nil, shard != nil || !merge.isEmpty {
            throw ValidationError(
                "--shard and --merge are for separate runs; ranks of a group split the photos themselves")
        }
        if !merge.isEmpty {
            guard inputs.isEmpty, shard == nil else { throw ValidationError("--merge takes part files, not photos") }
        } else if inputs.isEmpty {
            throw ValidationError("give image files or a folder (or --merge with part files)")
        }
        if let shard, PredictionShards.Shard(shard) == nil {
            throw ValidationError(
                "--shard must be i/N with 1 ≤ i ≤ N ≤ \(PredictionShards.Shard.maximumCount), such as 2/4, not "
                    + "'\(shard)'")
        }
    }

    func run() throws {
        Torch.useAllCores()
        var job = PredictionJob(model: try model.load())
        (job.tta, job.precision, job.format) = (tta, precision, format)
        if !merge.isEmpty {
            let (text, count) = try job.merged(merge.map { URL(fileURLWithPath: $0) })
            return try write(text, count: count)
        }
        (job.shard, job.group) = (shard.flatMap(PredictionShards.Shard.init), try distributed.join())
        (job.driftCheck, job.driftReport) = (!noDriftCheck, driftReport.map { URL(fileURLWithPath: $0) })
        if let events {
            try job.writeEvents(to: URL(fileURLWithPath: events), gap: burstGap, emptyClass: emptyClass)
        }
        guard let (text, count) = try job.run(Self.dataset(inputs), say: Console.warn) else { return }
        try write(text, count: count)
    }

    func write(_ text: String, count: Int) throws {
        if let out {
            try AtomicFile.write(text, to: URL(fileURLWithPath: out))
            FileHandle.standardError.write(Data("wrote \(count) predictions to \(out)\n".utf8))
        } else {
            print(text, terminator: "")
        }
    }

    /// One folder, or a list of image files.
    static func dataset(_ inputs: [String]) throws -> ImageDataset {
        var isDir: ObjCBool = false
        if inputs.count == 1, FileManager.default.fileExists(atPath: inputs[0], isDirectory: &isDir), isDir.boolValue {
            return try DataSource.unlabelled(URL(fileURLWithPath: inputs[0]))
        }
        let items = try inputs.map { path -> ImageItem in
            guard FileManager.default.fileExists(atPath: path) else { throw ValidationError("\(path) does not exist") }
            let url = URL(fileURLWithPath: path)
            return ImageItem(url: url, name: url.deletingPathExtension().lastPathComponent, label: nil)
        }
        return ImageDataset(items: items, classes: [])
    }
}
