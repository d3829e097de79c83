import Foundation

/// Reads PyTorch checkpoints (`torch.save` of a state dict) without Python:
/// the zip format (PyTorch ≥ 1.6) and the legacy format (magic number, protocol,
/// system info, the pickled object, storage keys, then raw storages).
/// Storage offsets and strides are honoured, so non-contiguous views (such as the
/// HWIO-ordered weights of the EfficientNet-Lite checkpoints) come out right.
public enum Checkpoint {
    /// The state dict in `url`: parameter name → tensor (contiguous, dtype as stored).
    public static func load(_ url: URL) throws -> [String: Tensor] {
        let bytes: [UInt8]
        do {
            bytes = [UInt8](try Data(contentsOf: url, options: .alwaysMapped))
        } catch {
            throw WeightsError(url, "cannot be read (\(error.localizedDescription))")
        }
        return try load(bytes, source: url)
    }

    /// The state dict in a checkpoint's bytes; `source` names the file in errors.
    public static func load(_ bytes: [UInt8], source url: URL) throws -> [String: Tensor] {
        let (root, storages) =
            ZipArchive.isZip(bytes)
            ? try loadZip(bytes, url: url) : try loadLegacy(bytes, url: url)
        return try stateDict(from: root, storages: storages, url: url)
    }

    /// A storage's raw bytes, keyed by its storage key.
    typealias Storages = [String: ArraySlice<UInt8>]

    static func persistentLoad(_ pid: PickleValue, source: String) throws -> PickleValue {
        guard let items = pid.asTuple, items.count >= 5, items[0].asString == "storage",
            case .global(_, let typeName) = items[1], let dtype = Unpickler.storageTypes[typeName],
            let key = items[2].asString, let count = items[4].asInt
        else { throw PickleError(source: source, offset: 0, message: "unexpected persistent id \(pid)") }
        var reference = StorageReference(key: key, dtype: dtype, count: count)
        // Legacy storage views: (view_key, offset, view_size) in the sixth field.
        if items.count >= 6, let view = items[5].asTuple, view.count == 3, let offset = view[1].asInt,
            let size = view[2].asInt
        {
            reference = StorageReference(key: key, dtype: dtype, count: size, viewOffset: offset)
        }
        return .storage(reference)
    }

    static func loadZip(_ bytes: [UInt8], url: URL) throws -> (PickleValue, Storages) {
        let archive = try ZipArchive(bytes: bytes, source: url.path)
        guard let pickleEntry = archive.entries.values.first(where: { $0.name.hasSuffix("/data.pkl") }) else {
            throw WeightsError(url, "is a zip file without data.pkl: not a PyTorch checkpoint")
        }
        let prefix = String(pickleEntry.name.dropLast("data.pkl".count))
        var unpickler = Unpickler(bytes: Array(bytes[pickleEntry.dataRange]), source: url.path)
        let root = try unpickler.load { try persistentLoad($0, source: url.path) }
        var storages: Storages = [:]
        for (name, entry) in archive.entries where name.hasPrefix(prefix + "data/") {
            storages[String(name.dropFirst(prefix.count + 5))] = bytes[entry.dataRange]
        }
        return (root, storages)
    }

    static func loadLegacy(_ bytes: [UInt8], url: URL) throws -> (PickleValue, Storages) {
        guard bytes.count > 2, bytes[0] == 0x80 else {
            throw WeightsError(
                url,
                "is neither a zip nor a legacy PyTorch checkpoint (first byte 0x\(String(bytes.first ?? 0, radix: 16)))"
            )
        }
        var position = 0
        func next(_ persistent: ((PickleValue) throws -> PickleValue)? = nil) throws -> PickleValue {
            var unpickler = Unpickler(bytes: bytes, at: position, source: url.path)
            let value = try unpickler.load { pid in
                guard let persistent else {
                    throw PickleError(source: url.path, offset: 0, message: "unexpected persistent id")
                }
                return try persistent(pid)
            }
            position = unpickler.end
            return value
        }
        // The magic number 0x1950a86a20f9469cfc6c does not fit 64 bits: the LONG1 decoder refuses it,
        // so compare its raw bytes instead.
        let magicPickle: [UInt8] = [
            0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E,
        ]
        guard bytes.count > magicPickle.count, Array(bytes[0..<magicPickle.count]) == magicPickle else {
            throw WeightsError(url, "does not start with PyTorch's legacy magic number")
        }
        position = magicPickle.count
        guard case .int(let protocolVersion) = try next(), protocolVersion == 1001 else {
            throw WeightsError(url, "has an unknown legacy protocol version")
        }
        _ = try next()  // system info: little-endian, type sizes
        let root = try next { try persistentLoad($0, source: url.path) }
        guard case .list(let keyList) = try next() else { throw WeightsError(url, "has no storage key list") }
        var storages: Storages = [:]
        var sizes: [String: Int] = [:]
        collectStorageSizes(root, into: &sizes)
        for keyValue in keyList.items {
            guard let key = keyValue.asString else { throw WeightsError(url, "has a storage key that is not a string") }
            guard position + 8 <= bytes.count else { throw WeightsError(url, "ends before storage \(key)") }
            var count: UInt64 = 0
            for i in 0..<8 { count |= UInt64(bytes[position + i]) << (8 * UInt64(i)) }
            position += 8
            // The element count is the file's word: checked against what is left before it is multiplied.
            let elementSize = sizes[key] ?? 4
            guard count <= UInt64((bytes.count - position) / elementSize) else {
                throw WeightsError(url, "is truncated inside storage \(key) (it claims \(count) elements)")
            }
            let length = Int(count) * elementSize
            storages[key] = bytes[position..<(position + length)]
            position += length
        }
        return (root, storages)
    }

