import CTorch

/// An n-dimensional array living in libtorch.
///
/// A `Tensor` owns one shim handle and frees it when the last Swift reference
/// goes away. Operations return new tensors; the few in-place ones (used by
/// optimizers and state loading) end in `InPlace` or take `inout`-like names.
/// Every operation that can fail in libtorch throws a ``TorchError``.
public final class Tensor: @unchecked Sendable {
    let handle: OpaquePointer

    init(handle: OpaquePointer) { self.handle = handle }
    deinit { qt_free(handle) }

    /// The number of tensors alive in the process (for leak checks).
    public static var liveCount: Int { Int(qt_live_tensors()) }

    // MARK: inspection

    public var rank: Int { Int(qt_dim(handle)) }

    public var shape: [Int] {
        var out = [Int64](repeating: 0, count: rank)
        qt_sizes(handle, &out)
        return out.map(Int.init)
    }

    /// Strides in elements.
    public var strides: [Int] {
        var out = [Int64](repeating: 0, count: rank)
        qt_strides(handle, &out)
        return out.map(Int.init)
    }

    public var count: Int { Int(qt_numel(handle)) }

    public var dtype: DType {
        // Every tensor the shim makes has a dtype listed in DType; anything else is a bug in the shim.
        DType(rawValue: qt_dtype(handle)) ?? .float32
    }

    public func isContiguous(_ format: MemoryFormat = .contiguous) -> Bool {
        qt_is_contiguous(handle, format.rawValue) == 1
    }

    /// The single element of a one-element tensor.
    public func item() throws -> Double {
        let v = qt_item(handle)
        try checkError()
        return v
    }

    /// The elements in row-major order, converted to `T`'s dtype when needed.
    public func toArray<T: TensorElement>(_ type: T.Type = T.self) throws -> [T] {
        let source = dtype == T.dtype ? self : try to(T.dtype)
        let n = source.count
        var out = [T](repeating: T.zero, count: n)
        let rc = out.withUnsafeMutableBytes { qt_copy_to(source.handle, $0.baseAddress, Int64($0.count)) }
        if rc != 0 { throw TorchError.last() }
        return out
    }

    /// The elements as `Float`s (a shorthand for tests and reports).
    public func floats() throws -> [Float] { try toArray(Float.self) }
}

/// Element types with a libtorch dtype. Codes are c10::ScalarType's.
public enum DType: Int32, Sendable, CaseIterable, CustomStringConvertible {
    case uint8 = 0, int32 = 3, int64 = 4, float16 = 5, float32 = 6, float64 = 7, bool = 11, bfloat16 = 15

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .uint8, .bool: 1
        case .float16, .bfloat16: 2
        case .int32, .float32: 4
        case .int64, .float64: 8
        }
    }

    public var isFloatingPoint: Bool { [.float16, .float32, .float64, .bfloat16].contains(self) }

    /// The name safetensors uses ("F32", …).
    public var description: String {
        switch self {
        case .uint8: "U8"
        case .int32: "I32"
        case .int64: "I64"
        case .float16: "F16"
        case .float32: "F32"
        case .float64: "F64"
        case .bool: "BOOL"
        case .bfloat16: "BF16"
        }
    }
}

/// How a 4-D tensor is laid out in memory.
public enum MemoryFormat: Int32, Sendable {
    /// NCHW, row-major.
    case contiguous = 0
    /// NHWC in memory while the shape stays NCHW; faster for convolutions on CPU.
    case channelsLast = 1
    /// Keep whatever the tensor has.
    case preserve = 2
}

/// Swift types that can be copied into and out of tensors.
public protocol TensorElement: Sendable {
    static var dtype: DType { get }
    static var zero: Self { get }
}

extension Float: TensorElement { public static var dtype: DType { .float32 } }
extension Double: TensorElement { public static var dtype: DType { .float64 } }
extension Int64: TensorElement { public static var dtype: DType { .int64 } }
extension Int32: TensorElement { public static var dtype: DType { .int32 } }
extension UInt8: TensorElement { public static var dtype: DType { .uint8 } }
extension Bool: TensorElement {
    public static var dtype: DType { .bool }
    public static var zero: Bool { false }
}

/// An error reported by libtorch (or by the shim around it).
public struct TorchError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }

    /// Takes (and clears) the shim's last error on this thread.
    public static func last() -> TorchError {
        let message = qt_last_error().map { String(cString: $0) } ?? "libtorch call failed without a message"
        qt_clear_error()
        return TorchError(message)
    }
}

/// Throws the shim's pending error, if any (for calls whose return value cannot signal failure).
func checkError() throws {
    if qt_last_error() != nil { throw TorchError.last() }
}

/// Wraps a handle returned by the shim, or throws its error when it is NULL.
func wrap(_ handle: OpaquePointer?) throws -> Tensor {
    guard let handle else { throw TorchError.last() }
    return Tensor(handle: handle)
}

/// Throws the shim's error when an in-place call returned non-zero.
func check(_ rc: Int32) throws {
    if rc != 0 { throw TorchError.last() }
}

/// Runs `body` with a C array of `values` and its count.
func withInt64s<R>(_ values: [Int], _ body: (UnsafePointer<Int64>, Int32) throws -> R) rethrows -> R {
    // A one-element array stands in for an empty one, so the pointer is never dangling;
    // libtorch reads no element when the count is 0.
    let v = values.isEmpty ? [Int64(0)] : values.map(Int64.init)
    return try v.withUnsafeBufferPointer { try body($0.baseAddress!, Int32(values.count)) }
}
