import CTorch

// Element-wise arithmetic with broadcasting. Operators throw (a shape mismatch
// is a TorchError), so one `try` covers a whole expression: `try (a + b) * 2`.

/// An element-wise operation of two tensors (or a tensor and a scalar): a code of ctorch.h.
struct BinaryOp {
    let code: Int32
    init(_ code: Int) { self.code = Int32(code) }
    static let add = BinaryOp(QT_ADD), sub = BinaryOp(QT_SUB), mul = BinaryOp(QT_MUL), div = BinaryOp(QT_DIV)
    static let pow = BinaryOp(QT_POW), maximum = BinaryOp(QT_MAXIMUM), minimum = BinaryOp(QT_MINIMUM)
    static let eq = BinaryOp(QT_EQ), ne = BinaryOp(QT_NE), lt = BinaryOp(QT_LT), le = BinaryOp(QT_LE)
    static let gt = BinaryOp(QT_GT), ge = BinaryOp(QT_GE), atan2 = BinaryOp(QT_ATAN2)
}

/// An element-wise operation of one tensor: a code of ctorch.h.
struct UnaryOp {
    let code: Int32
    init(_ code: Int) { self.code = Int32(code) }
    static let neg = UnaryOp(QT_NEG), exp = UnaryOp(QT_EXP), log = UnaryOp(QT_LOG), sqrt = UnaryOp(QT_SQRT)
    static let abs = UnaryOp(QT_ABS), relu = UnaryOp(QT_RELU), relu6 = UnaryOp(QT_RELU6)
    static let sigmoid = UnaryOp(QT_SIGMOID), tanh = UnaryOp(QT_TANH), sin = UnaryOp(QT_SIN), cos = UnaryOp(QT_COS)
    static let floor = UnaryOp(QT_FLOOR), round = UnaryOp(QT_ROUND), logicalNot = UnaryOp(QT_LOGICAL_NOT)
    static let isnan = UnaryOp(QT_ISNAN), sign = UnaryOp(QT_SIGN)
}

extension Tensor {
    func binary(_ op: BinaryOp, _ other: Tensor) throws -> Tensor {
        try wrap(qt_binary(op.code, handle, other.handle))
    }

    func binary(_ op: BinaryOp, _ scalar: Double) throws -> Tensor {
        try wrap(qt_binary_scalar(op.code, handle, scalar))
    }

    func unary(_ op: UnaryOp) throws -> Tensor {
        try wrap(qt_unary(op.code, handle))
    }

    public static func + (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(.add, b) }
    public static func - (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(.sub, b) }
    public static func * (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(.mul, b) }
    public static func / (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(.div, b) }
    public static func + (a: Tensor, b: Double) throws -> Tensor { try a.binary(.add, b) }
    public static func - (a: Tensor, b: Double) throws -> Tensor { try a.binary(.sub, b) }
    public static func * (a: Tensor, b: Double) throws -> Tensor { try a.binary(.mul, b) }
    public static func / (a: Tensor, b: Double) throws -> Tensor { try a.binary(.div, b) }
    public static func + (a: Double, b: Tensor) throws -> Tensor { try b.binary(.add, a) }
    public static func - (a: Double, b: Tensor) throws -> Tensor { try b.unary(.neg).binary(.add, a) }
    public static func * (a: Double, b: Tensor) throws -> Tensor { try b.binary(.mul, a) }
    public static prefix func - (a: Tensor) throws -> Tensor { try a.unary(.neg) }

    public func pow(_ exponent: Double) throws -> Tensor { try binary(.pow, exponent) }
    public func pow(_ exponent: Tensor) throws -> Tensor { try binary(.pow, exponent) }
    public func maximum(_ other: Tensor) throws -> Tensor { try binary(.maximum, other) }
    public func minimum(_ other: Tensor) throws -> Tensor { try binary(.minimum, other) }

    // Comparisons give bool tensors. They are methods, not `==`, so Tensor stays out of Equatable.
    public func eq(_ other: Tensor) throws -> Tensor { try binary(.eq, other) }
    public func eq(_ other: Double) throws -> Tensor { try binary(.eq, other) }
    public func ne(_ other: Tensor) throws -> Tensor { try binary(.ne, other) }
    public func lt(_ other: Tensor) throws -> Tensor { try binary(.lt, other) }
    public func lt(_ other: Double) throws -> Tensor { try binary(.lt, other) }
    public func le(_ other: Double) throws -> Tensor { try binary(.le, other) }
    public func gt(_ other: Tensor) throws -> Tensor { try binary(.gt, other) }
    public func gt(_ other: Double) throws -> Tensor { try binary(.gt, other) }
    public func ge(_ other: Double) throws -> Tensor { try binary(.ge, other) }

