import Foundation

/// The instruction sets this CPU has, by /proc/cpuinfo's names ("avx2", "avx512f", "amx_tile", …).
public enum CPUFlags {
    /// The first CPU's flags (empty where there is no /proc/cpuinfo).
    public static var current: Set<String> {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
        else { return [] }
        return Set(line.split(separator: ":").last?.split(separator: " ").map(String.init) ?? [])
    }
}
