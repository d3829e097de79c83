import FormData
import Foundation
import Learn
import TestSupport
import Testing
import Torch
import Vision
import Workflow

@testable import Serve

/// A small model trained once for the server tests, and the data set it was trained on.
enum ServedModel {
    /// The training's outcome, its error included: a test that needs the model fails with the training's message.
    static let trained: Result<(model: URL, data: URL), TestFailure> = Result { try train() }.mapError {
        TestFailure("training the served model failed: \($0)")
    }

    static func train() throws -> (model: URL, data: URL) {
        let data = try makeKaggleDataSet(trainCount: 24, testCount: 6, size: 48)
        setenv("QUADRAT_HOME", Fixtures.isolatedHome.path, 1)
        var options = TrainOptions(data: data.path, out: data.appendingPathComponent("run").path)
        options.size = 32
        options.batchSize = 8
        options.epochs = 1
        options.lr = .value(2e-3)
        options.precision = .fp32
        options.recipe.ttaViews = 1
        options.lrFind = false
        // Youden's threshold (not the default 0.5), so that the test sees the server apply a fitted one.
        options.decideFor = .balancedAccuracy
        options.classNames = ["healthy", "invasive"]
        return (try TrainingRun(options: options, resumeHint: "test").run().modelURL, data)
    }
}

/// The server started on an ephemeral loopback port by each test; real HTTP requests over sockets.
@Suite("quadrat serve", .serialized, .enabled(if: Fixtures.hasPretrainedWeights, Fixtures.needsWeights))
struct ServeTests {
    /// Test options: `change` applied to the defaults.
    func options(_ change: (inout ServeOptions) -> Void = { _ in }) -> ServeOptions {
        var options = ServeOptions()
        options.port = 0
        change(&options)
        return options
    }

    /// Serves `model` (default: the served model) on a loopback port for `body`.
    func withServer(
        _ options: ServeOptions, model given: URL? = nil, _ body: (LoopbackHTTP, PredictionServer) async throws -> Void
    ) async throws {
        let model = try given ?? ServedModel.trained.get().model
        let server = try PredictionServer(modelURL: model, options: options)
        let bound = Locked<Int?>(nil)
        let app = server.application { port in bound.withLock { $0 = port } }
        let running = Task { try await app.run() }
        var waited = 0
        while bound.withLock({ $0 }) == nil && waited < 500 {
            try await Task.sleep(for: .milliseconds(20))
            waited += 1
        }
        let port = try #require(bound.withLock { $0 }, "the server did not start")
        do {
            try await body(LoopbackHTTP(port: port), server)
        } catch {
            running.cancel()
            throw error
        }
        running.cancel()
        _ = await running.result
        server.queue.drain()
    }

    func photo(_ i: Int) throws -> [UInt8] {
        let (_, data) = try ServedModel.trained.get()
        return [UInt8](try Data(contentsOf: data.appendingPathComponent("test/\(i).jpg")))
    }

    func decoded<T: Decodable>(_ type: T.Type, _ response: LoopbackHTTP.Response) throws -> T {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(T.self, from: Data(response.body))
    }

    /// `bodies` posted at once to `uri`, each over its own connection.
    func concurrentPosts(_ http: LoopbackHTTP, _ uri: String, bodies: [[UInt8]]) async throws -> [LoopbackHTTP.Response]
    {
        try await withThrowingTaskGroup(of: (Int, LoopbackHTTP.Response).self) { group in
            for (i, body) in bodies.enumerated() {
                group.addTask { (i, try await http.send("POST", uri, body: body)) }
            }
            var responses: [Int: LoopbackHTTP.Response] = [:]
            for try await (i, response) in group { responses[i] = response }
            return bodies.indices.compactMap { responses[$0] }
        }
    }

    /// A multi-label model answers each photo's decided labels (each at its own threshold, possibly none) with their
    /// probabilities and the thresholds; `/v1/model` says the task.
    @Test func aMultiLabelModelAnswersItsLabels() async throws {
        let data = try makeMultiLabelDataSet(trainCount: 24, testCount: 4, size: 48)
        var options = TrainOptions(data: data.path, out: data.appendingPathComponent("run").path)
        (options.task, options.size, options.batchSize, options.epochs) = (.multiLabel, 32, 8, 1)
        (options.lr, options.precision, options.lrFind) = (.value(3e-3), .fp32, false)
        let modelURL = try TrainingRun(options: options, resumeHint: "test").run().modelURL
        let saved = try SavedModel(modelURL)
        let thresholds = try #require(saved.labelCalibration(tta: false)?.thresholds)
        try await withServer(self.options(), model: modelURL) { http, _ in
            for i in 1...4 {
                let bytes = [UInt8](try Data(contentsOf: data.appendingPathComponent("test/\(i).jpg")))
                let answer = try decoded(Prediction.self, try await http.send("POST", "/v1/predict", body: bytes))
                #expect(answer.thresholds == thresholds && answer.threshold == nil)
                let expected = zip(saved.classes, zip(answer.probabilities, thresholds)).filter { $0.1.0 >= $0.1.1 }
                #expect(answer.labels?.map(\.class) == expected.map(\.0), "\(answer.probabilities)")
            }
            let description = try decoded(ModelDescription.self, try await http.send("GET", "/v1/model"))
            #expect(description.task == "multi-label" && description.thresholds == thresholds)
        }
    }

