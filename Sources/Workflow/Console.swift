import Foundation
import Vision

/// The terminal side of the jobs: progress bars on standard error, result lines on standard output.
public enum Console {
    /// Shows the library layers' progress as terminal bars (``ProgressBar``), their log lines on standard output
    /// and their warnings on standard error. `QUADRAT_QUIET` (any value) turns the bars off.
    public static func install() {
        let quiet = ProcessInfo.processInfo.environment["QUADRAT_QUIET"] != nil
        let bars: Feedback.Factory = { label, total, unit in ProgressBar(label, total: total, unit: unit) }
        Feedback.install(factory: quiet ? nil : bars, logger: { line in emit(line) }, warner: { line in warn(line) })
    }

    /// A warning or a list of skipped inputs, on standard error.
    public static func warn(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}

/// Writes a line to standard output at once (unbuffered, so logs show progress as it happens). For the commands:
/// the jobs of this library speak through `Feedback`, which ``Console/install()`` sends here.
public func emit(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
