import Foundation

/// A value decoded from a pickle stream. Only what PyTorch state dicts contain.
public indirect enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleValue])
    case list(PickleList)
    case dict(PickleDict)
    /// A class or function reference that passed the allow-list.
    case global(module: String, name: String)
    /// A storage named by a persistent id: (key, dtype, element count, view offset in elements).
    case storage(StorageReference)
    /// A tensor rebuilt from a storage (`torch._utils._rebuild_tensor_v2`).
    case tensor(TensorReference)
    case mark

    var asTuple: [PickleValue]? {
        if case .tuple(let items) = self { return items }
        return nil
    }

    var asInt: Int? {
        if case .int(let v) = self { return v }
        return nil
    }

    var asString: String? {
        if case .string(let v) = self { return v }
        return nil
    }
}

/// A mutable list (pickle's APPENDS mutates lists that may be memoised).
public final class PickleList {
    public var items: [PickleValue] = []
    /// Containers nested in it, itself included (see ``Unpickler``).
    public internal(set) var depth = 1
    /// Put inside another container: no longer changed, so its depth is final.
    var sealed = false
}
/// A mutable, insertion-ordered dictionary.
public final class PickleDict {
    public var items: [(key: PickleValue, value: PickleValue)] = []
    public internal(set) var depth = 1
    var sealed = false
}

/// A storage that a checkpoint refers to by key.
public struct StorageReference: Sendable {
    public var key: String
    public var dtype: DType
    public var count: Int
    /// Element offset of a legacy storage view into its root storage.
    public var viewOffset: Int = 0
}

/// A tensor as a checkpoint describes it: a view of a storage.
public struct TensorReference: Sendable {
    public var storage: StorageReference
    public var offset: Int
    public var shape: [Int]
    public var strides: [Int]
}

/// A restricted unpickler for PyTorch checkpoints.
///
/// It understands the opcodes `torch.save` emits (protocols 2–4) and builds values
/// itself; it never imports or calls anything. Globals outside a short allow-list
/// (`collections.OrderedDict`, tensor rebuild functions, typed storages) are refused
/// with an error, so loading a checkpoint can never run code.
///
/// Containers may nest at most ``maximumDepth`` deep: a few kilobytes of compressed pickle can nest lists or tuples
/// 300,000 deep, and building, walking or freeing that overflows the stack. Each value on the stack carries its
/// depth; a container put inside another is sealed (pickles fill a container before they nest it), so the depths
/// recorded are final and a nest is refused as it grows past the limit, before it is deep enough to hurt.
struct Unpickler {
    /// A value on the stack or in the memo, with the depth of the containers nested in it.
    private struct Entry {
        var value: PickleValue
        var depth: Int
    }

    /// The deepest nest of containers accepted; a state dict nests 3 or 4.
    static let maximumDepth = 100

    private let bytes: [UInt8]
    private var position: Int
    private var stack: [Entry] = []
    private var marks: [Int] = []
    private var memo: [Int: Entry] = [:]
    private let source: String

    /// Storage dtypes by their class name in `torch`.
    static let storageTypes: [String: DType] = [
        "FloatStorage": .float32, "DoubleStorage": .float64, "HalfStorage": .float16, "LongStorage": .int64,
        "IntStorage": .int32, "ByteStorage": .uint8, "BoolStorage": .bool, "BFloat16Storage": .bfloat16,
    ]

    init(bytes: [UInt8], at position: Int = 0, source: String) {
        self.bytes = bytes
        self.position = position
        self.source = source
    }

    /// Where the stream ended (the byte after STOP).
    var end: Int { position }

    private func fail(_ message: String) -> PickleError {
        PickleError(source: source, offset: position, message: message)
    }

    private mutating func read(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, n <= bytes.count - position else { throw fail("unexpected end of data") }
        defer { position += n }
        return bytes[position..<(position + n)]
    }

    private mutating func readByte() throws -> UInt8 { try read(1).first! }

    private mutating func readUInt(_ n: Int) throws -> Int {
        var v = 0
        for (i, b) in try read(n).enumerated() { v |= Int(b) << (8 * i) }
        return v
    }

    private mutating func readLine() throws -> String {
        guard let newline = bytes[position...].firstIndex(of: 0x0A) else { throw fail("unterminated line") }
        let text = String(decoding: bytes[position..<newline], as: UTF8.self)
        position = newline + 1
        return text
    }

    private mutating func pop() throws -> PickleValue { try popEntry().value }

    private mutating func popEntry() throws -> Entry {
        guard let entry = stack.popLast() else { throw fail("stack underflow") }
        return entry
    }

    /// Pops everything above the last MARK, with the depth of the deepest.
    private mutating func popMark() throws -> (items: [PickleValue], depth: Int) {
        guard let m = marks.popLast(), m <= stack.count else { throw fail("MARK missing") }
        let entries = stack[m...]
        stack.removeSubrange(m...)
        return (entries.map(\.value), entries.map(depth(of:)).max() ?? 0)
    }

