import ArgumentParser
import Foundation
import Learn
import Serve
import Torch
import Workflow

/// `quadrat serve MODEL`: the model behind an HTTP API and an upload page.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a model over HTTP: a JSON API for photos and a page to drop them on.",
        discussion: """
            Routes: POST /v1/predict (an image as the body, or a multipart form file), POST /v1/predict/batch \
            (multipart, several files), GET /v1/model, GET /healthz, GET /metrics (Prometheus), GET / (the page).
            Example: quadrat serve runs/invasive/model.safetensors --port 8080
            """
    )

    @OptionGroup var model: ModelArgument
    @OptionGroup var device: DeviceOptions
    @Option(help: "Address to listen on (loopback by default; 0.0.0.0 for every interface).")
    var host = "127.0.0.1"
    @Option(help: "Port to listen on (0: any free one, printed at start).")
    var port = 8080
    @Option(name: .customLong("max-batch"), help: "Images per forward pass at most.")
    var maxBatch = 8
    @Option(
        help: ArgumentHelp(
            "Inference workers, each on its share of the cores (default: one per core, up to 8): one per core serves "
                + "many clients best; 1 on a many-core machine answers a lone client soonest."))
    var workers: Int?
    @Option(name: .customLong("max-wait-ms"), help: "How long a request waits for others to share its batch.")
    var maxWait = 5
    @Option(name: .customLong("queue-limit"), help: "Requests waiting for inference at most (then 503).")
    var queueLimit = 256
    @Option(name: .customLong("max-body"), help: "Largest request body in bytes (then 413).")
    var maxBody = 20 * 1024 * 1024
    @Option(help: "Seconds a request may wait for inference (then 503).")
    var timeout = 30.0
    @Option(help: "Require this bearer token on every route but /healthz (default: $QUADRAT_TOKEN, else none).")
    var token: String?
    @Option(help: "A folder of photos served at /examples/NAME; the page's ?example=NAME predicts one.")
    var examples: String?
    @Option(help: ArgumentHelp(Precision.inferenceHelp))
    var precision: Precision = .auto
    @Option(
        name: .customLong("max-connections"),
        help: "Open connections at most; more wait until one closes (slow or idle clients cannot take them all).")
    var maxConnections = 256
    @Option(name: .customLong("idle-timeout"), help: "Seconds a connection may send nothing before it is closed.")
    var idleTimeout = 30.0

    func run() async throws {
        var options = ServeOptions()
        options.host = host
        options.port = port
        options.maxBatch = maxBatch
        if let workers { options.workers = workers }
        options.maxWaitMilliseconds = maxWait
        options.queueLimit = queueLimit
        options.maxBodyBytes = maxBody
        options.timeoutSeconds = timeout
        options.maxConnections = maxConnections
        options.idleSeconds = idleTimeout
        try options.settle(token: token)
        Torch.useAllCores()
        let url = model.url
        let saved = try SavedModel(url)
        options.mixedPrecision = try saved.prepareInference(precision)  // quantizes `saved` for int8
        do {
            _ = try DriftReference.beside(saved)
        } catch {
            Console.warn("note: serving without the unknown answer: \(error)")
        }
        let server = try PredictionServer(
            model: saved, options: options, examples: examples.map { URL(fileURLWithPath: $0) })
        let host = self.host, protected = options.token != nil
        let announce: @Sendable (Int32) -> Void = { _ in
            Console.warn("stopping: answering the requests in flight (again to quit now)")
        }
        try await Interrupts.whileRunning(onFirstSignal: announce) {
            try await server.run { port in
                emit(
                    "serving \(url.lastPathComponent) on http://\(host):\(port)/"
                        + (protected ? " (bearer token required)" : ""))
            }
        }
        emit("stopped")
    }
}
