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

    // The inspectors below do not throw: every handle a Tensor owns is a defined libtorch tensor whose
    // dtype is one of DType's, so they cannot fail. If the shim ever reports an error here it is a bug
    // in the shim, and it stops the program with the shim's message instead of leaving the error pending
    // for an unrelated later call to pick up.

    public var rank: Int { Int(inspected(qt_dim(handle))) }

    public var shape: [Int] {
        var out = [Int64](repeating: 0, count: rank)
        qt_sizes(handle, &out)
        inspected(())
        return out.map(Int.init)
    }

    /// Strides in elements.
    public var strides: [Int] {
        var out = [Int64](repeating: 0, count: rank)
        qt_strides(handle, &out)
        inspected(())
        return out.map(Int.init)
    }

    public var count: Int { Int(inspected(qt_numel(handle))) }

    public var dtype: DType {
        let code = inspected(qt_dtype(handle))
        guard let dtype = DType(code: code) else {
            preconditionFailure("the shim returned an unknown dtype code \(code)")
        }
        return dtype
    }

    public func isContiguous(_ format: MemoryFormat = .contiguous) -> Bool {
        inspected(qt_is_contiguous(handle, format.code)) == 1
    }

    /// Returns `value`, stopping with the shim's message when the call that made it failed.
    @discardableResult
    private func inspected<T>(_ value: T) -> T {
        if let message = qt_last_error() {
            preconditionFailure("shim inspection of a tensor failed: \(String(cString: message))")
        }
        return value
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
        // `source` may be a temporary conversion: keep it alive until the copy has read its handle's data.
        let rc = withExtendedLifetime(source) {
            out.withUnsafeMutableBytes { qt_copy_to(source.handle, $0.baseAddress, Int64($0.count)) }
        }
        if rc != 0 { throw TorchError.last() }
        return out
    }

    /// The elements as `Float`s (a shorthand for tests and reports).
    public func floats() throws -> [Float] { try toArray(Float.self) }
}

/// Element types with a libtorch dtype. Codes are c10::ScalarType's.
public enum DType: Sendable, CaseIterable, CustomStringConvertible {
    case uint8, int32, int64, float16, float32, float64, bool, bfloat16

    /// The shim's code (ctorch.h's `QT_…`, c10::ScalarType's value).
    var code: Int32 {
        switch self {
        case .uint8: Int32(QT_UINT8)
        case .int32: Int32(QT_INT32)
        case .int64: Int32(QT_INT64)
        case .float16: Int32(QT_FLOAT16)
        case .float32: Int32(QT_FLOAT32)
        case .float64: Int32(QT_FLOAT64)
        case .bool: Int32(QT_BOOL)
        case .bfloat16: Int32(QT_BFLOAT16)
        }
    }

    init?(code: Int32) {
        guard let match = DType.allCases.first(where: { $0.code == code }) else { return nil }
        self = match
    }

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
public enum MemoryFormat: Sendable {
    /// NCHW, row-major.
    case contiguous
    /// NHWC in memory while the shape stays NCHW; faster for convolutions on CPU.
    case channelsLast
    /// Keep whatever the tensor has.
    case preserve

    /// The shim's code (ctorch.h's `QT_…`).
    public var code: Int32 {
        switch self {
        case .contiguous: Int32(QT_CONTIGUOUS)
        case .channelsLast: Int32(QT_CHANNELS_LAST)
        case .preserve: Int32(QT_PRESERVE)
        }
    }
}

/// Swift types that can be copied into and out of tensors.
public protocol TensorElement: Sendable {
    static var dtype: DType { get }
    static var zero: Self { get }
}

// The Swift element types with a libtorch dtype.
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
