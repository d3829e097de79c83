import CTorch

/// Process-wide libtorch settings: threads, seeding, gradient mode.
public enum Torch {
    /// The libtorch version this build runs on ("1.13.1").
    public static var version: String { String(cString: qt_version()) }

    /// Intra-op threads. libtorch in a plain program starts at 1, so Quadrat sets it
    /// explicitly (see ``useAllCores()``).
    public static var threads: Int {
        get { Int(qt_get_num_threads()) }
        set { qt_set_num_threads(Int32(max(1, newValue))) }
    }

    /// Keeps freed memory in the process instead of handing big tensors' pages back to the kernel after
    /// every batch (glibc's default above its mmap threshold); the kernel's zeroing of fresh pages was
    /// a fifth of an EfficientNet-Lite0 training step on this 2-core machine (a sixth at 300 px, where
    /// activations pass glibc's largest mmap threshold and only turning mmap off helps). Threads share two arenas
    /// (set when the shim loads, see `limit_arenas` in ctorch.cpp), so their blocks come back too. Call once at
    /// start-up.
    @discardableResult
    public static func keepFreedMemory() -> Bool { qt_keep_freed_memory() == 1 }

    /// How many malloc arenas the process has made (nil without glibc): two at most once the shim has loaded.
    public static var mallocArenas: Int? {
        let n = qt_malloc_arenas()
        return n < 0 ? nil : Int(n)
    }

    /// Sets the thread count to the number of cores (or `QUADRAT_THREADS`).
    public static func useAllCores() {
        if let text = getenvString("QUADRAT_THREADS"), let n = Int(text), n > 0 {
            threads = n
        } else {
            threads = sysconfCores()
        }
    }

    /// Seeds libtorch's global generator (rand, randn, dropout, randperm).
    public static func manualSeed(_ seed: UInt64) { qt_manual_seed(seed) }

    public static var isGradEnabled: Bool {
        get { qt_grad_enabled() != 0 }
        set { qt_set_grad_enabled(newValue ? 1 : 0) }
    }

    /// Runs `body` with gradient recording off (like `torch.no_grad()`).
    public static func withoutGrad<R>(_ body: () throws -> R) rethrows -> R {
        let previous = isGradEnabled
        isGradEnabled = false
        defer { isGradEnabled = previous }
        return try body()
    }

    /// Runs `body` with autocast on the default device: convolutions and matrix products in `dtype` (by default
    /// ``autocastType``: bfloat16, or float16 on an older GPU), parameters and their gradients in float32
    /// (`torch.autocast`).
    /// Scopes nest: an inner scope restores the outer one's state, and libtorch's cast cache is cleared
    /// when the outermost ends.
    public static func withAutocast<R>(_ dtype: DType? = nil, _ body: () throws -> R) throws -> R {
        var previousEnabled: Int32 = 0, previousDType: Int32 = 0
        if qt_autocast_enter((dtype ?? autocastType).code, &previousEnabled, &previousDType) != 0 {
            throw TorchError.last()
        }
        defer {
            // Exit cannot fail for the state enter saved; a failure would be a shim bug, not the body's error.
            if qt_autocast_exit(previousEnabled, previousDType) != 0 { qt_clear_error() }
        }
        return try body()
    }

    /// Whether autocast is on for the default device here (inside ``withAutocast(_:_:)``).
    public static var isAutocastEnabled: Bool { qt_autocast_enabled() != 0 }

    /// Runs `body` with autocast off on the default device (inside a ``withAutocast(_:_:)`` scope too): for work that
    /// must compute in float32 whatever the caller asked, such as an INT8 network's float32 layers.
    public static func withoutAutocast<R>(_ body: () throws -> R) throws -> R {
        let previous = qt_autocast_set_enabled(0)
        guard previous >= 0 else { throw TorchError.last() }
        defer {
            // Setting back the state just read cannot fail; a failure would be a shim bug, not the body's error.
            if qt_autocast_set_enabled(previous) < 0 { qt_clear_error() }
        }
        return try body()
    }

    /// Runs `body` in inference mode: faster than no-grad, but its tensors can never
    /// take part in autograd later. Only for pure prediction.
    public static func inferenceMode<R>(_ body: () throws -> R) throws -> R {
        guard let guardHandle = qt_inference_mode_enter() else { throw TorchError.last() }
        defer { qt_inference_mode_exit(guardHandle) }
        return try body()
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

func getenvString(_ name: String) -> String? {
    getenv(name).map { String(cString: $0) }
}

func sysconfCores() -> Int {
    max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
}