    public func exp() throws -> Tensor { try unary(.exp) }
    public func log() throws -> Tensor { try unary(.log) }
    public func sqrt() throws -> Tensor { try unary(.sqrt) }
    public func abs() throws -> Tensor { try unary(.abs) }
    public func relu() throws -> Tensor { try unary(.relu) }
    /// min(max(x, 0), 6), the activation of MobileNet and EfficientNet-Lite.
    public func relu6() throws -> Tensor { try unary(.relu6) }
    public func sigmoid() throws -> Tensor { try unary(.sigmoid) }
    public func tanh() throws -> Tensor { try unary(.tanh) }
    public func sin() throws -> Tensor { try unary(.sin) }
    public func cos() throws -> Tensor { try unary(.cos) }
    public func floor() throws -> Tensor { try unary(.floor) }
    public func rounded() throws -> Tensor { try unary(.round) }
    public func logicalNot() throws -> Tensor { try unary(.logicalNot) }
    public func isNaN() throws -> Tensor { try unary(.isnan) }
    public func sign() throws -> Tensor { try unary(.sign) }

    public func clamp(_ lower: Double, _ upper: Double) throws -> Tensor {
        try wrap(qt_clamp(handle, lower, upper))
    }

    /// Elements of `a` where `condition` is true, else of `b`.
    public static func `where`(_ condition: Tensor, _ a: Tensor, _ b: Tensor) throws -> Tensor {
        try wrap(qt_where(condition.handle, a.handle, b.handle))
    }

    public func matmul(_ other: Tensor) throws -> Tensor { try wrap(qt_matmul(handle, other.handle)) }
    /// L with self = L Lᵀ, for a symmetric positive-definite matrix (`torch.linalg.cholesky`).
    public func cholesky() throws -> Tensor { try wrap(qt_cholesky(handle)) }
    /// X with self X = b, for a lower (or `upper`) triangular self (`torch.linalg.solve_triangular`).
    public func solveTriangular(_ b: Tensor, upper: Bool = false) throws -> Tensor {
        try wrap(qt_solve_triangular(handle, b.handle, upper ? 1 : 0))
    }

    // MARK: conversion

    public func to(_ dtype: DType) throws -> Tensor { try wrap(qt_to_dtype(handle, dtype.code)) }

    /// A tensor laid out in `format` (self when it already is).
    public func contiguous(_ format: MemoryFormat = .contiguous) throws -> Tensor {
        try wrap(qt_contiguous(handle, format.code))
    }

    /// A copy with its own memory (gradients still flow through it).
    public func clone() throws -> Tensor { try wrap(qt_clone(handle)) }

    // MARK: in place (optimizers, state loading)

    /// Copies `source` (broadcast, converted) into this tensor's memory.
    public func copyInPlace(from source: Tensor) throws { try check(qt_copy_(handle, source.handle)) }
    /// Swaps in `source`'s data (shape, layout, dtype) while keeping this tensor's identity,
    /// so layers and optimizers holding it see the change (`p.data = source`).
    public func setData(_ source: Tensor) throws { try check(qt_set_data(handle, source.handle)) }
    /// self += alpha × other
    public func addInPlace(_ other: Tensor, alpha: Double = 1) throws {
        try check(qt_add_(handle, other.handle, alpha))
    }
    public func mulInPlace(_ scalar: Double) throws { try check(qt_mul_scalar_(handle, scalar)) }
    /// self = min(max(self, lower), upper)
    public func clampInPlace(_ lower: Double, _ upper: Double) throws { try check(qt_clamp_(handle, lower, upper)) }
    /// self = max(self, 0)
    public func reluInPlace() throws { try check(qt_relu_(handle)) }
    /// self += value × a × b
    public func addcmulInPlace(_ a: Tensor, _ b: Tensor, value: Double = 1) throws {
        try check(qt_addcmul_(handle, a.handle, b.handle, value))
    }
    /// self += value × a / b
    public func addcdivInPlace(_ a: Tensor, _ b: Tensor, value: Double = 1) throws {
        try check(qt_addcdiv_(handle, a.handle, b.handle, value))
    }
}
