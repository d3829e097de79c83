import Foundation

/// JPEG bytes with an EXIF APP1 segment added after the start marker: IFD0 with the camera model and a pointer to an
/// Exif sub-IFD holding DateTimeOriginal (little-endian TIFF, as most cameras write it). As TIFF says, a value of
/// at most 4 bytes lies in its entry; a longer one after the directories.
public func jpegWithEXIF(_ jpeg: Data, model: String, taken: String) -> Data {
    var tiff: [UInt8] = Array("II".utf8) + [0x2A, 0x00] + le32(8)
    let modelBytes = Array(model.utf8) + [0], takenBytes = Array(taken.utf8) + [0]
    let subIFD = 8 + 2 + 2 * 12 + 4
    let data = subIFD + 2 + 12 + 4
    let inline = modelBytes.count <= 4
    let modelValue = inline ? modelBytes + [UInt8](repeating: 0, count: 4 - modelBytes.count) : le32(data)
    tiff += le16(2)
    tiff += le16(0x0110) + le16(2) + le32(modelBytes.count) + modelValue
    tiff += le16(0x8769) + le16(4) + le32(1) + le32(subIFD)
    tiff += le32(0)
    tiff += le16(1) + le16(0x9003) + le16(2) + le32(takenBytes.count) + le32(data + (inline ? 0 : modelBytes.count))
    tiff += le32(0)
    tiff += (inline ? [] : modelBytes) + takenBytes
    let length = 2 + 6 + tiff.count
    let segment: [UInt8] = [0xFF, 0xE1, UInt8(length >> 8), UInt8(length & 0xFF)] + Array("Exif\0\0".utf8) + tiff
    return Data(jpeg.prefix(2)) + Data(segment) + Data(jpeg.dropFirst(2))
}

private func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
private func le32(_ v: Int) -> [UInt8] { le16(v & 0xFFFF) + le16(v >> 16 & 0xFFFF) }
