import Testing

@testable import Torch

@Suite("OpenBLAS's kernels for this CPU")
struct BLASKernelsTests {
    static let avx512: Set<String> = [
        "sse3", "avx", "avx2", "fma", "avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl",
    ]

    /// Only OpenBLAS's generic kernels are replaced: by the AVX-512 ones where every subset they use is there, else by
    /// the AVX2 ones; kernels OpenBLAS chose for a CPU it knows, and CPUs without AVX2, are left alone.
    @Test func onlyTheGenericKernelsAreReplaced() {
        #expect(BLASKernels.suited(current: "Prescott", flags: Self.avx512) == "SkylakeX")
        #expect(BLASKernels.suited(current: "prescott", flags: Self.avx512) == "SkylakeX")
        #expect(BLASKernels.suited(current: "Prescott", flags: Self.avx512.subtracting(["avx512vl"])) == "Haswell")
        #expect(BLASKernels.suited(current: "Prescott", flags: ["sse3", "avx", "avx2", "fma"]) == "Haswell")
        #expect(BLASKernels.suited(current: "Prescott", flags: ["sse3", "avx", "avx2"]) == nil)
        #expect(BLASKernels.suited(current: "Prescott", flags: ["sse3"]) == nil)
        for known in ["SkylakeX", "Haswell", "Zen", "Cooperlake", "SapphireRapids"] {
            #expect(BLASKernels.suited(current: known, flags: Self.avx512) == nil, "\(known)")
        }
        #expect(BLASKernels.suited(current: nil, flags: Self.avx512) == nil)
    }

    /// This process's OpenBLAS names its kernels, and the CPU's flags are read.
    @Test func thisProcessNamesItsKernels() {
        let core = BLASKernels.current
        #expect(core == nil || core?.isEmpty == false)
        #expect(CPUFlags.current.contains("sse2") || CPUFlags.current.isEmpty)
    }
}
