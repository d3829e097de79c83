import Foundation
import TestSupport
import Testing
import Torch

/// `quadrat` runs OpenBLAS's kernels for this CPU: it restarts itself with `OPENBLAS_CORETYPE` where OpenBLAS would
/// fall back to its generic ones, and `doctor` says which it runs. (A variable set by the caller is left alone, so
/// the test needs it unset.)
@Suite("quadrat picks OpenBLAS's kernels", .enabled(if: getenv("OPENBLAS_CORETYPE") == nil))
struct BLASKernelsCLITests {
    /// The kernels named on doctor's BLAS line ("… (SkylakeX kernels), matmul …"), or nil without OpenBLAS.
    static func kernels(_ output: String) -> String? {
        guard let line = output.split(separator: "\n").first(where: { $0.contains(" BLAS ") }),
            let end = line.range(of: " kernels)")
        else { return nil }
        return line[..<end.lowerBound].split(separator: "(").last.map(String.init)
    }

    @Test func restartsWithTheSuitedKernelsAndDoctorSaysSo() throws {
        guard BLASKernels.current != nil else { return }  // another BLAS: nothing to choose
        let flags = CPUFlags.current
        // An empty home: doctor then skips checking the weights' digests, which takes a debug build half a minute.
        let home = try Fixtures.temporaryFolder()
        let doctor = try quadrat(["doctor"], home: home)
        let chosen = try #require(Self.kernels(doctor.output), "\(doctor.output)")
        // Whatever this CPU is, quadrat ends up with kernels nothing better replaces.
        #expect(BLASKernels.suited(current: chosen, flags: flags) == nil, "\(doctor.output)")

        // The generic kernels asked for by hand are kept, and doctor names the better ones where there are some.
        let generic = try quadrat(["doctor"], home: home, environment: ["OPENBLAS_CORETYPE": "Prescott"])
        #expect(Self.kernels(generic.output) == "Prescott", "\(generic.output)")
        if let better = BLASKernels.suited(current: "Prescott", flags: flags) {
            #expect(generic.output.contains("fix: OPENBLAS_CORETYPE=\(better)"), "\(generic.output)")
        }
    }
}