    private mutating func push(_ value: PickleValue, depth: Int = 0) throws {
        guard depth <= Self.maximumDepth else {
            throw fail("nests containers more than \(Self.maximumDepth) deep (a state dict nests a few)")
        }
        stack.append(Entry(value: value, depth: depth))
    }

    /// An entry's depth: a list's or dict's own (it grows as they are filled), else the one recorded.
    private func depth(of entry: Entry) -> Int {
        switch entry.value {
        case .list(let list): list.depth
        case .dict(let dict): dict.depth
        default: entry.depth
        }
    }

    /// Marks the containers among `values` as nested: changing them afterwards is refused.
    private func seal(_ values: [PickleValue]) {
        for value in values {
            if case .list(let list) = value { list.sealed = true }
            if case .dict(let dict) = value { dict.sealed = true }
        }
    }

    /// Records that the container on top of the stack now holds entries `depth` deep (refused once it is sealed).
    private mutating func deepen(toHold depth: Int) throws {
        guard let top = stack.last else { throw fail("stack underflow") }
        let needed = depth + 1
        switch top.value {
        case .list(let list):
            guard !list.sealed else { throw fail("changes a list after nesting it in another") }
            list.depth = max(list.depth, needed)
        case .dict(let dict):
            guard !dict.sealed else { throw fail("changes a dict after nesting it in another") }
            dict.depth = max(dict.depth, needed)
        default: break
        }
        guard needed <= Self.maximumDepth else {
            throw fail("nests containers more than \(Self.maximumDepth) deep (a state dict nests a few)")
        }
    }

    /// Signed little-endian integer of `n` bytes (LONG1/LONG4).
    private mutating func readLong(_ n: Int) throws -> Int {
        guard n <= 8 else { throw fail("integer of \(n) bytes does not fit in 64 bits") }
        if n == 0 { return 0 }
        let raw = Array(try read(n))
        var v: UInt64 = 0
        for (i, b) in raw.enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
        if n < 8, raw[n - 1] & 0x80 != 0 { v |= ~UInt64(0) << (8 * UInt64(n)) }
        return Int(Int64(bitPattern: v))
    }

