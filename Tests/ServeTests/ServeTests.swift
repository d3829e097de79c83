import FormData
import Foundation
import Hummingbird
import HummingbirdTesting
import Learn
import NIOCore
import TestSupport
import Testing
import Vision
import Workflow

@testable import Serve

/// A small model trained once for the server tests, and the data set it was trained on.
enum ServedModel {
    static let trained: (model: URL, data: URL)? = try? train()

    static func train() throws -> (model: URL, data: URL) {
        let data = try makeKaggleDataSet(trainCount: 24, testCount: 6, size: 48)
        setenv("QUADRAT_HOME", Fixtures.isolatedHome.path, 1)
        var options = TrainOptions(data: data.path, out: data.appendingPathComponent("run").path)
        options.size = 32
        options.batchSize = 8
        options.epochs = 1
        options.lr = 2e-3
        options.precision = .fp32
        options.recipe.ttaViews = 1
        options.lrFind = false
        return (try TrainingRun(options: options, resumeHint: "test").run().modelURL, data)
    }
}

/// The server started on a loopback port by each test (HummingbirdTesting's live mode), real HTTP requests.
@Suite("quadrat serve", .serialized, .enabled(if: Fixtures.hasPretrainedWeights, Fixtures.needsWeights))
struct ServeTests {
    /// Test options: `change` applied to the defaults.
    func options(_ change: (inout ServeOptions) -> Void = { _ in }) -> ServeOptions {
        var options = ServeOptions()
        options.port = 0
        change(&options)
        return options
    }

    func withServer(
        _ options: ServeOptions, _ body: @Sendable (any TestClientProtocol, PredictionServer) async throws -> Void
    ) async throws {
        let (model, _) = try #require(ServedModel.trained)
        let server = try PredictionServer(modelURL: model, options: options)
        let app = Application(router: server.router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in try await body(client, server) }
        server.queue.drain()
    }

    func photo(_ i: Int) throws -> [UInt8] {
        let (_, data) = try #require(ServedModel.trained)
        return [UInt8](try Data(contentsOf: data.appendingPathComponent("test/\(i).jpg")))
    }

    func decoded<T: Decodable>(_ type: T.Type, _ response: TestResponse) throws -> T {
        try decoded(type, response.body)
    }

    func decoded<T: Decodable>(_ type: T.Type, _ body: ByteBuffer?) throws -> T {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(T.self, from: Data((body ?? ByteBuffer()).readableBytesView))
    }

    /// `bodies` posted at once to `uri`, each over its own connection (one test client sends one request at a time).
    func concurrentPosts(_ uri: String, port: Int, bodies: [[UInt8]]) async throws -> [TestClient.Response] {
        try await withThrowingTaskGroup(of: (Int, TestClient.Response).self) { group in
            for (i, body) in bodies.enumerated() {
                group.addTask {
                    let client = TestClient(host: "127.0.0.1", port: port)
                    client.connect()
                    let response = try await client.post(uri, body: ByteBuffer(bytes: body))
                    try await client.shutdown()
                    return (i, response)
                }
            }
            var responses: [Int: TestClient.Response] = [:]
            for try await (i, response) in group { responses[i] = response }
            return bodies.indices.compactMap { responses[$0] }
        }
    }

