import Foundation
import TestSupport
import Testing
import Torch
import Workflow

/// `quadrat review` killed outright (SIGKILL) while decisions stream in: every decision the server acknowledged is
/// there after a restart, and the labels CSV is byte for byte the one it started with.
@Suite("quadrat review survives kill -9", .serialized)
struct ReviewKillTests {
    /// Starts `quadrat review DATA --no-model --port 0` and returns it with its port.
    func start(_ data: URL) throws -> (Process, LoopbackHTTP) {
        let (process, out, _) = try launchQuadrat(["review", data.path, "--no-model", "--port", "0"])
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
}
