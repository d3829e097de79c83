import CTorch
import Foundation

/// Reads and writes the safetensors format: an 8-byte little-endian header length,
/// a JSON header (`name → {dtype, shape, data_offsets}` plus an optional
/// `__metadata__` string map), then the raw little-endian tensor bytes.
public enum Safetensors {
    /// Writes `tensors` (made contiguous) and `metadata` to `url`, atomically.
    public static func write(_ tensors: [String: Tensor], metadata: [String: String] = [:], to url: URL) throws {
        try AtomicFile.write(data(tensors, metadata: metadata), to: url)
    }

    /// The file's bytes for `tensors` and `metadata`.
    public static func data(_ tensors: [String: Tensor], metadata: [String: String] = [:]) throws -> Data {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var body = Data()
        for name in tensors.keys.sorted() {
            guard let tensor = tensors[name] else { continue }
            let bytes = try tensor.rawBytes()
            header[name] =
                [
                    "dtype": tensor.dtype.description,
                    "shape": tensor.shape,
                    "data_offsets": [body.count, body.count + bytes.count],
                ] as [String: Any]
            body.append(bytes)
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        // Pad the header with spaces so the data starts 8-byte aligned, as the reference writer does.
        while (8 + json.count) % 8 != 0 { json.append(0x20) }
        var out = Data()
        var length = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &length) { out.append(contentsOf: $0) }
        out.append(json)
        out.append(body)
        return out
    }

    /// Bytes of a tensor of `shape`, or nil for a negative dimension or a size that overflows.
    static func byteCount(shape: [Int], elementSize: Int) -> Int? {
        var total = elementSize
        for dimension in shape {
            guard dimension >= 0 else { return nil }
            let (product, overflow) = total.multipliedReportingOverflow(by: dimension)
            if overflow { return nil }
            total = product
        }
        return total
    }

    /// Reads every tensor and the metadata of a safetensors file.
    public static func read(_ url: URL) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            throw WeightsError(url, "cannot be read (\(error.localizedDescription))")
        }
        return try read(data, source: url)
    }

    /// Reads a safetensors file's bytes; `source` names the file in errors.
    public static func read(
        _ data: Data, source url: URL
    ) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        guard data.count >= 8 else { throw WeightsError(url, "is too short to be a safetensors file") }
        // Every length, offset and shape is checked before it is used to index or allocate (issue 12).
        let rawLength = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard rawLength > 0, rawLength <= UInt64(data.count - 8) else {
            throw WeightsError(
                url, "has a header length (\(rawLength)) that does not fit the file: not a safetensors file")
        }
        let headerLength = Int(rawLength)
        let headerData = data.subdata(in: 8..<(8 + headerLength))
        // Any JSON failure becomes the error below, which names the file.
        guard let header = try? JSONSerialization.jsonObject(with: headerData) as? [String: Any] else {
            throw WeightsError(url, "has a header that is not a JSON object")
        }
        let dataStart = 8 + headerLength
        var metadata: [String: String] = [:]
        var tensors: [String: Tensor] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                guard let map = value as? [String: String] else {
                    throw WeightsError(url, "has a __metadata__ that is not a map of strings")
                }
                metadata = map
                continue
            }
            guard let entry = value as? [String: Any],
                let dtypeName = entry["dtype"] as? String,
                let shape = entry["shape"] as? [Int],
                let offsets = entry["data_offsets"] as? [Int], offsets.count == 2
            else { throw WeightsError(url, "entry '\(name)' lacks dtype, shape or data_offsets") }
            guard let dtype = DType.allCases.first(where: { $0.description == dtypeName }) else {
                throw WeightsError(url, "entry '\(name)' has unsupported dtype \(dtypeName)")
            }
            let available = data.count - dataStart
            guard offsets.allSatisfy({ (0...available).contains($0) }), offsets[0] <= offsets[1] else {
                throw WeightsError(url, "entry '\(name)' has data_offsets \(offsets) outside the file's data")
            }
            guard let expected = Self.byteCount(shape: shape, elementSize: dtype.size) else {
                throw WeightsError(url, "entry '\(name)' has an impossible shape \(shape)")
            }
            let begin = dataStart + offsets[0], end = dataStart + offsets[1]
            guard end - begin == expected else {
                throw WeightsError(
                    url, "entry '\(name)' has data_offsets \(offsets) that do not hold a \(dtypeName) \(shape) tensor")
            }
            tensors[name] = try data.withUnsafeBytes { raw in
                try Tensor.copying(
                    bytes: UnsafeRawBufferPointer(rebasing: raw[begin..<end]), dtype: dtype, shape: shape)
            }
        }
        return (tensors, metadata)
    }
}

/// A weights file that cannot be used, with the file's path in the message.
public struct WeightsError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let problem: String
    public init(_ url: URL, _ problem: String) {
        self.path = url.path
        self.problem = problem
    }
    public var description: String { "\(path) \(problem)" }
}

extension Tensor {
    /// The elements' bytes in row-major order (little-endian on every platform Quadrat runs on).
    public func rawBytes() throws -> Data {
        let source = try contiguous()
        var out = Data(count: source.count * source.dtype.size)
        // `source` may be a temporary conversion: keep it alive until the copy has read its handle's data.
        let rc = withExtendedLifetime(source) {
            out.withUnsafeMutableBytes { qt_copy_to(source.handle, $0.baseAddress, Int64($0.count)) }
        }
        try check(rc)
        return out
    }
}
