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
public final class PickleList { public var items: [PickleValue] = [] }
/// A mutable, insertion-ordered dictionary.
public final class PickleDict { public var items: [(key: PickleValue, value: PickleValue)] = [] }

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
struct Unpickler {
    private let bytes: [UInt8]
    private var position: Int
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]
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

    private mutating func pop() throws -> PickleValue {
        guard let v = stack.popLast() else { throw fail("stack underflow") }
        return v
    }

    /// Pops everything above the last MARK.
    private mutating func popMark() throws -> [PickleValue] {
        guard let m = marks.popLast(), m <= stack.count else { throw fail("MARK missing") }
        let items = Array(stack[m...])
        stack.removeSubrange(m...)
        return items
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
            case 0x4E: stack.append(.none)
            case 0x88: stack.append(.bool(true))
            case 0x89: stack.append(.bool(false))
            case 0x4B: stack.append(.int(try readUInt(1)))  // BININT1
            case 0x4D: stack.append(.int(try readUInt(2)))  // BININT2
            case 0x4A: stack.append(.int(Int(Int32(truncatingIfNeeded: try readUInt(4)))))  // BININT
            case 0x8A: stack.append(.int(try readLong(try readUInt(1))))  // LONG1
            case 0x8B: stack.append(.int(try readLong(try readUInt(4))))  // LONG4
            case 0x47:  // BINFLOAT, big-endian
                let raw = try read(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                stack.append(.float(Double(bitPattern: raw)))
            case 0x58: stack.append(.string(String(decoding: try read(try readUInt(4)), as: UTF8.self)))  // BINUNICODE
            // SHORT_BINUNICODE
            case 0x8C: stack.append(.string(String(decoding: try read(try readUInt(1)), as: UTF8.self)))
            case 0x8D: stack.append(.string(String(decoding: try read(try readUInt(8)), as: UTF8.self)))  // BINUNICODE8
            // SHORT_BINSTRING
            case 0x55: stack.append(.string(String(decoding: try read(try readUInt(1)), as: UTF8.self)))
            case 0x54: stack.append(.string(String(decoding: try read(try readUInt(4)), as: UTF8.self)))  // BINSTRING
            case 0x43: stack.append(.bytes(Array(try read(try readUInt(1)))))  // SHORT_BINBYTES
            case 0x42: stack.append(.bytes(Array(try read(try readUInt(4)))))  // BINBYTES
            case 0x29: stack.append(.tuple([]))  // EMPTY_TUPLE
            case 0x85: stack.append(.tuple([try pop()]))  // TUPLE1
            case 0x86:  // TUPLE2
                let b = try pop(), a = try pop()
                stack.append(.tuple([a, b]))
            case 0x87:  // TUPLE3
                let c = try pop(), b = try pop(), a = try pop()
                stack.append(.tuple([a, b, c]))
            case 0x74: stack.append(.tuple(try popMark()))  // TUPLE
            case 0x5D: stack.append(.list(PickleList()))  // EMPTY_LIST
            case 0x7D: stack.append(.dict(PickleDict()))  // EMPTY_DICT
            case 0x6C:  // LIST
                let list = PickleList()
                list.items = try popMark()
                stack.append(.list(list))
            case 0x61:  // APPEND
                let item = try pop()
                guard case .list(let list) = stack.last else { throw fail("APPEND to a non-list") }
                list.items.append(item)
            case 0x65:  // APPENDS
                let items = try popMark()
                guard case .list(let list) = stack.last else { throw fail("APPENDS to a non-list") }
                list.items += items
            case 0x73:  // SETITEM
                let value = try pop(), key = try pop()
                guard case .dict(let dict) = stack.last else { throw fail("SETITEM on a non-dict") }
                dict.items.append((key, value))
            case 0x75:  // SETITEMS
                let items = try popMark()
                guard case .dict(let dict) = stack.last, items.count % 2 == 0 else {
                    throw fail("SETITEMS on a non-dict")
                }
                for i in stride(from: 0, to: items.count, by: 2) { dict.items.append((items[i], items[i + 1])) }
            case 0x71: memo[try readUInt(1)] = stack.last  // BINPUT
            case 0x72: memo[try readUInt(4)] = stack.last  // LONG_BINPUT
            case 0x94: memo[memo.count] = stack.last  // MEMOIZE
            case 0x68, 0x6A:  // BINGET, LONG_BINGET
                let key = try readUInt(opcode == 0x68 ? 1 : 4)
                guard let v = memo[key] else { throw fail("memo key \(key) missing") }
                stack.append(v)
            case 0x63:  // GLOBAL
                let module = try readLine(), name = try readLine()
                stack.append(try global(module, name))
            case 0x93:  // STACK_GLOBAL
                guard let name = try pop().asString, let module = try pop().asString else {
                    throw fail("STACK_GLOBAL needs two strings")
                }
                stack.append(try global(module, name))
            case 0x52:  // REDUCE
                let args = try pop(), callable = try pop()
                stack.append(try reduce(callable, args.asTuple ?? []))
            case 0x81:  // NEWOBJ
                let args = try pop(), cls = try pop()
                stack.append(try reduce(cls, args.asTuple ?? []))
            case 0x62:  // BUILD: state for the object below; a state dict's `_metadata` is not needed
                _ = try pop()
            case 0x51:  // BINPERSID
                stack.append(try persistentLoad(try pop()))
            default:
                throw fail(String(format: "unsupported pickle opcode 0x%02X", opcode))
            }
        }
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
