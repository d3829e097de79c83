import CTorch

extension Tensor {
    /// The same elements in a new shape; one dimension may be -1.
    public func reshaped(_ shape: [Int]) throws -> Tensor {
        try withInt64s(shape) { s, n in try wrap(qt_reshape(handle, s, n)) }
    }

    /// Flattens dimensions from `startDim` on.
    public func flattened(from startDim: Int = 0) throws -> Tensor {
        let s = shape
        let start = startDim < 0 ? startDim + s.count : startDim
        return try reshaped(Array(s[..<start]) + [-1])
    }

    public func permuted(_ dims: [Int]) throws -> Tensor {
        try withInt64s(dims) { d, n in try wrap(qt_permute(handle, d, n)) }
    }

    public func transposed(_ d0: Int, _ d1: Int) throws -> Tensor {
        try wrap(qt_transpose(handle, Int64(d0), Int64(d1)))
    }

    /// Elements `range` along `dim` (a view).
    public func narrowed(dim: Int, _ range: Range<Int>) throws -> Tensor {
        try wrap(qt_narrow(handle, Int64(dim), Int64(range.lowerBound), Int64(range.count)))
    }

    /// Index `index` along `dim`, removing that dimension (a view).
    public func selecting(dim: Int, _ index: Int) throws -> Tensor {
        try wrap(qt_select(handle, Int64(dim), Int64(index)))
    }

    /// `self[index]` along the first dimension.
    public subscript(_ index: Int) -> Tensor {
        get throws { try selecting(dim: 0, index) }
    }

    /// Rows (along `dim`) picked by an int64 index tensor.
    public func indexSelect(dim: Int, _ index: Tensor) throws -> Tensor {
        try wrap(qt_index_select(handle, Int64(dim), index.handle))
    }

    /// Rows picked by Swift indices.
    public func indexSelect(dim: Int, _ indices: [Int]) throws -> Tensor {
        try indexSelect(dim: dim, Tensor(indices.map(Int64.init)))
    }

    public static func cat(_ tensors: [Tensor], dim: Int = 0) throws -> Tensor {
        let handles: [OpaquePointer?] = tensors.map { $0.handle }
        return try withExtendedLifetime(tensors) { try wrap(qt_cat(handles, Int32(handles.count), Int64(dim))) }
    }

    public static func stack(_ tensors: [Tensor], dim: Int = 0) throws -> Tensor {
        let handles: [OpaquePointer?] = tensors.map { $0.handle }
        return try withExtendedLifetime(tensors) { try wrap(qt_stack(handles, Int32(handles.count), Int64(dim))) }
    }

    public func unsqueezed(_ dim: Int) throws -> Tensor { try wrap(qt_unsqueeze(handle, Int64(dim))) }
    public func squeezed(_ dim: Int) throws -> Tensor { try wrap(qt_squeeze(handle, Int64(dim))) }

    public func expanded(_ shape: [Int]) throws -> Tensor {
        try withInt64s(shape) { s, n in try wrap(qt_expand(handle, s, n)) }
    }

    public func flipped(_ dims: [Int]) throws -> Tensor {
        try withInt64s(dims) { d, n in try wrap(qt_flip(handle, d, n)) }
    }

    /// A view with explicit shape, strides (in elements) and storage offset.
    public func asStrided(_ shape: [Int], strides: [Int], offset: Int = 0) throws -> Tensor {
        try withInt64s(shape) { s, n in
            try withInt64s(strides) { t, _ in try wrap(qt_as_strided(handle, s, t, n, Int64(offset))) }
        }
    }
}
