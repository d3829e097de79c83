import ArgumentParser
import Vision

/// A pixel count typed on the command line: `250000000`, `250M` or `250m`, `40000K`.
struct PixelCount: ExpressibleByArgument {
    let value: Int

    init(_ value: Int) { self.value = value }

    init?(argument: String) {
        let multipliers: [Character: Int] = ["k": 1_000, "K": 1_000, "m": 1_000_000, "M": 1_000_000]
        let factor = argument.last.flatMap { multipliers[$0] } ?? 1
        let digits = factor == 1 ? Substring(argument) : argument.dropLast()
        guard let number = Int(digits) else { return nil }
        let (product, overflow) = number.multipliedReportingOverflow(by: factor)
        guard !overflow else { return nil }
        value = product
    }

    var defaultValueDescription: String { "\(value / 1_000_000)M" }
}

/// `--max-pixels`, shared by every command that decodes photos.
struct ImageLimitOptions: ParsableArguments {
    @Option(
        name: .customLong("max-pixels"),
        help: ArgumentHelp(
            "Skip (and report) images with more pixels than this, decided from the file header before decoding.",
            valueName: "count"))
    var maxPixels = PixelCount(ImageDecoder.defaultMaxPixels)

    func validate() throws {
        guard maxPixels.value >= 1 else {
            throw ValidationError("--max-pixels must be at least 1 (got \(maxPixels.value))")
        }
    }

    /// Makes the parsed command's `--max-pixels` the limit of every decoder in this process (the decoders read
    /// one setting). `main` calls it once for whatever command it parsed, so no command can forget it; a command
    /// without the option leaves the default.
    static func apply(from command: Any) {
        if let limits = GivenArguments.group(ImageLimitOptions.self, in: command) {
            ImageDecoder.pixelLimit = limits.maxPixels.value
        }
    }
}
