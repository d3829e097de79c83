import Foundation
import Torch

/// libFuzzer entry: the safetensors reader (header length, JSON header, offsets, shapes).
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzSafetensors(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = Data(UnsafeBufferPointer(start: data, count: count))
    do {
        _ = try Safetensors.read(bytes, source: URL(fileURLWithPath: "/fuzz/input.safetensors"))
    } catch is WeightsError {
        // The expected outcome for a damaged file: an error naming it.
    } catch {
        preconditionFailure("unexpected error type: \(error)")
    }
    return 0
}