    /// Decodes one pickle up to its STOP opcode.
    mutating func load(persistentLoad: (PickleValue) throws -> PickleValue) throws -> PickleValue {
        while true {
            let opcode = try readByte()
            switch opcode {
            case 0x80: _ = try readByte()  // PROTO
            case 0x95: _ = try read(8)  // FRAME
            case 0x2E:  // STOP
                return try pop()
            case 0x28: marks.append(stack.count)  // MARK
            case 0x4E: try push(.none)
            case 0x88: try push(.bool(true))
            case 0x89: try push(.bool(false))
            case 0x4B: try push(.int(try readUInt(1)))  // BININT1
            case 0x4D: try push(.int(try readUInt(2)))  // BININT2
            case 0x4A: try push(.int(Int(Int32(truncatingIfNeeded: try readUInt(4)))))  // BININT
            case 0x8A: try push(.int(try readLong(try readUInt(1))))  // LONG1
            case 0x8B: try push(.int(try readLong(try readUInt(4))))  // LONG4
            case 0x47:  // BINFLOAT, big-endian
                let raw = try read(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                try push(.float(Double(bitPattern: raw)))
            case 0x58: try push(.string(String(decoding: try read(try readUInt(4)), as: UTF8.self)))  // BINUNICODE
            // SHORT_BINUNICODE
            case 0x8C: try push(.string(String(decoding: try read(try readUInt(1)), as: UTF8.self)))
            case 0x8D: try push(.string(String(decoding: try read(try readUInt(8)), as: UTF8.self)))  // BINUNICODE8
            // SHORT_BINSTRING
            case 0x55: try push(.string(String(decoding: try read(try readUInt(1)), as: UTF8.self)))
            case 0x54: try push(.string(String(decoding: try read(try readUInt(4)), as: UTF8.self)))  // BINSTRING
            case 0x43: try push(.bytes(Array(try read(try readUInt(1)))))  // SHORT_BINBYTES
            case 0x42: try push(.bytes(Array(try read(try readUInt(4)))))  // BINBYTES
            case 0x29, 0x85, 0x86, 0x87, 0x74, 0x5D, 0x7D, 0x6C, 0x61, 0x65, 0x73, 0x75:
                try container(opcode)
            case 0x71: memo[try readUInt(1)] = stack.last  // BINPUT
            case 0x72: memo[try readUInt(4)] = stack.last  // LONG_BINPUT
            case 0x94: memo[memo.count] = stack.last  // MEMOIZE
            case 0x68, 0x6A:  // BINGET, LONG_BINGET
                let key = try readUInt(opcode == 0x68 ? 1 : 4)
                guard let entry = memo[key] else { throw fail("memo key \(key) missing") }
                try push(entry.value, depth: depth(of: entry))
            case 0x63:  // GLOBAL
                let module = try readLine(), name = try readLine()
                try push(try global(module, name))
            case 0x93:  // STACK_GLOBAL
                guard let name = try pop().asString, let module = try pop().asString else {
                    throw fail("STACK_GLOBAL needs two strings")
                }
                try push(try global(module, name))
            case 0x52, 0x81:  // REDUCE, NEWOBJ: the result holds at most what its arguments held
                let args = try popEntry(), callable = try pop()
                try push(try reduce(callable, args.value.asTuple ?? []), depth: depth(of: args))
            case 0x62:  // BUILD: state for the object below; a state dict's `_metadata` is not needed
                _ = try pop()
            case 0x51:  // BINPERSID
                try push(try persistentLoad(try pop()))
            default:
                throw fail(String(format: "unsupported pickle opcode 0x%02X", opcode))
            }
        }
    }

    /// The opcodes that build tuples, lists and dicts, each nest's depth recorded (see ``maximumDepth``).
    private mutating func container(_ opcode: UInt8) throws {
        switch opcode {
        case 0x29: try push(.tuple([]), depth: 1)  // EMPTY_TUPLE
        case 0x85, 0x86, 0x87:  // TUPLE1, TUPLE2, TUPLE3
            var entries: [Entry] = []
            for _ in 0..<Int(opcode - 0x84) { entries.insert(try popEntry(), at: 0) }
            try pushTuple(entries.map(\.value), depth: entries.map(depth(of:)).max() ?? 0)
        case 0x74:  // TUPLE
            let (items, depth) = try popMark()
            try pushTuple(items, depth: depth)
        case 0x5D: try push(.list(PickleList()), depth: 1)  // EMPTY_LIST
        case 0x7D: try push(.dict(PickleDict()), depth: 1)  // EMPTY_DICT
        case 0x6C:  // LIST
            let (items, depth) = try popMark()
            seal(items)
            let list = PickleList()
            (list.items, list.depth) = (items, depth + 1)
            try push(.list(list), depth: list.depth)
        case 0x61:  // APPEND
            let item = try popEntry()
            guard case .list(let list) = stack.last?.value else { throw fail("APPEND to a non-list") }
            try deepen(toHold: depth(of: item))
            seal([item.value])
            list.items.append(item.value)
        case 0x65:  // APPENDS
            let (items, depth) = try popMark()
            guard case .list(let list) = stack.last?.value else { throw fail("APPENDS to a non-list") }
            try deepen(toHold: depth)
            seal(items)
            list.items += items
        case 0x73:  // SETITEM
            let value = try popEntry(), key = try popEntry()
            guard case .dict(let dict) = stack.last?.value else { throw fail("SETITEM on a non-dict") }
            try deepen(toHold: max(depth(of: key), depth(of: value)))
            seal([key.value, value.value])
            dict.items.append((key.value, value.value))
        case 0x75:  // SETITEMS
            let (items, depth) = try popMark()
            guard case .dict(let dict) = stack.last?.value, items.count % 2 == 0 else {
                throw fail("SETITEMS on a non-dict")
            }
            try deepen(toHold: depth)
            seal(items)
            for i in stride(from: 0, to: items.count, by: 2) { dict.items.append((items[i], items[i + 1])) }
        default: throw fail(String(format: "opcode 0x%02X is not a container opcode", opcode))
        }
    }

    private mutating func pushTuple(_ items: [PickleValue], depth: Int) throws {
        seal(items)
        try push(.tuple(items), depth: depth + 1)
    }

    private func global(_ module: String, _ name: String) throws -> PickleValue {
        let allowed: Set<String> = [
            "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter",
            "torch._utils._rebuild_tensor", "torch.device",
        ]
        let full = "\(module).\(name)"
        if allowed.contains(full) || (module == "torch" && Self.storageTypes[name] != nil) {
            return .global(module: module, name: name)
        }
        throw PickleError(
            source: source, offset: position,
            message:
                "refers to '\(full)', which a state dict does not need; refusing to load it (a checkpoint must never run code)"
        )
    }

    private func reduce(_ callable: PickleValue, _ args: [PickleValue]) throws -> PickleValue {
        guard case .global(let module, let name) = callable else { throw fail("REDUCE on a non-callable") }
        switch "\(module).\(name)" {
        case "collections.OrderedDict":
            return .dict(PickleDict())
        case "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor":
            guard args.count >= 4, case .storage(let storage) = args[0], let offset = args[1].asInt,
                let shape = args[2].asTuple?.compactMap(\.asInt), let strides = args[3].asTuple?.compactMap(\.asInt)
            else { throw fail("malformed tensor record") }
            return .tensor(TensorReference(storage: storage, offset: offset, shape: shape, strides: strides))
        case "torch._utils._rebuild_parameter":
            guard let tensor = args.first else { throw fail("malformed parameter record") }
            return tensor
        case "torch.device":
            return args.first ?? .none
        default:
            throw fail("'\(module).\(name)' cannot be called here")
        }
    }
}

/// A pickle stream that cannot be decoded (or that asks for something not allowed).
public struct PickleError: Error, CustomStringConvertible, Sendable {
    public let source: String
    public let offset: Int
    public let message: String
    public var description: String { "\(source): \(message) (pickle byte \(offset))" }
}
