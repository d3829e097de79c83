import Foundation
import Workflow

/// libFuzzer entry: a `train --config` file, YAML when the input's first byte is even, JSON when odd, read over the
/// default options: the text limits (size, nesting, anchors), the parser, unknown-key suggestions, type checks
/// and every option's range check; the same bytes as a `--device` value (`DeviceChoice`, `Device`). Any
/// `WorkflowError` is fine; a trap, a stack overflow or a blow-up is not.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzConfig(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard count > 0, let data else { return 0 }
    let yaml = data[0] % 2 == 0
    let bytes = Data(UnsafeBufferPointer(start: data + 1, count: count - 1))
    // A device name must come back as it was given, or not at all.
    if let choice = DeviceChoice(String(decoding: bytes, as: UTF8.self)), case .cuda(let index?) = choice {
        precondition(DeviceChoice(choice.description) == choice, "cuda:\(index) does not read back")
    }
    do {
        let options = try TrainOptions.decodingConfig(bytes, yaml: yaml, over: TrainOptions(data: "d", out: "o"))
        try options.validate()
    } catch is WorkflowError {
    } catch is DecodingError {
    } catch {
        // What Yams and JSONSerialization throw for text they cannot parse (their own error types).
    }
    return 0
}
