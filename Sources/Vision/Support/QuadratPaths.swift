import Foundation

/// Where Quadrat keeps set-up assets and caches: `$QUADRAT_HOME`, default `~/.cache/quadrat`.
public enum QuadratPaths {
    public static var home: URL {
        if let home = ProcessInfo.processInfo.environment["QUADRAT_HOME"], !home.isEmpty {
            return URL(fileURLWithPath: home)
        }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/quadrat")
    }

    /// The pretrained checkpoints set-up fetches.
    public static var weights: URL { home.appendingPathComponent("weights") }
    /// The ELPV data set set-up fetches for the demo.
    public static var elpv: URL { home.appendingPathComponent("data/elpv") }
}
