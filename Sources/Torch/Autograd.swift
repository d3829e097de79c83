import CTorch

extension Tensor {
    /// Whether operations on this tensor are recorded for `backward()`.
    public var requiresGrad: Bool {
        qt_requires_grad(handle) == 1
    }

    /// Turns gradient recording on or off for this (leaf) tensor; returns self.
    @discardableResult
    public func requiringGrad(_ flag: Bool = true) throws -> Tensor {
        try check(qt_set_requires_grad(handle, flag ? 1 : 0))
        return self
    }

    /// The accumulated gradient, or nil before any backward pass reached this tensor.
    public var grad: Tensor? {
        get throws {
            var out: OpaquePointer?
            try check(qt_grad(handle, &out))
            return out.map(Tensor.init(handle:))
        }
    }

    /// Drops the gradient (`p.grad = None`).
    public func zeroGrad() throws { try check(qt_zero_grad(handle)) }

    /// Back-propagates from this tensor (a scalar unless `gradient` is given).
    public func backward(_ gradient: Tensor? = nil) throws {
        try check(qt_backward(handle, gradient?.handle))
    }

    /// The same data, cut from the autograd graph.
    public func detached() throws -> Tensor { try wrap(qt_detach(handle)) }
}
