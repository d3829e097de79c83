import ArgumentParser
import Foundation
import Learn
import Serve
import Torch
import Vision
import Workflow

/// `quadrat review DATA`: the review page over a data folder.
struct ReviewCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "review",
        abstract: "Look at the photos, correct their labels and teach the model, in the browser.",
        discussion: """
            Serves a page (loopback by default) with queues to work through: the labels the audit doubts, the \
            photos the model gets wrong or is unsure of, unlabelled photos (test/ or --pool) in the order that \
            teaches the model most, and photos unlike anything labelled. Keys: digits set a label, space accepts \
            the model's answer, arrows move, z undoes, g shows a grid.

            Every decision is appended to DATA/review.journal.jsonl (flushed to disk before the page shows it \
            saved) and written into labels.reviewed.csv beside the labels CSV; the labels CSV itself is left \
            alone unless --in-place (then a backup first). Restarting resumes where the reviewer was.

            Example: quadrat review ~/elpv --run runs/elpv --port 8090
            """
    )

    @Argument(help: "A labelled data folder (Kaggle layout, or a folder with labels.csv) or its labels CSV.")
    var data: String
    @Option(help: "A training run (or its model file): its fine-tuned body makes the features, and heat maps show.")
    var run: String?
    @Option(help: "A folder of unlabelled photos to label (default: test/ beside the data when it has no labels).")
    var pool: String?
    @Flag(
        help: """
            Write the corrected labels into the labels CSV itself too (after a backup, NAME.before-review.csv); \
            labelled pool photos stay in labels.reviewed.csv, as the CSV's image folder does not hold them.
            """)
    var inPlace = false
    @Flag(help: "No model: only the `all` queue (no features to compute).")
    var noModel = false
    @Option(help: "single-label (default) or multi-label (a toggle per label).")
    var task: TaskKind = .singleLabel
    @Option(help: "Multi-label: what separates a photo's labels (default: a space).")
    var labelDelimiter = " "
    @Option(help: "The pretrained network giving the features (without --run).")
    var arch: Architecture = .efficientNetLite0
    @Option(help: "The most time between two photos of one burst, shown and decided together, e.g. 60s, 5m.")
    var burstGap = TimeSpan(seconds: 60)
    @Option(
        name: .customLong("train-option"), parsing: .unconditionalSingleValue,
        help: "An argument for the page's `quadrat train` run, one per flag or value (--train-option=--epochs …).")
    var trainOptions: [String] = []
    @Option(help: "Who the journal says decided (default: $USER); a page may say otherwise with ?who=NAME.")
    var reviewer: String?
    @Option(help: "Address to listen on (loopback by default).") var host = "127.0.0.1"
    @Option(help: "Port to listen on (0: any free one, printed at start).") var port = 8090
    @Option(help: "Require this bearer token on every route but /healthz (default: $QUADRAT_TOKEN, else none).")
    var token: String?
    @OptionGroup var columns: CSVColumns
    @OptionGroup var device: DeviceOptions

    func validate() throws {
        if labelDelimiter.isEmpty { throw ValidationError("--label-delimiter must not be empty") }
        if burstGap.seconds < 0 { throw ValidationError("--burst-gap must not be negative, not \(burstGap)") }
    }

    func run() async throws {
        var options = ServeOptions()
        (options.host, options.port) = (host, port)
        try options.settle(token: token)
        Torch.useAllCores()
        let model = run.map(ModelArgument.resolve)
        var review = ReviewSession.Options(data: URL(fileURLWithPath: data))
        review.pool = pool.map { URL(fileURLWithPath: $0) }
        (review.nameColumn, review.labelColumn) = (columns.nameColumn, columns.labelColumn)
        (review.task, review.delimiter, review.inPlace) = (task, labelDelimiter, inPlace)
        review.burstGap = burstGap.seconds
        if let reviewer { review.reviewer = reviewer }
        review.model?.architecture = arch
        review.model?.model = model
        if noModel { review.model = nil }
        let session = try ReviewSession(options: review)
        try session.materialize()
        var server = try ReviewServer(
            session: session, options: options, executable: Bundle.main.executableURL, model: model)
        server.trainArguments = trainOptions
        let state = session.state()
        let counts = state.queues.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.count)" }
        emit("\(state.photos.count) photos, \(state.decisions) decisions in the journal")
        emit("queues: \(counts.joined(separator: ", "))")
        let host = self.host, protected = options.token != nil
        let announce: @Sendable (Int32) -> Void = { _ in Console.warn("stopping") }
        try await Interrupts.whileRunning(onFirstSignal: announce) {
            try await server.run { port in
                emit("review on http://\(host):\(port)/" + (protected ? "?token=… (bearer token required)" : ""))
            }
        }
        emit("stopped; reviewed labels in \(session.reviewed.reviewedURL.path)")
    }
}
