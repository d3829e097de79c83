import Foundation
import TestSupport
import Testing
import Torch
import Workflow

/// `quadrat review` killed outright (SIGKILL) while decisions stream in: every decision the server acknowledged is
/// there after a restart, and the labels CSV is byte for byte the one it started with.
@Suite("quadrat review, the process", .serialized)
struct ReviewCLITests {
    /// Starts `quadrat review DATA --no-model --port 0` (and `more` arguments) and returns it with its port.
    func start(_ data: URL, _ more: [String] = []) throws -> (Process, LoopbackHTTP) {
        let (process, out, _) = try launchQuadrat(["review", data.path, "--no-model", "--port", "0"] + more)
        let printed = readOutput(out, until: "/\n")
        guard let range = printed.range(of: #"http://127\.0\.0\.1:(\d+)/"#, options: .regularExpression),
            let port = Int(printed[range].dropFirst("http://127.0.0.1:".count).dropLast())
        else {
            process.terminate()
            throw TestFailure("review did not say where it listens: \(printed)")
        }
        return (process, LoopbackHTTP(port: port))
    }

    @Test func noAcknowledgedDecisionIsLost() async throws {
        let data = try makeKaggleDataSet(trainCount: 60, testCount: 4, size: 24)
        let csv = data.appendingPathComponent("train_labels.csv")
        let original = try Data(contentsOf: csv)
        let (first, http) = try start(data)
        // Decisions one after the other from a thread; the server is killed after the 25th acknowledgement while
        // the next ones are in flight.
        let acknowledged = Locked<[Int: (label: String, revision: Int)]>([:])
        let sender = Thread {
            for photo in 0..<60 {
                let label = photo % 3 == 0 ? "0" : "1"
                let body = #"{"photos":[\#(photo)],"labels":["\#(label)"],"revisions":[0],"queue":"all"}"#
                guard let answer = try? http.request("POST", "/api/decide", body: Array(body.utf8)),
                    answer.status == 200
                else { return }  // the server is gone
                acknowledged.withLock { $0[photo] = (label, 1) }
            }
        }
        sender.start()
        while acknowledged.withLock({ $0.count }) < 25 { usleep(1000) }
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        while !sender.isFinished { usleep(1000) }
        let acked = acknowledged.withLock { $0 }
        #expect(acked.count >= 25 && acked.count < 60, "\(acked.count) acknowledged")

        let (second, again) = try start(data)
        defer { second.terminate() }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let state = try decoder.decode(ReviewState.self, from: Data(try again.request("GET", "/api/state").body))
        for (photo, decision) in acked {
            let label = state.classes.firstIndex(of: decision.label)
            #expect(state.photos[photo].l == label.map { [$0] } && state.photos[photo].r == decision.revision)
        }
        #expect(state.decisions >= acked.count && state.decisions <= acked.count + 1)
        #expect(try Data(contentsOf: csv) == original)
        // The reviewed CSV was rewritten at restart from the journal: it holds every acknowledged decision.
        let reviewed = try String(contentsOf: data.appendingPathComponent("train_labels.reviewed.csv"), encoding: .utf8)
        let rows = Set(reviewed.split(separator: "\n").map(String.init))
        for (photo, decision) in acked { #expect(rows.contains("\(photo + 1),\(decision.label)")) }
    }

    /// "train" on the page: a real `quadrat train` on the labels as reviewed, its output streamed as server-sent
    /// events until it ends, then its report served.
    @Test(.enabled(if: Fixtures.hasPretrainedWeights, Fixtures.needsWeights))
    func trainingFromThePageStreamsItsOutputAndLinksTheReport() throws {
        let data = try makeKaggleDataSet(trainCount: 16, testCount: 2, size: 40)
        let options = [
            "--size", "32", "--presize", "44", "--batch-size", "8", "--cycles", "1", "--tta", "1", "--no-lr-find",
        ]
        let (process, http) = try start(data, options.map { "--train-option=\($0)" })
        defer { process.terminate() }
        let decided = #"{"photos":[0],"labels":["0"],"revisions":[0]}"#
        #expect(try http.request("POST", "/api/decide", body: Array(decided.utf8)).status == 200)
        let started = try http.request("POST", "/api/train")
        #expect(started.status == 200 && started.text.contains("review-runs"), "\(started.text)")
        #expect(try http.request("POST", "/api/train").status == 409)
        let events = try http.request("GET", "/api/train/events")
        #expect(events.headers["content-type"] == "text/event-stream")
        #expect(events.text.contains("data: $ quadrat train") && events.text.contains("event: end\ndata: finished"))
        let status = try http.request("GET", "/api/train").text
        #expect(status.contains(#""phase":"finished""#) && status.contains("/run/report.html"), "\(status)")
        #expect(try http.request("GET", "/run/report.html").text.contains("<html"))
        let labels = try String(
            contentsOf: data.appendingPathComponent("review-training-set/train_labels.csv"), encoding: .utf8)
        #expect(labels.contains("\n1.jpg,0\n") && labels.split(separator: "\n").count == 17)
    }
}
