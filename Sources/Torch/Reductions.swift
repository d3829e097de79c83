import CTorch

/// A reduction over dimensions: a code of ctorch.h.
struct ReduceOp {
    let code: Int32
    init(_ code: Int) { self.code = Int32(code) }
    static let sum = ReduceOp(QT_SUM), mean = ReduceOp(QT_MEAN), amax = ReduceOp(QT_AMAX), amin = ReduceOp(QT_AMIN)
    static let prod = ReduceOp(QT_PROD), variance = ReduceOp(QT_VAR), std = ReduceOp(QT_STD)
}

extension Tensor {
    func reduce(_ op: ReduceOp, _ dims: [Int], keepDim: Bool) throws -> Tensor {
        try withInt64s(dims) { d, n in try wrap(qt_reduce(op.code, handle, d, n, keepDim ? 1 : 0)) }
    }

    /// Sum over `dims` (all when empty).
    public func sum(_ dims: [Int] = [], keepDim: Bool = false) throws -> Tensor {
        try reduce(.sum, dims, keepDim: keepDim)
    }
    public func mean(_ dims: [Int] = [], keepDim: Bool = false) throws -> Tensor {
        try reduce(.mean, dims, keepDim: keepDim)
    }
    public func max(_ dims: [Int] = [], keepDim: Bool = false) throws -> Tensor {
        try reduce(.amax, dims, keepDim: keepDim)
    }
    public func min(_ dims: [Int] = [], keepDim: Bool = false) throws -> Tensor {
        try reduce(.amin, dims, keepDim: keepDim)
    }
    /// Product over one dimension, or over all when `dims` is empty.
    public func prod(_ dims: [Int] = [], keepDim: Bool = false) throws -> Tensor {
        try reduce(.prod, dims, keepDim: keepDim)
    }
    /// Unbiased variance.
    public func variance(_ dims: [Int] = [], keepDim: Bool = false) throws -> Tensor {
        try reduce(.variance, dims, keepDim: keepDim)
    }
    /// Unbiased standard deviation.
    public func std(_ dims: [Int] = [], keepDim: Bool = false) throws -> Tensor {
        try reduce(.std, dims, keepDim: keepDim)
    }

    public func argmax(dim: Int, keepDim: Bool = false) throws -> Tensor {
        try wrap(qt_argmax(handle, Int64(dim), keepDim ? 1 : 0))
    }

    /// The `k` largest values along `dim` and their indices, largest first.
    public func topk(_ k: Int, dim: Int = -1) throws -> (values: Tensor, indices: Tensor) {
        var values: OpaquePointer?
        var indices: OpaquePointer?
        try check(qt_topk(handle, Int64(k), Int64(dim), &values, &indices))
        return (try wrap(values), try wrap(indices))
    }

    /// Sorted values along `dim` and the indices that sort.
    public func sorted(dim: Int = -1, descending: Bool = false) throws -> (values: Tensor, indices: Tensor) {
        var indices: OpaquePointer?
        let values = try wrap(qt_sort(handle, Int64(dim), descending ? 1 : 0, &indices))
        return (values, try wrap(indices))
    }
}
