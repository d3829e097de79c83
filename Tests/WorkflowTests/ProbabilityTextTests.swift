import Foundation
import Testing
import Vision
import Workflow

@Suite struct ProbabilityTextTests {
    /// Six decimals in the middle; near 0 and 1 enough digits that distinct float32 scores stay distinct, so a
    /// submission scored by ROC AUC keeps the model's order (at six decimals these all read 0.000000 or 1.000000).
    @Test func confidentScoresStayDistinctAndReadBack() {
        #expect(ProbabilityText.text(0.7310585786) == "0.731059")
        let near1: [Double] = [0.9999999, 0.99999987, 0.9999995, 0.99995]
        let near0: [Double] = [3.0590232e-07, 1.2e-09, 4.5e-05, 0]
        let texts = (near1 + near0).map(ProbabilityText.text)
        #expect(Set(texts).count == texts.count, "\(texts)")
        for (p, text) in zip(near1 + near0, texts) {
            let back = Double(text) ?? .nan
            #expect(abs(back - p) <= 1e-9 + 1e-7 * p, "\(p) → \(text)")
        }
        #expect(ProbabilityText.text(0.9999999) == "0.999999900")
    }

    /// The Kaggle submission writes its scores that way: two photos the model tells apart near 1 do not tie.
    @Test func submissionsKeepTheOrderOfConfidentScores() throws {
        let items = ["a", "b"].map { ImageItem(url: URL(fileURLWithPath: "/x/\($0).jpg"), name: $0, label: nil) }
        let rows = try SubmissionFormat.kaggle.render(
            probabilities: [[1e-7, 1 - 1e-7], [2e-7, 1 - 2e-7]], items: items, classes: ["0", "1"],
            labelColumn: "invasive")
        let scores = rows.split(separator: "\n").dropFirst().compactMap { $0.split(separator: ",").last }
            .compactMap { Double($0) }
        #expect(scores.count == 2 && scores[0] > scores[1], "\(rows)")
    }
}
