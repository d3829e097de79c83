import Foundation
import TestSupport
import Testing

@testable import Workflow

@Suite("quadrat doctor", .serialized)
struct DoctorTests {
    /// A home without weights fails the weights check, names the missing file and the command that fixes it;
    /// the other checks still run and say what they found.
    @Test func aHomeWithoutWeightsFailsWithTheFix() throws {
        let home = try Fixtures.temporaryFolder()
        setenv("QUADRAT_HOME", home.path, 1)
        defer { unsetenv("QUADRAT_HOME") }
        let checks = Doctor.checks()
        #expect(checks.map(\.name) == ["libtorch", "BLAS", "threads", "CPU", "precision", "weights", "home"])
        let weights = try #require(checks.first { $0.name == "weights" })
        #expect(weights.status == .fail && weights.detail.contains("efficientnet-lite0-57934424.pth missing"))
        #expect(weights.fix == "scripts/setup.sh weights" && weights.line.contains("fix: scripts/setup.sh weights"))
        let homeCheck = try #require(checks.first { $0.name == "home" })
        #expect(homeCheck.status == .ok && homeCheck.detail.hasPrefix(home.path))
        #expect(checks.first { $0.name == "precision" }?.detail.contains("not measured") == true)
        #expect(checks.first { $0.name == "CPU" }?.detail.contains("AVX") == true)
    }

    /// A damaged checkpoint (its sha256 no longer starts with the digits in its name) is caught.
    @Test func aDamagedCheckpointIsCaught() throws {
        let home = try Fixtures.temporaryFolder()
        let weights = home.appendingPathComponent("weights")
        try FileManager.default.createDirectory(at: weights, withIntermediateDirectories: true)
        try Data("not the real file".utf8).write(to: weights.appendingPathComponent("efficientnet-lite0-57934424.pth"))
        setenv("QUADRAT_HOME", home.path, 1)
        defer { unsetenv("QUADRAT_HOME") }
        let check = Doctor.weights()
        #expect(
            check.status == .fail && check.detail.contains("efficientnet-lite0-57934424.pth is damaged"),
            "\(check.detail)")
    }
}
