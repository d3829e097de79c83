import Vision

/// libFuzzer entry: the EXIF orientation reader on arbitrary JPEG bytes. Any byte string must give 1–8.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzEXIF(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: count))
    let orientation = EXIF.orientation(in: bytes)
    precondition((1...8).contains(orientation), "orientation \(orientation) out of range")
    return 0
}
