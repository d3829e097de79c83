import Foundation
import TestSupport
import Testing
import Vision

@testable import Workflow

@Suite("Review session", .serialized)
struct ReviewSessionTests {
    func options(_ data: URL, model: Bool = true) -> ReviewSession.Options {
        var options = ReviewSession.Options(data: data)
        if model { options.model?.size = 32 } else { options.model = nil }
        return options
    }

    /// Decisions go to the journal and into labels.reviewed.csv, the labels CSV stays byte for byte; a decision on a
    /// revision another page moved past is refused with the labels now; reopening the folder replays the journal;
    /// an undo restores the CSV's label.
    @Test func decisionsAreKeptReplayedAndNeverOverwritten() throws {
        let data = try makeKaggleDataSet(trainCount: 12, testCount: 3, size: 32)
        let csv = data.appendingPathComponent("train_labels.csv")
        let original = try Data(contentsOf: csv)
        let (photo, pool) = try firstDecisions(data, csv: csv, original: original)
        let reopened = try ReviewSession(options: options(data, model: false))
        let state = reopened.state()
        #expect(state.photos[photo].l == [0] && state.photos[photo].r == 1 && state.decisions == 2)
        #expect(state.resume?.queue == "all" && state.resume?.photo == pool)
        var undo = ReviewRequest(photos: [photo], labels: [], revisions: [1])
        undo.undo = true
        _ = try reopened.decide(undo)
        #expect(reopened.state().photos[photo].l == [1])
        let afterUndo = try String(contentsOf: reopened.reviewed.reviewedURL, encoding: .utf8)
        #expect(afterUndo.contains("\n3,1\n"))
        let journal = try String(contentsOf: data.appendingPathComponent("review.journal.jsonl"), encoding: .utf8)
        #expect(journal.split(separator: "\n").count == 3 && journal.contains(#""undo":true"#))
        // A photo edited after its decision is marked.
        let file = data.appendingPathComponent("test/2.jpg")
        try (try Data(contentsOf: file) + Data([0])).write(to: file)
        #expect(reopened.state().photos[pool].c == true && reopened.state().photos[photo].c == nil)
    }