    /// Concurrent requests get the probabilities `quadrat predict` gives for the same files, and share batches.
    /// With one worker and with two (which run their batches at the same time on the shared weights).
    @Test(arguments: [1, 2])
    func concurrentPredictionsEqualThePredictCommand(workers: Int) async throws {
        let (modelURL, data) = try ServedModel.trained.get()
        let saved = try SavedModel(modelURL)
        let test = try DataSource.unlabelled(data.appendingPathComponent("test"))
        let expected = try saved.predict(test).probabilities
        let names = test.items.map { $0.url.lastPathComponent }
        let bodies = try names.map { try [UInt8](Data(contentsOf: data.appendingPathComponent("test/\($0)"))) }
        try await withServer(options { ($0.maxWaitMilliseconds, $0.workers) = (200, workers) }) { http, _ in
            let responses = try await concurrentPosts(http, "/v1/predict", bodies: bodies)
            #expect(responses.allSatisfy { $0.status == 200 })
            let answers = try responses.map { try decoded(Prediction.self, $0) }
            for (i, want) in expected.enumerated() {
                let got = answers[i]
                for (a, b) in zip(got.probabilities, want) { #expect(abs(a - b) < 1e-5, "\(names[i]): \(a) vs \(b)") }
                // The top class is decided at the model's threshold, as `predict` decides it.
                let threshold = try #require(got.threshold)
                #expect(threshold == saved.calibration(tta: false)?.threshold && threshold != 0.5)
                #expect(got.classes == ["0", "1"] && got.top.class == (got.probabilities[1] >= threshold ? "1" : "0"))
                #expect(
                    got.classNames == ["healthy", "invasive"]
                        && got.top.name == (got.top.class == "1" ? "invasive" : "healthy"))
            }
            #expect(answers.contains { $0.timing.batchSize > 1 }, "no request shared a batch")
            // The unknown answer: the distance predict's deployment check measures for the same photos, from the
            // same forward pass as the probabilities.
            let check = try #require(try DeploymentCheck.run(saved, items: test.items, probabilities: expected))
            for (i, answer) in answers.enumerated() {
                let distance = try #require(answer.unknownDistance, "served without the unknown answer")
                #expect(abs(distance - check.distances[i]) < 1e-4, "\(names[i]): \(distance) vs \(check.distances[i])")
                #expect(answer.unknown == check.unknown[i])
            }
        }
    }

