import FormData
import Foundation
import Hummingbird
import HummingbirdCore
import Learn
import NIOCore
import Torch
import Vision

/// `quadrat serve`: a saved model behind an HTTP API (Hummingbird 2), with the upload page at `/`.
///
/// Routes: `POST /v1/predict` (an image as the body, or multipart form files: the first one),
/// `POST /v1/predict/batch` (multipart, every file), `GET /v1/model`, `GET /healthz`, `GET /metrics`, `GET /`,
/// and `GET /examples/NAME` when an examples folder is given. Every route but `/healthz` needs the bearer token
/// when one is set (the page also takes it as `?token=`). Images are decoded and prepared on the request's task;
/// the forward passes run in the ``InferenceQueue``'s micro-batches.
///
/// `@unchecked Sendable`: the model's network runs on the queue's worker thread only; request tasks use only its
/// read-only fields and input preparation (the presize steps), which share nothing mutable.
public struct PredictionServer: @unchecked Sendable {
    public let model: SavedModel
    public let modelURL: URL
    public let options: ServeOptions
    public let queue: InferenceQueue
    public let metrics = ServeMetrics()
    /// Photos served at `/examples/NAME` for the page's `?example=NAME`.
    public let examples: URL?

    public init(modelURL: URL, options: ServeOptions, examples: URL? = nil) throws {
        try options.validate()  // before reading the model, as always
        let model = try SavedModel(modelURL)
        if options.int8 { try model.quantize() }
        try self.init(model: model, options: options, examples: examples)
    }

    /// Serves `model` as it is (in INT8 when it was quantized), read from its file once by the caller.
    public init(model: SavedModel, options: ServeOptions, examples: URL? = nil) throws {
        try options.validate()
        let modelURL = model.source
        let metrics = self.metrics
        self.model = model
        self.modelURL = modelURL
        self.options = options
        self.examples = examples
        queue = InferenceQueue(model: model, options: options) { metrics.batch($0) }
    }

    /// Serves until SIGTERM or SIGINT, then stops taking connections, answers those in flight and drains the
    /// queue. `onListening` gets the bound port (useful with port 0).
    public func run(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        try await application(onListening: onListening).runService()
        queue.drain()
    }

    /// The Hummingbird application; `run()` serves until its task is cancelled (tests), `runService()` until a
    /// signal.
    public func application(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol
    {
        httpApplication(router(), options: options, name: "quadrat", onListening: onListening)
    }

    /// The routes, behind the metrics and authentication middleware.
    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: MetricsMiddleware(metrics: metrics))
        router.add(middleware: BearerTokenMiddleware(token: options.token))
        router.get("healthz") { _, _ in "ok\n" }
        router.get("/") { _, _ in
            let folder = modelURL.deletingLastPathComponent().lastPathComponent
            let title = "\(folder)/\(modelURL.lastPathComponent) · \(model.architecture.rawValue), \(model.size) px"
            return html(UploadPage.html(modelName: title, classes: model.classNames))
        }
        router.get("metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: ByteBuffer(string: metrics.exposition(queueDepth: queue.depth))))
        }
        router.get("v1/model") { _, _ in try json(ModelDescription(model: model, url: modelURL)) }
        router.post("v1/predict") { request, _ in
            try await respond {
                let uploads = try await self.uploads(request)
                guard let first = uploads.first else { throw RequestProblem(.badRequest, "the request has no image") }
                return try json(try await predict(first, explain: request.uri.queryParameters["explain"] == "1"))
            }
        }
        router.post("v1/predict/batch") { request, _ in
            try await respond {
                let uploads = try await self.uploads(request)
                guard !uploads.isEmpty else { throw RequestProblem(.badRequest, "the request has no image") }
                let answers = try await withThrowingTaskGroup(of: (Int, Prediction).self) { group in
                    for (i, upload) in uploads.enumerated() { group.addTask { (i, try await predict(upload)) } }
                    var answers = [Prediction?](repeating: nil, count: uploads.count)
                    for try await (i, answer) in group { answers[i] = answer }
                    return answers.compactMap { $0 }
                }
                return try json(BatchPrediction(predictions: answers))
            }
        }
        if let examples {
            router.get("examples/:name") { _, context in
                let name = try context.parameters.require("name")
                guard !name.contains("/"), !name.hasPrefix(".") else { throw HTTPError(.notFound) }
                let bytes = try FileBytes.read(examples.appendingPathComponent(name))
                return Response(
                    status: .ok, headers: [.contentType: "application/octet-stream"],
                    body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
            }
        }
        return router
    }

