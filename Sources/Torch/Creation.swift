import CTorch

extension Tensor {
    /// A tensor holding `values`, shaped `shape` (row-major).
    public convenience init<T: TensorElement>(_ values: [T], shape: [Int]) throws {
        let expected = shape.reduce(1, *)
        guard expected == values.count else {
            throw TorchError("\(values.count) values cannot fill shape \(shape) (needs \(expected))")
        }
        let h = values.withUnsafeBytes { raw in
            withInt64s(shape) { s, n in qt_from_data(raw.baseAddress, s, nil, n, T.dtype.code) }
        }
        guard let h else { throw TorchError.last() }
        self.init(handle: h)
    }

    /// A 1-D tensor holding `values`.
    public convenience init<T: TensorElement>(_ values: [T]) throws {
        try self.init(values, shape: [values.count])
    }

    /// A copy of raw little-endian memory laid out with explicit `strides` (in elements),
    /// such as a checkpoint's storage viewed at an offset. The result is contiguous.
    public static func copying(
        bytes: UnsafeRawBufferPointer, dtype: DType, shape: [Int], strides: [Int]? = nil
    ) throws -> Tensor {
        // The shape must count its elements without overflow, and the largest element the view touches must
        // lie inside the buffer.
        var elements = 1
        for size in shape {
            let (product, overflow) = elements.multipliedReportingOverflow(by: size)
            guard size >= 0, !overflow else { throw TorchError("shape \(shape) is impossible") }
            elements = product
        }
        let st = strides ?? contiguousStrides(shape)
        guard st.count == shape.count else { throw TorchError("strides \(st) do not match shape \(shape)") }
        let outside = TorchError("a \(shape) view with strides \(st) reads past the \(bytes.count)-byte buffer")
        guard st.allSatisfy({ $0 >= 0 }) else { throw outside }
        if !shape.contains(0) {
            // The last element's byte, computed with overflow checks: a hostile shape must not wrap around.
            var last = 0
            for (size, step) in zip(shape, st) {
                let (span, o1) = (size - 1).multipliedReportingOverflow(by: step)
                let (sum, o2) = last.addingReportingOverflow(span)
                guard !o1, !o2 else { throw outside }
                last = sum
            }
            let (end, overflow) = (last + 1).multipliedReportingOverflow(by: dtype.size)
            guard !overflow, end <= bytes.count else { throw outside }
        }
        return try withInt64s(shape) { s, n in
            try withInt64s(st) { t, _ in try wrap(qt_from_data(bytes.baseAddress, s, t, n, dtype.code)) }
        }
    }

    static func fill(_ shape: [Int], _ dtype: DType, kind: Int, value: Double = 0) throws -> Tensor {
        try withInt64s(shape) { s, n in try wrap(qt_fill(s, n, dtype.code, Int32(kind), value)) }
    }

    public static func zeros(_ shape: [Int], dtype: DType = .float32) throws -> Tensor {
        try fill(shape, dtype, kind: QT_FILL_FULL)
    }

    public static func ones(_ shape: [Int], dtype: DType = .float32) throws -> Tensor {
        try fill(shape, dtype, kind: QT_FILL_FULL, value: 1)
    }

    public static func full(_ shape: [Int], _ value: Double, dtype: DType = .float32) throws -> Tensor {
        try fill(shape, dtype, kind: QT_FILL_FULL, value: value)
    }

    /// Uniform in [0, 1), from the global generator (see ``Torch/manualSeed(_:)``).
    public static func rand(_ shape: [Int], dtype: DType = .float32) throws -> Tensor {
        try fill(shape, dtype, kind: QT_FILL_RAND)
    }

    /// Standard normal, from the global generator.
    public static func randn(_ shape: [Int], dtype: DType = .float32) throws -> Tensor {
        try fill(shape, dtype, kind: QT_FILL_RANDN)
    }

    /// Uninitialised memory (for outputs that are overwritten at once).
    public static func empty(_ shape: [Int], dtype: DType = .float32) throws -> Tensor {
        try fill(shape, dtype, kind: QT_FILL_EMPTY)
    }

    /// `start, start + step, …` below `end`.
    public static func arange(_ start: Double, _ end: Double, step: Double = 1, dtype: DType = .int64) throws -> Tensor
    {
        try wrap(qt_arange(start, end, step, dtype.code))
    }

    /// A random permutation of `0..<n` from the global generator.
    public static func randperm(_ n: Int) throws -> Tensor {
        try wrap(qt_randperm(Int64(n)))
    }
}

/// Row-major strides for `shape`.
public func contiguousStrides(_ shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    var acc = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) {
        strides[i] = acc
        acc *= shape[i]
    }
    return strides
}