    /// How deep the walks below go into nested containers. A pickle can make a list that contains itself
    /// (through the memo); a state dict is never more than a few levels deep.
    static let maxNesting = 32

    /// Element sizes of the storages a value refers to.
    static func collectStorageSizes(_ value: PickleValue, into sizes: inout [String: Int], depth: Int = 0) {
        guard depth < maxNesting else { return }
        switch value {
        case .tensor(let t): sizes[t.storage.key] = t.storage.dtype.size
        case .dict(let d): for item in d.items { collectStorageSizes(item.value, into: &sizes, depth: depth + 1) }
        case .list(let l): for item in l.items { collectStorageSizes(item, into: &sizes, depth: depth + 1) }
        case .tuple(let items): for item in items { collectStorageSizes(item, into: &sizes, depth: depth + 1) }
        default: break
        }
    }

    /// Finds the state dict in the unpickled object: the object itself when it maps names to tensors,
    /// else its `state_dict` or `model` entry.
    static func stateDict(
        from root: PickleValue, storages: Storages, url: URL, depth: Int = 0
    ) throws -> [String: Tensor] {
        guard depth < maxNesting else { throw WeightsError(url, "nests its state dict too deeply") }
        guard case .dict(let dict) = root else {
            throw WeightsError(
                url, "does not hold a dictionary (a whole pickled model is not supported; save its state_dict)")
        }
        let tensorEntries = dict.items.filter { if case .tensor = $0.value { return true } else { return false } }
        if tensorEntries.isEmpty {
            for wrapper in ["state_dict", "model"] {
                if let inner = dict.items.first(where: { $0.key.asString == wrapper })?.value, case .dict = inner {
                    return try stateDict(from: inner, storages: storages, url: url, depth: depth + 1)
                }
            }
            throw WeightsError(url, "holds no tensors")
        }
        var out: [String: Tensor] = [:]
        for (key, value) in tensorEntries {
            guard let name = key.asString, case .tensor(let ref) = value else { continue }
            out[name] = try tensor(ref, storages: storages, name: name, url: url)
        }
        return out
    }

    static func tensor(_ ref: TensorReference, storages: Storages, name: String, url: URL) throws -> Tensor {
        guard let storage = storages[ref.storage.key] else {
            throw WeightsError(url, "entry '\(name)' refers to storage \(ref.storage.key), which is missing")
        }
        let elementSize = ref.storage.dtype.size
        // Offsets come from the pickle: negative or overflowing ones are refused before they index.
        let elements = ref.storage.viewOffset.addingReportingOverflow(ref.offset)
        guard ref.storage.viewOffset >= 0, ref.offset >= 0, !elements.overflow,
            elements.partialValue <= storage.count / elementSize
        else {
            throw WeightsError(
                url, "entry '\(name)' starts at element \(ref.storage.viewOffset) + \(ref.offset), outside its storage")
        }
        let start = storage.startIndex + elements.partialValue * elementSize
        do {
            return try storage[start...].withUnsafeBytes { raw in
                try Tensor.copying(bytes: raw, dtype: ref.storage.dtype, shape: ref.shape, strides: ref.strides)
            }
        } catch let error as TorchError {
            throw WeightsError(url, "entry '\(name)': \(error.message)")
        }
    }
}
