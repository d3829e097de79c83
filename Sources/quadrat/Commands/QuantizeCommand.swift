import ArgumentParser
import Foundation
import Learn
import Torch
import Workflow

/// `quadrat quantize MODEL --photos DIR`: the INT8 calibration of a model trained before `train` made one.
struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Calibrate a model for INT8 inference (--precision int8) on some of its training photos.",
        discussion: """
            `train` calibrates every model it saves; this command is for models trained before that, or to \
            calibrate again on other photos. It runs the model in float32 over up to --count of the photos (spread \
            evenly over them, the plain evaluation view), records the range of every activation of the body and \
            writes them beside the model as MODEL\(Int8Calibration.suffix). Calibrate on photos like those the \
            model will see: its training photos, not the ones you will score it on.

            Examples:
              quadrat quantize runs/elpv --photos elpv/train
            """
    )

    @OptionGroup var model: ModelArgument
    @Option(
        parsing: .upToNextOption,
        help: ArgumentHelp("Photos to calibrate on (files, or one folder).", valueName: "photo"))
    var photos: [String] = []
    @Option(help: "At most this many photos (default \(Int8Calibration.defaultPhotos)).")
    var count = Int8Calibration.defaultPhotos

    func validate() throws {
        if photos.isEmpty { throw ValidationError("give --photos: some of the model's training photos") }
        if count < 1 { throw ValidationError("--count must be at least 1, got \(count)") }
    }

    func run() throws {
        try DeviceChoice.cpu.apply()  // INT8 is the CPU's, whatever QUADRAT_DEVICE says
        let saved = try model.load()
        let items = try PredictCommand.dataset(photos).items
        let start = Date()
        let calibration = try Int8Calibration.fit(saved, items: items, photos: count)
        try calibration.write(beside: saved)
        print(
            String(
                format: "INT8 calibration of %@: %d photos, %d activation ranges per member, %.1f s → %@",
                model.model, calibration.members.first?.photos ?? 0, calibration.members.first?.ranges.count ?? 0,
                Date().timeIntervalSince(start), Int8Calibration.url(beside: saved).path))
    }
}