    /// Concurrent requests get the probabilities `quadrat predict` gives for the same files, and share batches.
    @Test func concurrentPredictionsEqualThePredictCommand() async throws {
        let (modelURL, data) = try #require(ServedModel.trained)
        let saved = try SavedModel(modelURL)
        let test = try DataSource.unlabelled(data.appendingPathComponent("test"))
        let expected = try saved.predict(test).probabilities
        let names = test.items.map { $0.url.lastPathComponent }
        let bodies = try names.map { try [UInt8](Data(contentsOf: data.appendingPathComponent("test/\($0)"))) }
        try await withServer(options { $0.maxWaitMilliseconds = 200 }) { client, _ in
            let responses = try await concurrentPosts("/v1/predict", port: try #require(client.port), bodies: bodies)
            #expect(responses.allSatisfy { $0.status == .ok })
            let answers = try responses.map { try decoded(Prediction.self, $0.body) }
            for (i, want) in expected.enumerated() {
                let got = answers[i]
                for (a, b) in zip(got.probabilities, want) { #expect(abs(a - b) < 1e-5, "\(names[i]): \(a) vs \(b)") }
                #expect(got.classes == ["0", "1"] && got.top.probability == got.probabilities.max())
            }
            #expect(answers.contains { $0.timing.batchSize > 1 }, "no request shared a batch")
        }
    }

    @Test func everyRouteAndEveryErrorStatus() async throws {
        let jpeg = try photo(1)
        try await withServer(
            options {
                $0.maxBodyBytes = 4096
                $0.token = "s3cret"
            }
        ) { client, _ in
            let auth: HTTPFields = [.authorization: "Bearer s3cret"]
            // /healthz is open; everything else needs the token.
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
            let refused = try await client.execute(uri: "/v1/model", method: .get)
            #expect(refused.status == .unauthorized && refused.headers[.wwwAuthenticate] == "Bearer")
            let wrong = try await client.execute(
                uri: "/v1/model", method: .get, headers: [.authorization: "Bearer s3cre"])
            #expect(wrong.status == .unauthorized)
            let described = try await client.execute(uri: "/v1/model", method: .get, headers: auth)
            #expect(described.status == .ok)
            let model = try decoded(ModelDescription.self, described)
            #expect(model.architecture == "efficientnet-lite0" && model.classes == ["0", "1"] && model.size == 32)
            #expect(model.validation["accuracy"] != nil && model.validation["valid_loss"] != nil)
            // The page, also with ?token= (a browser cannot send the header on a page load).
            let page = try await client.execute(uri: "/?token=s3cret", method: .get)
            #expect(page.status == .ok && String(buffer: page.body).contains("Drop photos here"))
            // A photo as the body; a multipart form with two files for the batch route.
            let one = try await client.execute(
                uri: "/v1/predict", method: .post, headers: auth, body: ByteBuffer(bytes: jpeg))
            #expect(one.status == .ok)
            let answer = try decoded(Prediction.self, one)
            #expect(answer.threshold == 0.5)
            let boundary = "XyZ"
            var form = [UInt8]()
            for name in ["a.jpg", "b.jpg"] {
                form += Array(
                    "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(name)\"\r\n".utf8)
                form += Array("Content-Type: image/jpeg\r\n\r\n".utf8) + jpeg + Array("\r\n".utf8)
            }
            form += Array("--\(boundary)--\r\n".utf8)
            var formHeaders = auth
            formHeaders[.contentType] = "multipart/form-data; boundary=\(boundary)"
            let batch = try await client.execute(
                uri: "/v1/predict/batch", method: .post, headers: formHeaders, body: ByteBuffer(bytes: form))
            #expect(batch.status == .ok)
            let predictions = try decoded(BatchPrediction.self, batch).predictions
            #expect(predictions.map(\.file) == ["a.jpg", "b.jpg"])
            // 422 with the reason: not an image; 413: too big; 400: no image, broken multipart.
            let garbage = try await client.execute(
                uri: "/v1/predict", method: .post, headers: auth, body: ByteBuffer(string: "not an image"))
            #expect(garbage.status == .unprocessableContent)
            #expect(try decoded(ErrorAnswer.self, garbage).error.contains("is not a JPEG or PNG image"))
            let big = try await client.execute(
                uri: "/v1/predict", method: .post, headers: auth,
                body: ByteBuffer(bytes: [UInt8](repeating: 0xFF, count: 5000)))
            #expect(big.status == .contentTooLarge)
            #expect(try await client.execute(uri: "/v1/predict", method: .post, headers: auth).status == .badRequest)
            formHeaders[.contentType] = "multipart/form-data; boundary=nope"
            let broken = try await client.execute(
                uri: "/v1/predict/batch", method: .post, headers: formHeaders, body: ByteBuffer(string: "junk"))
            #expect(broken.status == .badRequest)
            // Metrics count what happened.
            let metrics = String(buffer: try await client.execute(uri: "/metrics", method: .get, headers: auth).body)
            #expect(metrics.contains("quadrat_requests_total{route=\"/v1/predict\",status=\"422\"} 1"), "\(metrics)")
            #expect(metrics.contains("quadrat_batch_size_count") && metrics.contains("quadrat_queue_depth 0"))
        }
    }

    /// A full queue answers 503 with Retry-After at once instead of piling requests up.
    @Test func aFullQueueAnswers503WithRetryAfter() async throws {
        let jpeg = try photo(2)
        try await withServer(
            options {
                $0.queueLimit = 1
                $0.maxWaitMilliseconds = 400
                $0.maxBatch = 64
            }
        ) { client, _ in
            let responses = try await concurrentPosts(
                "/v1/predict", port: try #require(client.port), bodies: Array(repeating: jpeg, count: 6))
            let statuses = responses.map { ($0.status, $0.headers[.retryAfter]) }
            #expect(statuses.contains { $0.0 == .ok })
            #expect(statuses.contains { $0.0 == .serviceUnavailable && $0.1 == "1" }, "\(statuses)")
        }
    }

    @Test func optionsAreCheckedNamingTheFlag() {
        var options = ServeOptions()
        options.maxBatch = 0
        #expect(throws: ServeError.badOption("--max-batch must be between 1 and 1024, not 0")) {
            try options.validate()
        }
        #expect(BearerTokenMiddleware<BasicRequestContext>.constantTimeEqual("abc", "abc"))
        #expect(!BearerTokenMiddleware<BasicRequestContext>.constantTimeEqual("abc", "abd"))
        #expect(!BearerTokenMiddleware<BasicRequestContext>.constantTimeEqual("abc", "abcd"))
    }
}

@Suite("Multipart")
struct MultipartTests {
    @Test func partsOfAFormAndItsErrors() throws {
        #expect(Multipart.boundary(contentType: "multipart/form-data; boundary=\"a b\"") == "a b")
        #expect(Multipart.boundary(contentType: "image/jpeg") == nil)
        let body =
            Array(
                "preamble\r\n--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.png\"\r\n\r\n\u{1}\u{2}\r\n--B\r\n"
                    .utf8) + Array("Content-Disposition: form-data; name=\"note\"\r\n\r\nhi\r\n--B--\r\n".utf8)
        let parts = try Multipart.parts(body, boundary: "B")
        #expect(
            parts == [
                .init(name: "f", filename: "x.png", body: [1, 2]),
                .init(name: "note", filename: nil, body: Array("hi".utf8)),
            ])
        #expect(throws: MultipartError.self) { try Multipart.parts(Array("--B\r\nno end".utf8), boundary: "B") }
        #expect(throws: MultipartError.self) { try Multipart.parts(Array("nothing".utf8), boundary: "B") }
    }
}
