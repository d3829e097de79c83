import Vision

/// libFuzzer entry: the EXIF reader on arbitrary JPEG bytes. Any byte string must give an orientation of 1–8, and a
/// capture time only when it parses as one.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzEXIF(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: count))
    let tags = EXIF.tags(in: bytes)
    precondition((1...8).contains(tags.orientation), "orientation \(tags.orientation) out of range")
    precondition(tags.taken == nil || tags.takenSeconds != nil, "a capture time that does not parse")
    precondition((tags.model?.utf8.count ?? 0) <= 256, "a model name longer than its bound")
    return 0
}
