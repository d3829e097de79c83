import Foundation
import Hummingbird
import HummingbirdCore
import Learn
import NIOCore
import Vision
import Workflow

/// `quadrat review`: the review page and its API over one ``ReviewSession``.
///
/// Routes: `GET /` (the page), `GET /api/state`, `POST /api/decide` (a ``ReviewRequest``; 409 when another page
/// changed the photo first), `POST /api/update` (retrain the heads, re-rank the queues), `GET /photo/N` (the
/// presized photo), `GET /photo/N/full`, `GET /heatmap/N` (with `--run`), `POST /api/train`, `POST /api/train/cancel`,
/// `GET /api/train` (status), `GET /api/train/events` (server-sent events), `GET /run/report.html`, `GET /healthz`.
/// Every route but `/healthz` needs the bearer token when one is set (`?token=` for the page).
public struct ReviewServer: Sendable {
    public let session: ReviewSession
    public let options: ServeOptions
    /// The `quadrat` executable for "train" (nil: the page cannot start one).
    public let executable: URL?
    /// More arguments for that `quadrat train` (`--train-option`): `--epochs 3`, `--size 320`…
    public var trainArguments: [String] = []
    /// The trained model of `--run`, for heat maps.
    let heatMaps: HeatMaps?
    let training = ReviewTraining()
    /// Thumbnails: the presize cache the features were made from.
    let thumbnails: PresizeCache

    public init(session: ReviewSession, options: ServeOptions, executable: URL?, model: URL?) throws {
        try options.validate()
        self.session = session
        self.options = options
        self.executable = executable
        heatMaps = try model.map { HeatMaps(model: try SavedModel($0)) }
        let size = heatMaps?.model.size ?? session.options.model?.size ?? 224
        thumbnails = PresizeCache(shorterSide: PresizeCache.defaultShorterSide(forSize: size))
    }

    /// Serves until SIGTERM or SIGINT.
    public func run(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        try await application(onListening: onListening).runService()
    }

    public func application(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol
    {
        httpApplication(router(), options: options, name: "quadrat-review", onListening: onListening)
    }

    /// The routes, behind the token (every path but /healthz, however spelt).
    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(
            middleware: BearerTokenMiddleware(token: options.token) { path in
                let parts = (path.removingPercentEncoding ?? path).lowercased().split(separator: "/")
                    .filter { !$0.isEmpty && $0 != "." }
                return parts != ["healthz"]
            })
        router.get("healthz") { _, _ in "ok\n" }
        router.get("/") { _, _ in html(ReviewPage.html(title: session.options.data.lastPathComponent)) }
        router.get("api/state") { _, _ in try json(session.state()) }
        router.post("api/decide") { request, _ in try await decide(request) }
        router.post("api/update") { _, _ in
            try await respond {
                let started = Date()
                try await Task.detached { try session.updateModel() }.value
                return try json(["seconds": (Date().timeIntervalSince(started) * 100).rounded() / 100])
            }
        }
        router.get("photo/:index") { _, context in
            let photo = try photo(context)
            return Response(
                status: .ok, headers: [.contentType: "image/jpeg", .cacheControl: "private, max-age=3600"],
                body: .init(byteBuffer: ByteBuffer(bytes: try thumbnails.presizedJPEG(photo.url))))
        }
        router.get("photo/:index/full") { _, context in
            let photo = try photo(context)
            let type = photo.url.pathExtension.lowercased() == "png" ? "image/png" : "image/jpeg"
            return Response(
                status: .ok, headers: [.contentType: type],
                body: .init(byteBuffer: ByteBuffer(bytes: try FileBytes.read(photo.url))))
        }
        router.get("heatmap/:index") { _, context in
            let photo = try photo(context)
            guard let heatMaps else {
                throw HTTPError(.notFound, message: "heat maps need a trained model: start review with --run RUN")
            }
            return Response(
                status: .ok, headers: [.contentType: "image/jpeg"],
                body: .init(byteBuffer: ByteBuffer(bytes: try heatMaps.jpeg(of: photo.url))))
        }
        addTrainingRoutes(router)
        return router
    }

    /// The photo a route's `:index` names, or 404.
    func photo(_ context: BasicRequestContext) throws -> ReviewSession.Photo {
        guard let index = context.parameters.get("index", as: Int.self), let photo = session.photo(index) else {
            throw HTTPError(.notFound, message: "no such photo")
        }
        return photo
    }

    /// `POST /api/decide`: saved (200), refused for a stale revision (409) or a bad request (400).
    func decide(_ request: Request) async throws -> Response {
        try await respond {
            let body = try await request.body.collect(upTo: 1 << 20)
            let decision: ReviewRequest
            do {
                decision = try JSONDecoder().decode(ReviewRequest.self, from: Data(body.readableBytesView))
            } catch {
                throw RequestProblem(.badRequest, "the decision is not the JSON the page sends: \(error)")
            }
            do {
                try session.check(decision)
            } catch let error as WorkflowError {
                throw RequestProblem(.badRequest, error.description)
            }
            do {
                let saved = try await Task.detached { try session.decide(decision) }.value
                return try json(saved)
            } catch let conflict as ReviewConflict {
                return try json(
                    ConflictAnswer(
                        error: conflict.description, photo: conflict.photo, labels: conflict.labels,
                        revision: conflict.revision), status: .conflict)
            } catch let error as WorkflowError {
                // The request was good: the journal or the disk failed (the decision is not saved).
                throw RequestProblem(.internalServerError, error.description)
            }
        }
    }
}

/// A 409's body: the photo's labels and revision now, for the page to show.
struct ConflictAnswer: Encodable {
    var error: String
    var photo: Int
    var labels: [String]
    var revision: Int
}

/// Grad-CAM pictures of the `--run` model, one at a time (its network is not shared between threads).
final class HeatMaps: @unchecked Sendable {
    let model: SavedModel
    private let lock = NSLock()
    init(model: SavedModel) { self.model = model }

    func jpeg(of url: URL) throws -> Data {
        try lock.withLock {
            guard let picture = model.heatMapOverlay(of: url) else {
                throw HTTPError(.unprocessableContent, message: "\(url.lastPathComponent) cannot be read")
            }
            return try ImageEncoder.jpeg(picture, quality: 85)
        }
    }
}