    /// One uploaded image through the same preparation as `quadrat predict`, then the queue; with `explain`, the
    /// answer carries the Grad-CAM overlay of the top class as a PNG data URL.
    func predict(_ upload: Upload, explain: Bool = false) async throws -> Prediction {
        let start = Date()
        let input: [Float]
        do {
            input = try model.input(imageBytes: upload.bytes, source: URL(fileURLWithPath: upload.name))
        } catch let error as ImageError {
            throw RequestProblem(.unprocessableContent, error.problem, file: upload.name)
        }
        let prepared = Date()
        let answer = try await queue.predict(input, explain: explain)
        let (probabilities, queued, batchSize) = (answer.probabilities, answer.queueSeconds, answer.batchSize)
        guard probabilities.allSatisfy(\.isFinite) else {
            throw RequestProblem(
                .unprocessableContent, "the model's probabilities for this photo are not numbers", file: upload.name)
        }
        // The class decided as `predict` decides it: the model's calibrated threshold for binary models.
        let best = model.decide(probabilities)
        let explanation = try answer.heatMap.map { map in
            let png = try PNGWriter.data(model.heatMapPicture(input: input, map: map))
            return Prediction.Explanation(
                class: model.classes[map.classIndex], method: "grad-cam",
                overlay: "data:image/png;base64," + png.base64EncodedString())
        }
        return Prediction(
            file: upload.name, classes: model.classes, classNames: model.classNames, probabilities: probabilities,
            top: .init(class: model.classes[best], name: model.classNames[best], probability: probabilities[best]),
            threshold: model.binaryThreshold,
            labels: model.decidedLabels(probabilities)?.map { k in
                .init(class: model.classes[k], name: model.classNames[k], probability: probabilities[k])
            },
            thresholds: model.labelCalibration(tta: false)?.thresholds,
            timing: .init(
                decodeMs: prepared.timeIntervalSince(start) * 1000, queueMs: queued * 1000,
                totalMs: Date().timeIntervalSince(start) * 1000, batchSize: batchSize),
            explanation: explanation, unknown: answer.unknown?.isUnknown, unknownDistance: answer.unknown?.distance)
    }

    /// The images of a request: its whole body, or each file of a multipart form.
    func uploads(_ request: Request) async throws -> [Upload] {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > options.maxBodyBytes {
            throw RequestProblem(.contentTooLarge, "the body has \(length) bytes; the limit is \(options.maxBodyBytes)")
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: options.maxBodyBytes)
        } catch is NIOTooManyBytesError {
            throw RequestProblem(.contentTooLarge, "the body is larger than the limit of \(options.maxBodyBytes) bytes")
        }
        let bytes = Array(buffer.readableBytesView)
        if let type = request.headers[.contentType], let boundary = Multipart.boundary(contentType: type) {
            do {
                return try Multipart.parts(bytes, boundary: boundary).filter { $0.filename != nil || !$0.body.isEmpty }
                    .map { Upload(name: $0.filename ?? $0.name, bytes: $0.body) }
            } catch let error as MultipartError {
                throw RequestProblem(.badRequest, error.description)
            }
        }
        return bytes.isEmpty ? [] : [Upload(name: "upload", bytes: bytes)]
    }
}

/// An image sent to the server and the name it goes by in answers and errors.
struct Upload: Sendable {
    var name: String
    var bytes: [UInt8]
}

/// An error a client caused, answered as JSON with its status.
struct RequestProblem: Error {
    var status: HTTPResponse.Status
    var message: String
    var file: String?
    init(_ status: HTTPResponse.Status, _ message: String, file: String? = nil) {
        (self.status, self.message, self.file) = (status, message, file)
    }
}

/// Runs a handler, turning request problems and queue errors into JSON error responses.
func respond(_ body: () async throws -> Response) async throws -> Response {
    func failure(
        _ status: HTTPResponse.Status, _ message: String, file: String? = nil, retry: Bool = false
    ) throws
        -> Response
    {
        var response = try json(ErrorAnswer(error: message, file: file), status: status)
        if retry { response.headers[.retryAfter] = "1" }
        return response
    }
    do {
        return try await body()
    } catch let problem as RequestProblem {
        return try failure(problem.status, problem.message, file: problem.file)
    } catch let error as ServeError {
        switch error {
        case .busy, .stopping: return try failure(.serviceUnavailable, error.description, retry: true)
        case .timedOut: return try failure(.serviceUnavailable, error.description, retry: true)
        case .badOption: return try failure(.internalServerError, error.description)
        }
    } catch let error as HTTPError {
        throw error  // Hummingbird's own answer (404, 401 …)
    } catch {
        // The model failed on a request it accepted: the client learns why, the operator sees it in the log.
        Feedback.warn("error: a request failed: \(error)")
        return try failure(.internalServerError, "the model could not answer: \(error)")
    }
}

func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    encoder.keyEncodingStrategy = .convertToSnakeCase
    return Response(
        status: status, headers: [.contentType: "application/json"],
        body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
}

/// An HTTP/1.1 application for `router` listening as `options` say (address, idle timeout, connection limit);
/// `onListening` gets the bound port.
func httpApplication(
    _ router: Router<BasicRequestContext>, options: ServeOptions, name: String,
    onListening: @escaping @Sendable (Int) async -> Void
) -> some ApplicationProtocol {
    Application(
        router: router,
        server: .http1(configuration: .init(idleTimeout: .milliseconds(Int64(options.idleSeconds * 1000)))),
        configuration: .init(
            address: .hostname(options.host, port: options.port), serverName: name,
            availableConnectionsDelegate: MaximumAvailableConnections(options.maxConnections)),
        onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) })
}

func html(_ text: String) -> Response {
    Response(
        status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
        body: .init(byteBuffer: ByteBuffer(string: text)))
}