    /// The first session on `data`: two decisions (training photo 3 and pool photo 2), a stale one and a bad one,
    /// and a second server on the folder refused while this one holds the journal. Returns the two photos.
    func firstDecisions(_ data: URL, csv: URL, original: Data) throws -> (photo: Int, pool: Int) {
        let session = try ReviewSession(options: options(data, model: false))
        #expect(session.photos.count == 15 && session.photos.filter { $0.given == nil }.count == 3)
        let photo = try #require(session.photos.firstIndex { $0.key == "train/3.jpg" })
        let pool = try #require(session.photos.firstIndex { $0.key == "test/2.jpg" })
        let saved = try session.decide(
            ReviewRequest(photos: [photo, pool], labels: ["0"], revisions: [0, 0], queue: "all"))
        #expect(saved.seq == 2 && saved.revisions == [1, 1] && saved.csvError == nil)
        #expect(try Data(contentsOf: csv) == original)
        let reviewed = try String(contentsOf: session.reviewed.reviewedURL, encoding: .utf8)
        #expect(
            reviewed.contains("\n3,0\n") && reviewed.hasSuffix("\n2.jpg,0\n") && reviewed.hasPrefix("name,invasive\n"))
        #expect(reviewed.split(separator: "\n").count == 14)
        // A second page that loaded before the first decision.
        #expect {
            _ = try session.decide(ReviewRequest(photos: [photo], labels: ["1"], revisions: [0]))
        } throws: { ($0 as? ReviewConflict)?.labels == ["0"] && ($0 as? ReviewConflict)?.revision == 1 }
        #expect(throws: WorkflowError.self) {
            _ = try session.decide(ReviewRequest(photos: [photo], labels: ["cat"], revisions: [1]))
        }
        #expect {
            _ = try ReviewSession(options: options(data, model: false))
        } throws: { "\($0)".contains("in use by another quadrat review") }
        return (photo, pool)
    }

    /// With --in-place the labels CSV is rewritten too, after a backup of the original that is made once.
    @Test func inPlaceBacksTheOriginalUpFirst() throws {
        let data = try makeKaggleDataSet(trainCount: 6, testCount: 1, size: 32)
        let csv = data.appendingPathComponent("train_labels.csv")
        let original = try Data(contentsOf: csv)
        var options = options(data, model: false)
        options.inPlace = true
        let session = try ReviewSession(options: options)
        let photo = try #require(session.photos.firstIndex { $0.key == "train/2.jpg" })
        _ = try session.decide(ReviewRequest(photos: [photo], labels: ["1"], revisions: [0]))
        _ = try session.decide(ReviewRequest(photos: [photo], labels: ["0"], revisions: [1]))
        let pool = try #require(session.photos.firstIndex { $0.given == nil })
        _ = try session.decide(ReviewRequest(photos: [pool], labels: ["1"], revisions: [0]))
        #expect(try Data(contentsOf: session.reviewed.backupURL) == original)
        // The labels CSV keeps its own rows (corrected); the pool photo's row is in labels.reviewed.csv only.
        let rewritten = try String(contentsOf: csv, encoding: .utf8)
        #expect(rewritten.contains("\n2,0\n") && rewritten.split(separator: "\n").count == 7)
        #expect(try String(contentsOf: session.reviewed.reviewedURL, encoding: .utf8).hasSuffix("\n1.jpg,1\n"))
        #expect(try DataSource.labelled(data).items.first { $0.name == "2" }?.label == 0)
    }

    /// With the pretrained body's features: every queue is there, the pool queue orders every unlabelled photo, two
    /// labels flipped on purpose are among the suspects or mistakes, and the training folder names every labelled
    /// photo once (the pool photo labelled in review included).
    @Test(.enabled(if: Fixtures.hasPretrainedWeights, Fixtures.needsWeights))
    func queuesFromTheModelAndATrainingFolder() throws {
        let data = try makeKaggleDataSet(trainCount: 30, testCount: 6, size: 48)
        var csv = "name,invasive\n"
        for i in 1...30 { csv += "\(i),\([4, 17].contains(i) ? 1 - i % 2 : i % 2)\n" }
        try csv.write(to: data.appendingPathComponent("train_labels.csv"), atomically: true, encoding: .utf8)
        setenv("QUADRAT_HOME", Fixtures.isolatedHome.path, 1)
        defer { unsetenv("QUADRAT_HOME") }
        let session = try ReviewSession(options: options(data))
        let state = session.state()
        #expect(Set(state.queues.keys) == Set(ReviewQueue.allCases.map(\.rawValue)))
        #expect(
            Set(state.queues["pool"] ?? []) == Set(session.photos.indices.filter { session.photos[$0].given == nil }))
        let doubted = Set((state.queues["suspects"] ?? []) + (state.queues["mistakes"] ?? []).prefix(4))
            .map { session.photos[$0].name }
        #expect(Set(["4", "17"]).isSubset(of: Set(doubted)), "doubted: \(doubted)")
        #expect(state.photos.allSatisfy { $0.p?.count == 2 })
        let pool = try #require(state.queues["pool"]?.first)
        _ = try session.decide(ReviewRequest(photos: [pool], labels: ["1"], revisions: [0]))
        try session.updateModel()
        #expect(session.state().queues["pool"]?.contains(pool) == false)
        let folder = try Fixtures.temporaryFolder().appendingPathComponent("set")
        #expect(try session.writeTrainingFolder(folder) == 31)
        #expect(try DataSource.labelled(folder).items.count == 31)
    }

    /// Photos of one burst (capture times within the gap, same folder and camera) are one burst in the state, and
    /// one decision for the burst writes a journal line per photo.
    @Test func aBurstIsDecidedAtOnce() throws {
        let data = try makeKaggleDataSet(trainCount: 6, testCount: 1, size: 32)
        for (i, time) in [(1, "2026:05:01 12:00:00"), (2, "2026:05:01 12:00:20"), (3, "2026:05:01 12:30:00")] {
            let url = data.appendingPathComponent("train/\(i).jpg")
            try jpegWithEXIF(try Data(contentsOf: url), model: "trap", taken: time).write(to: url)
        }
        let session = try ReviewSession(options: options(data, model: false))
        let one = try #require(session.photos.firstIndex { $0.key == "train/1.jpg" })
        let two = try #require(session.photos.firstIndex { $0.key == "train/2.jpg" })
        #expect(session.bursts == [[one, two]])
        let saved = try session.decide(ReviewRequest(photos: [one, two], labels: ["0"], revisions: [0, 0]))
        #expect(saved.seq == 2 && saved.revisions == [1, 1])
        #expect(session.state().photos[one].l == [0] && session.state().photos[two].l == [0])
    }

    /// A labels CSV with a name of its own is still found after review wrote `NAME.reviewed.csv` beside it.
    @Test func theReviewedCSVIsNotTakenForASecondLabelsFile() throws {
        let data = try makeKaggleDataSet(trainCount: 6, testCount: 1, size: 32)
        try FileManager.default.moveItem(
            at: data.appendingPathComponent("train_labels.csv"), to: data.appendingPathComponent("cells.csv"))
        let session = try ReviewSession(options: options(data, model: false))
        _ = try session.decide(ReviewRequest(photos: [0], labels: ["0"], revisions: [0]))
        #expect(FileManager.default.fileExists(atPath: data.appendingPathComponent("cells.reviewed.csv").path))
        #expect(try DataSource.labelled(data).labelsFile?.lastPathComponent == "cells.csv")
    }
}
