import Foundation
import TestSupport
import Testing
import Torch
import Workflow

@testable import Serve

/// The review page in a real browser (headless Chromium over the DevTools pipe), on a server started on a loopback
/// port: key presses triage photos, and the journal and labels.reviewed.csv on disk say what they did.
@Suite(
    "quadrat review in the browser", .serialized,
    .enabled(if: Fixtures.hasPretrainedWeights && HeadlessBrowser.isAvailable, "needs the weights and chromium"))
struct ReviewPageTests {
    /// Serves a review of `data` on a loopback port for `body` (with `token`).
    func withReview(
        _ data: URL, token: String?, multiLabel: Bool = false, _ body: (Int, ReviewSession) async throws -> Void
    ) async throws {
        setenv("QUADRAT_HOME", Fixtures.isolatedHome.path, 1)
        var options = ReviewSession.Options(data: data)
        options.model?.size = 32
        options.task = multiLabel ? .multiLabel : .singleLabel
        let session = try ReviewSession(options: options)
        var serve = ServeOptions()
        (serve.port, serve.token) = (0, token)
        let server = try ReviewServer(session: session, options: serve, executable: nil, model: nil)
        let bound = Locked<Int?>(nil)
        let app = server.application { port in bound.withLock { $0 = port } }
        let running = Task { try await app.run() }
        defer { running.cancel() }
        var waited = 0
        while bound.withLock({ $0 }) == nil && waited < 500 {
            try await Task.sleep(for: .milliseconds(20))
            waited += 1
        }
        try await body(try #require(bound.withLock { $0 }, "the review server did not start"), session)
    }

    /// Digits label, space accepts the model, z undoes, the grid labels a selection with one key; every decision
    /// is in the journal and the reviewed CSV, the labels CSV is untouched; a run of 40 presses is timed (printed).
    /// `QUADRAT_REVIEW_POOL=N` adds N unlabelled photos to the pool, to time the page with a large folder.
    @Test func triageWithTheKeyboard() async throws {
        let data = try makeKaggleDataSet(trainCount: 40, testCount: 8, size: 40)
        let extra = ProcessInfo.processInfo.environment["QUADRAT_REVIEW_POOL"].flatMap(Int.init) ?? 0
        let copy = try Data(contentsOf: data.appendingPathComponent("test/1.jpg"))
        for n in stride(from: 0, to: extra, by: 1) { try copy.write(to: data.appendingPathComponent("test/x\(n).jpg")) }
        let csv = data.appendingPathComponent("train_labels.csv")
        let original = try Data(contentsOf: csv)
        try await withReview(data, token: "s3cret") { port, session in
            let page = try HeadlessBrowser()
            try page.open("http://127.0.0.1:\(port)/?token=s3cret")
            try page.wait(for: "window.review && window.review.ready")
            try page.press("6", alt: true)  // the sixth queue: all photos, in folder order
            try page.wait(
                for: "document.querySelector('#where').textContent.startsWith('all: 1 of ' + (48 + \(extra)))")
            try page.press("1")  // train/1.jpg → 1
            try page.press("0")  // train/2.jpg → 0
            try page.press(" ")  // train/3.jpg → the model's answer
            try page.wait(for: "window.review.saved === 3 && window.review.pending === 0")
            try page.press("z")  // back to train/3.jpg's label in the CSV (1)
            try page.wait(for: "window.review.saved === 4 && window.review.pending === 0")
            let journal = try String(contentsOf: data.appendingPathComponent("review.journal.jsonl"), encoding: .utf8)
                .split(separator: "\n")
            #expect(journal.count == 4 && journal[3].contains(#""undo":true"#) && journal[2].contains(#""model":{"#))
            var reviewed = try String(contentsOf: session.reviewed.reviewedURL, encoding: .utf8)
            #expect(reviewed.contains("\n1,1\n") && reviewed.contains("\n2,0\n") && reviewed.contains("\n3,1\n"))
            // The grid: select three photos, one key labels them all.
            try page.press("g")
            try page.wait(for: "document.querySelectorAll('.tile').length > 3")
            _ = try page.evaluate("[...document.querySelectorAll('.tile')].slice(5, 8).forEach(t => t.click())")
            try page.press("0")
            try page.wait(for: "window.review.saved === 5 && window.review.pending === 0")
            reviewed = try String(contentsOf: session.reviewed.reviewedURL, encoding: .utf8)
            let rows = Set(reviewed.split(separator: "\n").map(String.init))
            #expect(session.state().photos.filter { $0.r > 0 }.count == 6)
            #expect(rows.isSuperset(of: ["1,1", "2,0", "3,1"]) && rows.count == 41)
            #expect(try Data(contentsOf: csv) == original)
            // Decisions as fast as the page takes them.
            try page.press("g")
            let start = Date()
            for n in 0..<40 { try page.press(n % 2 == 0 ? "1" : "0") }
            try page.wait(for: "window.review.saved === 45 && window.review.pending === 0")
            let rate = 40 / Date().timeIntervalSince(start)
            print(
                String(
                    format: "review page: 40 decisions by key in a row, %.1f decisions/s (%d photos)", rate, 48 + extra)
            )
            #expect(session.state().decisions == 47)
            if let folder = ProcessInfo.processInfo.environment["QUADRAT_SCREENSHOTS"] {
                try page.screenshot(to: URL(fileURLWithPath: folder).appendingPathComponent("review-single.png"))
            }
        }
    }

    /// Two pages on one folder: the second one's decision on a photo the first changed is refused (409), the page
    /// shows the photo's labels now, and the journal keeps only the first decision.
    @Test func twoPagesDoNotOverwriteEachOther() async throws {
        let data = try makeKaggleDataSet(trainCount: 12, testCount: 2, size: 40)
        try await withReview(data, token: nil) { port, session in
            let first = try HeadlessBrowser(), second = try HeadlessBrowser()
            for page in [first, second] {
                try page.open("http://127.0.0.1:\(port)/")
                try page.wait(for: "window.review && window.review.ready")
                try page.press("6", alt: true)
            }
            try first.press("0")
            try first.wait(for: "window.review.saved === 1 && window.review.pending === 0")
            try second.press("1")
            try second.wait(for: "window.review.conflicts === 1 && window.review.pending === 0")
            #expect(session.state().decisions == 1 && session.state().photos[0].l == [0])
            #expect(try second.evaluate("document.querySelector('#toast').textContent") as? String ?? "" != "")
        }
    }

    /// Multi-label data: label keys toggle, Enter saves the set (none of them included), and the reviewed CSV joins
    /// a photo's labels with the delimiter; the model's queues are there for multi-label data too.
    @Test func multiLabelTogglesAndSavesTheSet() async throws {
        let data = try makeMultiLabelDataSet(trainCount: 16, testCount: 4, size: 40)
        // The held-out labels beside test/ are not a pool: review only labels the training photos here.
        try await withReview(data, token: nil, multiLabel: true) { port, session in
            #expect(session.state().queues["mistakes"] != nil && session.photos.count == 16)
            let page = try HeadlessBrowser()
            try page.open("http://127.0.0.1:\(port)/")
            try page.wait(for: "window.review && window.review.ready")
            try page.press("6", alt: true)
            try page.wait(for: "document.querySelector('#where').textContent.startsWith('all: 1 of')")
            // Photo 1 is bright with a square: both toggled off, saved as none; photo 2 has neither: both on.
            for key in ["2", "1", "Enter"] { try page.press(key) }
            try page.wait(for: "window.review.saved === 1 && window.review.pending === 0")
            for key in ["1", "2", "Enter"] { try page.press(key) }
            try page.wait(for: "window.review.saved === 2 && window.review.pending === 0")
            let rows = try String(contentsOf: session.reviewed.reviewedURL, encoding: .utf8).split(separator: "\n")
            #expect(rows.contains("1,") && rows.contains("2,bright square"), "\(rows.prefix(4))")
        }
    }
}
