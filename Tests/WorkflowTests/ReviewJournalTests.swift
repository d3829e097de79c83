import Foundation
import Learn
import TestSupport
import Testing
import Torch

@testable import Workflow

@Suite("Review journal and selection")
struct ReviewJournalTests {
    func decision(_ seq: Int, _ photo: String, _ label: String) -> ReviewDecision {
        ReviewDecision(
            seq: seq, time: "2026-12-06T00:00:00Z", who: "t", photo: photo, labels: [label], previous: [],
            revision: 1)
    }

    /// Decisions come back after reopening; a last line cut short by a kill is dropped (and the file truncated so the
    /// next decision starts a clean line); a whole last line missing its newline is kept.
    @Test func decisionsSurviveReopeningAndATornLastLine() throws {
        let url = try Fixtures.temporaryFolder().appendingPathComponent("review.journal.jsonl")
        do {
            let journal = try ReviewJournal(url: url)
            try journal.append(decision(1, "train/1.jpg", "0"))
            try journal.append([decision(2, "train/2.jpg", "1"), decision(3, "train/3.jpg", "1")])
        }
        let whole = try Data(contentsOf: url)
        #expect(String(decoding: whole, as: UTF8.self).split(separator: "\n").count == 3)
        try (whole + Data(#"{"seq":4,"time":"2026"#.utf8)).write(to: url)
        do {
            let reopened = try ReviewJournal(url: url)
            #expect(reopened.decisions.map(\.photo) == ["train/1.jpg", "train/2.jpg", "train/3.jpg"])
            #expect(try Data(contentsOf: url) == whole)
            try reopened.append(decision(4, "test/9.jpg", "0"))
            #expect(try seqs(url) == [1, 2, 3, 4])
        }
        // A complete last decision whose newline was lost is kept, and the next one goes on its own line.
        let text = try Data(contentsOf: url)
        try text.dropLast().write(to: url)
        do {
            let again = try ReviewJournal(url: url)
            try again.append(decision(5, "test/10.jpg", "1"))
        }
        #expect(try seqs(url) == [1, 2, 3, 4, 5])
    }

    /// The sequence numbers of the journal at `url`, read without opening it for writing.
    func seqs(_ url: URL) throws -> [Int] {
        try ReviewJournal.parse(Data(contentsOf: url), source: url).0.map(\.seq)
    }

    /// A damaged line in the middle is someone's edit: the journal refuses to open, naming the file and line.
    @Test func aDamagedLineInTheMiddleIsRefusedByLine() throws {
        let url = try Fixtures.temporaryFolder().appendingPathComponent("review.journal.jsonl")
        let good = try JSONEncoder().encode(decision(1, "a", "0"))
        try (good + Data("\nnot json\n".utf8) + good + Data("\n".utf8)).write(to: url)
        #expect {
            _ = try ReviewJournal(url: url)
        } throws: { "\($0)".contains("review.journal.jsonl:2: not a review decision") }
    }

    /// k-center greedy spreads a batch: of ten near-copies and three distinct photos, a batch of three takes one
    /// near-copy and the two photos farthest from it and from what is labelled.
    @Test func aBatchIsSpreadOverFeatureSpace() throws {
        var rows: [Float] = []
        for i in 0..<10 { rows += [1, Float(i) * 0.001, 0] }  // near-copies along x
        rows += [0, 1, 0, 0, 0, 1, -1, 0, 0]  // y, z, −x
        rows += [0, 0.7, 0.7]  // labelled: between y and z
        let features = try Tensor(rows, shape: [14, 3])
        // The near-copies are the most uncertain.
        let uncertainty = (0..<14).map { $0 < 10 ? 0.9 - Double($0) * 0.01 : 0.5 }
        let order = try ReviewSelection.order(
            pool: Array(0..<13), uncertainty: uncertainty, features: features, labelled: [13], batch: 3, widening: 5)
        #expect(order.count == 13 && Set(order) == Set(0..<13))
        let first = Set(order.prefix(3))
        // One of the near-copies, −x (farthest from both), and one of y or z; never two near-copies.
        #expect(first.filter { $0 < 10 }.count == 1 && first.contains(12), "first batch: \(order.prefix(3))")
        #expect(
            [[0.9, 0.1], [0.55, 0.45]].map(SingleLabelTask().uncertainty).map { ($0 * 100).rounded() }
                == [20, 90])
        #expect(
            [[0.9, 0.45], [0.1, 0.2]].map(MultiLabelTask().uncertainty).map { ($0 * 100).rounded() } == [
                90, 40,
            ])
    }
}
