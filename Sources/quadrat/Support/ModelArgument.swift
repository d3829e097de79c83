import ArgumentParser
import Foundation
import Learn

/// The model file every command that uses a trained model takes first (predict, evaluate, interpret, explain,
/// export, serve): one argument, one help text, one way to read it.
struct ModelArgument: ParsableArguments {
    @Argument(help: "The model file written by `quadrat train` (RUN/model.safetensors).")
    var model: String

    var url: URL { URL(fileURLWithPath: model) }

    /// The model, read back for prediction.
    func load() throws -> SavedModel { try SavedModel(url) }
}
