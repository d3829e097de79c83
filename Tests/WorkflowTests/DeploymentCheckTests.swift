import Testing
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
}
