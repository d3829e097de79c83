import FormData

/// libFuzzer entry: the multipart/form-data reader of `quadrat serve` (boundary header, then the body). The first
/// line of the input is the Content-Type header, the rest the body; every part returned lies inside the body.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzMultipart(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: count))
    let split = bytes.firstIndex(of: 0x0A) ?? bytes.count
    let header = String(decoding: bytes[..<split], as: UTF8.self)
    let body = Array(bytes[min(split + 1, bytes.count)...])
    guard let boundary = Multipart.boundary(contentType: header) else { return 0 }
    if let parts = try? Multipart.parts(body, boundary: boundary) {  // a malformed body is an expected error
        precondition(parts.allSatisfy { $0.body.count <= body.count }, "a part larger than the body")
    }
    return 0
}
