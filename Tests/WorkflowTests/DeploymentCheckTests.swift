import Foundation
import Testing
import Vision
import Workflow

@Suite("The deployment check's words and numbers")
struct DeploymentCheckTests {
    /// ±10 points at 95 %: 97 photos from a large population, fewer from a small one (finite-population correction),
    /// never more than there are.
    @Test func handCheckSampleSizes() {
        #expect(DeploymentCheck.sampleSize(of: 1_000_000) == 97)
        #expect(DeploymentCheck.sampleSize(of: 212) == 67)
        #expect(DeploymentCheck.sampleSize(of: 10) == 10)
        #expect(DeploymentCheck.sampleSize(of: 1) == 1)
    }

    /// 1 % beyond the validation's 99th percentile is what like photos give; a clear excess is a warning with the
    /// sample to check.
    @Test func warnsOnlyOnAClearExcess() {
        func check(beyond: Int, of n: Int) -> DeploymentCheck {
            DeploymentCheck(
                distances: Array(repeating: 0.1, count: n), beyond: (0..<n).map { $0 < beyond }, confidence: 0.7,
                validationConfidence: 0.9)
        }
        let usual = check(beyond: 12, of: 1000).summary
        #expect(usual.contains("12 of 1000 photos") && usual.contains("as expected"), "\(usual)")
        let drifted = check(beyond: 212, of: 1531).summary
        #expect(
            drifted.contains("212 of 1531 photos") && drifted.contains("expect lower accuracy")
                && drifted.contains("check a sample of 67")
                && drifted.contains("mean confidence 0.70 (validation 0.90)"),
            "\(drifted)")
    }

    /// The unknown answer's line counts the photos marked; without a threshold there is none.
    @Test func unknownLineCountsTheMarkedPhotos() {
        var check = DeploymentCheck(
            distances: [0.1, 0.5, 0.2, 0.9], beyond: [false, true, false, true], confidence: 0.8,
            validationConfidence: 0.9)
        #expect(check.unknownSummary == nil)
        (check.unknown, check.unknownRate) = ([false, true, false, false], 0.05)
        #expect(
            check.unknownSummary == "unknown: 1 of 4 photos look like none of the classes (farther from the "
                + "training photos than 95 % of validation): marked unknown")
    }

    /// predict's csv and json carry each photo's distance and unknown mark when the model has the answer; Kaggle's
    /// columns stay the competition's.
    @Test func formatsCarryTheUnknownMark() throws {
        let items = [
            ImageItem(url: URL(fileURLWithPath: "/p/a.png"), name: "a", label: nil),
            ImageItem(url: URL(fileURLWithPath: "/p/b.png"), name: "b", label: nil),
        ]
        let p = [[0.9, 0.1], [0.3, 0.7]]
        let marks = [UnknownMark(distance: 0.12, isUnknown: false), UnknownMark(distance: 0.61, isUnknown: true)]
        let csv = try SubmissionFormat.csv.render(
            probabilities: p, items: items, classes: ["0", "1"], labelColumn: "label", unknown: marks)
        let lines = csv.split(separator: "\n").map(String.init)
        #expect(lines[0] == "name,file,predicted,p_0,p_1,unknown_distance,unknown", "\(csv)")
        #expect(lines[1].hasSuffix(",0.12000,0") && lines[2].hasSuffix(",0.61000,1"), "\(csv)")
        let json = try SubmissionFormat.json.render(
            probabilities: p, items: items, classes: ["0", "1"], labelColumn: "label", unknown: marks)
        let rows = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]]
        #expect(rows?[1]["unknown"] as? Bool == true && rows?[0]["unknown"] as? Bool == false)
        #expect(abs((rows?[1]["unknown_distance"] as? Double ?? 0) - 0.61) < 1e-12)
        let kaggle = try SubmissionFormat.kaggle.render(
            probabilities: p, items: items, classes: ["0", "1"], labelColumn: "label", unknown: marks)
        #expect(kaggle.hasPrefix("name,label\n") && !kaggle.contains("unknown"))
        let plain = try SubmissionFormat.csv.render(
            probabilities: p, items: items, classes: ["0", "1"], labelColumn: "l")
        #expect(!plain.contains("unknown"))
    }
}
