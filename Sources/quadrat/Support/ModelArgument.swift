import ArgumentParser
import Foundation
import Learn

/// The model file every command that uses a trained model takes first (predict, evaluate, interpret, explain,
/// export, serve): one argument, one help text, one way to read it.
struct ModelArgument: ParsableArguments {
    @Argument(help: "The model file written by `quadrat train` (RUN/model.safetensors), or its run folder RUN.")
    var model: String

    /// The model file; a run folder stands for the model.safetensors in it.
    var url: URL { Self.resolve(model) }

    /// The model file `path` names: itself, or the model.safetensors of a run folder.
    static func resolve(_ path: String) -> URL {
        let given = URL(fileURLWithPath: path)
        var folder: ObjCBool = false
        let isFolder = FileManager.default.fileExists(atPath: path, isDirectory: &folder) && folder.boolValue
        return isFolder ? given.appendingPathComponent("model.safetensors") : given
    }

    private var isFolder: Bool {
        var folder: ObjCBool = false
        return FileManager.default.fileExists(atPath: model, isDirectory: &folder) && folder.boolValue
    }

    func validate() throws {
        if isFolder, !FileManager.default.fileExists(atPath: url.path) {
            throw ValidationError(
                "\(model) is a folder without a model.safetensors: give the model file `quadrat train` wrote "
                    + "(RUN/model.safetensors)")
        }
    }

    /// The model, read back for prediction.
    func load() throws -> SavedModel { try SavedModel(url) }
}
