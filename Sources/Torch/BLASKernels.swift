import CTorch
import Foundation

/// Which kernels OpenBLAS runs, and the remedy for a CPU it does not know.
///
/// OpenBLAS picks its kernels by CPU model when it loads. Debian 12's (0.3.21) predates some CPUs and gives them its
/// generic "Prescott" (SSE3) kernels: on an Intel Xeon of family 6 model 207 (Emerald Rapids, 2 cores) a 1024² matrix
/// product ran at 52–56 GFLOP/s with them and at 230–252 with its AVX-512 ("SkylakeX") kernels. It reads
/// `OPENBLAS_CORETYPE` as it loads, before any code of ours runs, so the remedy is to start the program again with
/// it set (``restartWithSuitedKernels(arguments:)``).
public enum BLASKernels {
    /// The kernels' name as OpenBLAS gives it ("Prescott", "Haswell", "SkylakeX", "Zen", …), or nil for another BLAS.
    public static var current: String? { qt_blas_core().map { String(cString: $0) } }

    /// The OpenBLAS kernels to ask for instead of `current` on a CPU with `flags` (/proc/cpuinfo's names), or nil to
    /// keep them: only the generic kernels are replaced, by the AVX-512 ones where the CPU has every AVX-512 subset
    /// they use, else by the AVX2 ones where it has AVX2 and FMA.
    public static func suited(current: String?, flags: Set<String>) -> String? {
        guard current?.lowercased() == "prescott" else { return nil }
        if ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(flags.contains) { return "SkylakeX" }
        if flags.contains("avx2") && flags.contains("fma") { return "Haswell" }
        return nil
    }

    /// The kernels `quadrat` runs: OpenBLAS's own choice where `OPENBLAS_CORETYPE` chose or nothing suits better,
    /// else the suited ones it restarts with (the same in a process that did not restart, such as the tests'); nil
    /// for another BLAS.
    public static var inQuadrat: String? {
        guard let current else { return nil }
        guard getenvString("OPENBLAS_CORETYPE") == nil else { return current }
        return suited(current: current, flags: CPUFlags.current) ?? current
    }

    /// Starts this program again with `OPENBLAS_CORETYPE` naming ``suited(current:flags:)``'s kernels, when OpenBLAS
    /// runs its generic ones on a CPU that has better, and the user has not chosen (`OPENBLAS_CORETYPE` set, to
    /// anything, is left alone; the restarted program has it set, so it never restarts twice). Returns (having done
    /// nothing) when there is nothing to do or the restart failed; call it first thing, before any work or thread.
    public static func restartWithSuitedKernels(arguments: [String] = CommandLine.arguments) {
        guard getenvString("OPENBLAS_CORETYPE") == nil, let core = suited(current: current, flags: CPUFlags.current)
        else {
            return
        }
        setenv("OPENBLAS_CORETYPE", core, 1)
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        execv("/proc/self/exe", &argv)
        // Only reached when execv failed: go on with the generic kernels, and leave the variable out of children.
        unsetenv("OPENBLAS_CORETYPE")
        for pointer in argv { free(pointer) }
    }
}
