import Foundation
import TestSupport
import Testing
import Vision
import Workflow

/// `doctor --measure`, in a process of its own (the probe draws from libtorch's global random generator, which
/// other tests in this process seed) and a `QUADRAT_HOME` of its own (it rewrites the stored profiles).
@Suite("quadrat doctor --measure")
struct DoctorMeasureTests {
    @Test func forgetsThisMachinesProfilesAndMeasuresAgain() throws {
        // The profiles file written and read directly: setting QUADRAT_HOME here would change it for the other
        // tests running in this process.
        let home = try Fixtures.temporaryFolder()
        let file = home.appendingPathComponent("machine/profiles.json")
        func profiles() throws -> [String: MachineProfile] {
            try JSONDecoder().decode([String: MachineProfile].self, from: Data(contentsOf: file))
        }
        let stale = MachineProfile(trainingFP32: 0.1, trainingBF16: 0.1, inferenceFP32: 0.2, inferenceBF16: 0.2)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        let staleKey = MachineProfile.machineKey + " | efficientnet-lite0 224 px, batch 32"
        try JSONEncoder().encode([staleKey: stale, "another machine | efficientnet-lite0 224 px, batch 32": stale])
            .write(to: file)

        let doctor = try quadrat(["doctor", "--measure", "--size", "64", "--batch-size", "4"], home: home)
        #expect(doctor.output.contains("forgot 1 stored measurement(s)"), "\(doctor.output)\(doctor.errors)")
        #expect(doctor.output.contains("measured: training fp32 ("), "\(doctor.output)")
        let after = try profiles()
        #expect(after[staleKey] == nil && after["another machine | efficientnet-lite0 224 px, batch 32"] == stale)
        // Stored, unless other work kept the cores busy (then the output says so).
        let measured = after[MachineProfile.machineKey + " | efficientnet-lite0 64 px, batch 4"]
        #expect((measured != nil) == !doctor.output.contains("not stored:"), "\(doctor.output)")
        if let measured { #expect(measured.trainingFP32 > 0.1 && measured.inferenceFP32 > 0.2) }
        let bad = try quadrat(["doctor", "--measure", "--size", "8"], home: home)
        #expect(bad.status == 64 && bad.errors.contains("--size must be 32 to 1024, not 8"), "\(bad.errors)")
    }
}