    /// `--precision int8`: the server runs its model in INT8 (the calibration `train` wrote), answering what
    /// `predict --precision int8` answers and close to the float answers.
    /// Two workers: their batches run the shared INT8 weights at once, in batches of whatever size the requests make.
    @Test func anINT8ServerAnswersWhatINT8PredictGives() async throws {
        let (modelURL, data) = try ServedModel.trained.get()
        let test = try DataSource.unlabelled(data.appendingPathComponent("test"))
        let float = try SavedModel(modelURL).predict(test).probabilities
        let int8 = try SavedModel(modelURL)
        try int8.quantize()
        let expected = try int8.predict(test).probabilities
        let bodies = try test.items.map { try [UInt8](Data(contentsOf: $0.url)) }
        try await withServer(options { ($0.int8, $0.workers, $0.maxBatch) = (true, 2, 3) }) { http, _ in
            let answers = try await concurrentPosts(http, "/v1/predict", bodies: bodies).map {
                try decoded(Prediction.self, $0)
            }
            var fromFloat = 0.0
            for (i, answer) in answers.enumerated() {
                for (a, b) in zip(answer.probabilities, expected[i]) { #expect(abs(a - b) < 1e-5) }
                for (a, b) in zip(answer.probabilities, float[i]) { fromFloat = max(fromFloat, abs(a - b)) }
            }
            #expect(fromFloat > 0 && fromFloat < 0.15, "INT8 answers \(fromFloat) from float's")
        }
    }

    /// `?explain=1`: the same probabilities plus the Grad-CAM picture of the top class as a PNG data URL (crop and
    /// overlay side by side); without it, no explanation.
    @Test func explainAddsTheHeatMapPicture() async throws {
        let jpeg = try photo(2)
        try await withServer(options { _ in }) { http, _ in
            let plain = try decoded(Prediction.self, try await http.send("POST", "/v1/predict", body: jpeg))
            let explained = try decoded(
                Prediction.self, try await http.send("POST", "/v1/predict?explain=1", body: jpeg))
            #expect(plain.explanation == nil)
            for (a, b) in zip(plain.probabilities, explained.probabilities) { #expect(abs(a - b) < 1e-6) }
            let explanation = try #require(explained.explanation)
            #expect(explanation.class == explained.top.class && explanation.method == "grad-cam")
            let prefix = "data:image/png;base64,"
            #expect(explanation.overlay.hasPrefix(prefix))
            let png = try #require(Data(base64Encoded: String(explanation.overlay.dropFirst(prefix.count))))
            let url = FileManager.default.temporaryDirectory.appendingPathComponent("explained-\(UUID()).png")
            try png.write(to: url)
            defer { try? FileManager.default.removeItem(at: url) }
            let picture = try ImageDecoder().decode(url)
            #expect(picture.width == 2 * 32 + 4 && picture.height == 32)
        }
    }

    @Test func everyRouteAndEveryErrorStatus() async throws {
        let jpeg = try photo(1)
        try await withServer(
            options {
                $0.maxBodyBytes = 4096
                $0.token = "s3cret"
            }
        ) { http, _ in
            let auth = ["Authorization": "Bearer s3cret"]
            // /healthz is open; everything else needs the token.
            #expect(try await http.send("GET", "/healthz").status == 200)
            let refused = try await http.send("GET", "/v1/model")
            #expect(refused.status == 401 && refused.headers["www-authenticate"] == "Bearer")
            #expect(try await http.send("GET", "/v1/model", headers: ["Authorization": "Bearer s3cre"]).status == 401)
            // The scheme is case-insensitive (RFC 7235); no spelling of a route gets past; unknown paths are 404.
            #expect(try await http.send("GET", "/v1/model", headers: ["Authorization": "bearer s3cret"]).status == 200)
            for spelling in ["/v1/model/", "//v1//model", "/v1/%6Dodel", "/V1/Model", "/./v1/model", "/examples/x.jpg"]
            {
                #expect(try await http.send("GET", spelling).status == 401, "\(spelling)")
            }
            #expect(try await http.send("GET", "/no/such/route").status == 404)
            #expect(try await http.send("GET", "/no/such/route", headers: auth).status == 404)
            let described = try await http.send("GET", "/v1/model", headers: auth)
            #expect(described.status == 200)
            let model = try decoded(ModelDescription.self, described)
            #expect(model.architecture == "efficientnet-lite0" && model.classes == ["0", "1"] && model.size == 32)
            #expect(model.validation["accuracy"] != nil && model.validation["valid_loss"] != nil)
            // The page, also with ?token= (a browser cannot send the header on a page load).
            let page = try await http.send("GET", "/?token=s3cret")
            #expect(page.status == 200 && page.text.contains("Drop photos here"))
            // A photo as the body; a multipart form with two files for the batch route.
            let one = try await http.send("POST", "/v1/predict", headers: auth, body: jpeg)
            #expect(one.status == 200)
            // The threshold chosen on validation at training (binary model).
            let served = try ServedModel.trained.get()
            let threshold = try SavedModel(served.0).calibration(tta: false)?.threshold
            let answered = try decoded(Prediction.self, one).threshold
            #expect(threshold != nil && answered == threshold)
            let boundary = "XyZ"
            var form = [UInt8]()
            for name in ["a.jpg", "b.jpg"] {
                form += Array(
                    "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(name)\"\r\n".utf8)
                form += Array("Content-Type: image/jpeg\r\n\r\n".utf8) + jpeg + Array("\r\n".utf8)
            }
            form += Array("--\(boundary)--\r\n".utf8)
            var formHeaders = auth
            formHeaders["Content-Type"] = "multipart/form-data; boundary=\(boundary)"
            let batch = try await http.send("POST", "/v1/predict/batch", headers: formHeaders, body: form)
            #expect(batch.status == 200)
            #expect(try decoded(BatchPrediction.self, batch).predictions.map(\.file) == ["a.jpg", "b.jpg"])
            // 422 with the reason: not an image; 413: too big; 400: no image, broken multipart.
            let garbage = try await http.send("POST", "/v1/predict", headers: auth, body: Array("not an image".utf8))
            #expect(garbage.status == 422)
            #expect(try decoded(ErrorAnswer.self, garbage).error.contains("is not a JPEG or PNG image"))
            let big = try await http.send(
                "POST", "/v1/predict", headers: auth, body: [UInt8](repeating: 0xFF, count: 5000))
            #expect(big.status == 413)
            #expect(try await http.send("POST", "/v1/predict", headers: auth).status == 400)
            formHeaders["Content-Type"] = "multipart/form-data; boundary=nope"
            let broken = try await http.send(
                "POST", "/v1/predict/batch", headers: formHeaders, body: Array("junk".utf8))
            #expect(broken.status == 400)
            // Metrics count what happened.
            let metrics = try await http.send("GET", "/metrics", headers: auth).text
            #expect(metrics.contains("quadrat_requests_total{route=\"/v1/predict\",status=\"422\"} 1"), "\(metrics)")
            // Labelled by route template: unknown paths share one label, however many a client makes up.
            #expect(metrics.contains("route=\"unmatched\",status=\"404\"} 2") && !metrics.contains("no/such"))
            #expect(metrics.contains("route=\"/v1/model\",status=\"401\"} "), "\(metrics)")
            #expect(metrics.contains("quadrat_batch_size_count") && metrics.contains("quadrat_queue_depth 0"))
            #expect(
                metrics.contains("quadrat_request_seconds_count") && metrics.contains("quadrat_inference_seconds_count")
            )
            #expect(metrics.contains("# HELP quadrat_request_seconds Time from request to response."), "\(metrics)")
        }
    }

    /// A full queue answers 503 with Retry-After at once instead of piling requests up.
    /// A client that connects and sends nothing is closed after the idle timeout; past the connection limit new
    /// clients wait for a free slot instead of taking more; /healthz answers at once while a batch is predicted.
    @Test func idleClientsAreClosedAndConnectionsLimited() async throws {
        try await withServer(
            options {
                $0.idleSeconds = 2
                $0.maxConnections = 2
            }
        ) { http, _ in
            let idle = try http.connected()
            defer { close(idle) }
            let start = Date()
            var byte: UInt8 = 0
            let n = recv(idle, &byte, 1, 0)  // blocks until the server closes the connection
            let closedAfter = Date().timeIntervalSince(start)
            #expect(n == 0 && closedAfter > 1 && closedAfter < 10, "closed after \(closedAfter) s (recv \(n))")

            // Two idle connections take both slots: a third request is served only once the server closes one.
            let (a, b) = (try http.connected(), try http.connected())
            defer {
                close(a)
                close(b)
            }
            try await Task.sleep(for: .milliseconds(200))
            let asked = Date()
            #expect(try await http.send("GET", "/healthz").status == 200)
            let waited = Date().timeIntervalSince(asked)
            #expect(waited > 1, "served after \(waited) s while the idle clients held the slots")
        }
        let jpeg = try photo(1)
        try await withServer(options { $0.maxBatch = 4 }) { http, _ in
            var body: [UInt8] = []
            for i in 0..<48 {
                body += Array(
                    "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(i).jpg\"\r\n\r\n".utf8)
                body += jpeg + Array("\r\n".utf8)
            }
            body += Array("--XyZ--\r\n".utf8)
            async let batch = http.send(
                "POST", "/v1/predict/batch", headers: ["Content-Type": "multipart/form-data; boundary=XyZ"], body: body)
            try await Task.sleep(for: .milliseconds(100))
            let asked = Date()
            #expect(try await http.send("GET", "/healthz").status == 200)
            #expect(Date().timeIntervalSince(asked) < 2, "health check queued behind inference")
            #expect(try await batch.status == 200)
        }
    }

    @Test func aFullQueueAnswers503WithRetryAfter() async throws {
        let jpeg = try photo(2)
        try await withServer(
            options {
                $0.queueLimit = 1
                $0.maxWaitMilliseconds = 400
                $0.maxBatch = 64
            }
        ) { http, _ in
            let responses = try await concurrentPosts(http, "/v1/predict", bodies: Array(repeating: jpeg, count: 6))
            #expect(responses.contains { $0.status == 200 })
            #expect(
                responses.contains { $0.status == 503 && $0.headers["retry-after"] == "1" },
                "\(responses.map(\.status))")
        }
    }

    @Test func optionsAreCheckedNamingTheFlag() {
        var options = ServeOptions()
        options.maxBatch = 0
        #expect(throws: ServeError.badOption("--max-batch must be between 1 and 1024, not 0")) {
            try options.validate()
        }
        options.maxBatch = 8
        options.workers = 0
        #expect(throws: ServeError.badOption("--workers must be between 1 and 256, not 0")) { try options.validate() }
        #expect(constantTimeEqual("abc", "abc"))
        #expect(!constantTimeEqual("abc", "abd"))
        #expect(!constantTimeEqual("abc", "abcd"))
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
