import Foundation
import Learn

/// libFuzzer entry: a model file's metadata, as `SavedModel` reads it before building anything (architecture, size,
/// classes, normalisation, head, presize, ensemble count, resize, class names), and the entries `serve`, `predict`
/// and `--resume` read later (history, calibration, resume position). Input: a JSON object of strings, or
/// `key=value` lines. Any error is fine; a trap is not.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzModelMetadata(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = Data(UnsafeBufferPointer(start: data, count: count))
    var metadata: [String: String] = [:]
    if let object = try? JSONDecoder().decode([String: String].self, from: bytes) {
        metadata = object
    } else {
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { metadata[String(parts[0])] = String(parts[1]) }
        }
    }
    let source = URL(fileURLWithPath: "/fuzz/model.safetensors")
    do {
        let header = try SavedModel.Header(metadata, source: source)
        precondition(header.classNames.count == header.classes.count && (32...1024).contains(header.size))
    } catch is LearnError {
    } catch {
        preconditionFailure("unexpected error type: \(error)")
    }
    _ = Learner.history(in: metadata)
    _ = Learner.resumePosition(in: metadata)
    _ = metadata["calibration"].flatMap { try? JSONDecoder().decode(ModelCalibration.self, from: Data($0.utf8)) }
    return 0
}
