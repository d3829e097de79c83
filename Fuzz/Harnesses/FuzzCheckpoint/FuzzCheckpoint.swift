import Foundation
import Torch

/// libFuzzer entry: the PyTorch checkpoint readers (zip directory, legacy layout, the restricted unpickler,
/// storage offsets and strides).
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzCheckpoint(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: count))
    do {
        _ = try Checkpoint.load(bytes, source: URL(fileURLWithPath: "/fuzz/input.pth"))
    } catch is WeightsError, is PickleError {
        // The expected outcomes for a damaged or hostile file: an error naming it.
    } catch {
        preconditionFailure("unexpected error type: \(error)")
    }
    return 0
}
