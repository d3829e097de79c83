import Torch

/// The base of every layer and model.
///
/// Parameters, buffers and child modules are registered under names; their dotted
/// paths (`layer1.0.conv1.weight`) match PyTorch's, so a PyTorch state dict maps
/// one to one onto ``stateDict()`` and ``load(_:strict:)``. Parameters are tensors
/// that optimizers update in place, so references held by layers stay valid.
open class Module {
    public private(set) var isTraining = true
    private var parameterSlots: [(name: String, tensor: Tensor)] = []
    private var bufferSlots: [(name: String, tensor: Tensor)] = []
    private var childSlots: [(name: String, module: Module)] = []

    public init() {}

    /// Computes the module's output. Subclasses override this.
    open func forward(_ input: Tensor) throws -> Tensor {
        throw TorchError("\(type(of: self)) does not implement forward(_:)")
    }

    public func callAsFunction(_ input: Tensor) throws -> Tensor { try forward(input) }

    /// Adds this layer, in eval mode, to `graph` after `input` and returns the name of its output (ONNX export).
    /// Layers without an export throw, naming themselves, so no architecture is exported half-way.
    open func export(_ input: String, into graph: inout InferenceGraph) throws -> String {
        throw TorchError("\(type(of: self)) cannot be exported to ONNX")
    }

    // MARK: registration

    /// Registers a trainable tensor (gradients on) and returns it.
    @discardableResult
    public func registerParameter(_ name: String, _ tensor: Tensor) throws -> Tensor {
        try tensor.requiringGrad(true)
        replace(&parameterSlots, name, tensor)
        return tensor
    }

    /// Registers state that is saved but not trained (BatchNorm's running statistics).
    @discardableResult
    public func registerBuffer(_ name: String, _ tensor: Tensor) -> Tensor {
        replace(&bufferSlots, name, tensor)
        return tensor
    }

    /// Registers (or replaces) a child module and returns it.
    @discardableResult
    public func registerModule<M: Module>(_ name: String, _ module: M) -> M {
        if let i = childSlots.firstIndex(where: { $0.name == name }) {
            childSlots[i].module = module
        } else {
            childSlots.append((name, module))
        }
        return module
    }

    private func replace(_ slots: inout [(name: String, tensor: Tensor)], _ name: String, _ tensor: Tensor) {
        if let i = slots.firstIndex(where: { $0.name == name }) {
            slots[i].tensor = tensor
        } else {
            slots.append((name, tensor))
        }
    }

    // MARK: traversal

    /// Direct children in registration order.
    public var children: [(name: String, module: Module)] { childSlots }

    /// This module and all below it, with dotted paths ("" for self).
    public func namedModules(prefix: String = "") -> [(name: String, module: Module)] {
        var out: [(String, Module)] = [(prefix, self)]
        for (name, child) in childSlots {
            out += child.namedModules(prefix: prefix.isEmpty ? name : "\(prefix).\(name)")
        }
        return out
    }

    public func namedParameters() -> [(name: String, tensor: Tensor)] {
        namedModules().flatMap { path, module in
            module.parameterSlots.map { (path.isEmpty ? $0.name : "\(path).\($0.name)", $0.tensor) }
        }
    }

    public func namedBuffers() -> [(name: String, tensor: Tensor)] {
        namedModules().flatMap { path, module in
            module.bufferSlots.map { (path.isEmpty ? $0.name : "\(path).\($0.name)", $0.tensor) }
        }
    }

    public var parameters: [Tensor] { namedParameters().map(\.tensor) }

    /// Sets training mode here and below (dropout active, BatchNorm using batch statistics).
    public func train(_ on: Bool = true) {
        for (_, module) in namedModules() { module.isTraining = on }
    }

    /// Sets evaluation mode here and below.
    public func eval() { train(false) }

    /// Drops every parameter's gradient.
    public func zeroGrad() throws {
        for p in parameters { try p.zeroGrad() }
    }

    /// Re-lays out every 4-D parameter and buffer in `format` (channels-last makes convolutions
    /// faster on CPU); call before creating the optimizer.
    public func convert(to format: MemoryFormat) throws {
        for (_, t) in namedParameters() + namedBuffers() where t.rank == 4 {
            try t.setData(t.detached().contiguous(format))
        }
    }

    /// Converts every floating-point parameter and buffer to `dtype` (e.g. bfloat16 for inference).
    public func convert(to dtype: DType) throws {
        for (_, t) in namedParameters() + namedBuffers() where t.dtype.isFloatingPoint && t.dtype != dtype {
            try t.setData(t.detached().to(dtype))
        }
    }

    // MARK: state dict

    /// Parameters and buffers by dotted name (the tensors themselves, not copies).
    public func stateDict() -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (name, t) in namedParameters() + namedBuffers() { out[name] = t }
        return out
    }

    /// Copies values from `state` into this module's tensors.
    ///
    /// With `strict`, any missing or unexpected key or shape mismatch throws and nothing
    /// is changed; without it, matching entries are loaded and the rest reported.
    @discardableResult
    public func load(_ state: [String: Tensor], strict: Bool = true) throws -> LoadReport {
        let own = stateDict()
        var report = LoadReport()
        report.missing = own.keys.filter { state[$0] == nil }.sorted()
        report.unexpected = state.keys.filter { own[$0] == nil }.sorted()
        for (name, target) in own {
            guard let source = state[name] else { continue }
            if source.shape != target.shape {
                report.mismatched.append("\(name): expected \(target.shape), got \(source.shape)")
            }
        }
        report.mismatched.sort()
        if strict, !report.isClean { throw report }
        try Torch.withoutGrad {
            for (name, target) in own {
                guard let source = state[name], source.shape == target.shape else { continue }
                try target.copyInPlace(from: source)
            }
        }
        return report
    }
}

/// What ``Module/load(_:strict:)`` could not match. Thrown when loading strictly.
public struct LoadReport: Error, CustomStringConvertible, Sendable {
    public var missing: [String] = []
    public var unexpected: [String] = []
    public var mismatched: [String] = []

    public var isClean: Bool { missing.isEmpty && unexpected.isEmpty && mismatched.isEmpty }

    public var description: String {
        func list(_ label: String, _ items: [String]) -> String? {
            guard !items.isEmpty else { return nil }
            let shown = items.prefix(8).joined(separator: ", ")
            return "\(label) (\(items.count)): \(shown)\(items.count > 8 ? ", …" : "")"
        }
        let parts = [
            list("missing keys", missing), list("unexpected keys", unexpected), list("shape mismatches", mismatched),
        ]
        return "state dict does not match the model: " + parts.compactMap { $0 }.joined(separator: "; ")
    }
}
