import Foundation
import Yams

/// What a config file may hold, checked on its text before a YAML or JSON parser sees it: a parser given 100,000
/// nested sequences overflowed the stack, and ten levels of nine aliases (1 KB of YAML) expanded past 19 GB.
/// Options nest two levels (`recipe.headRate`); these limits leave room for any real config and none for a bomb.
enum ConfigLimits {
    static let maximumBytes = 256 * 1024
    static let maximumDepth = 32

    /// Refuses a config larger than ``maximumBytes``, nesting deeper than ``maximumDepth`` (flow brackets, block
    /// indentation and sequence dashes together), or using YAML anchors and aliases (`&name`, `*name`).
    static func check(_ bytes: Data, yaml: Bool) throws {
        guard bytes.count <= maximumBytes else {
            throw WorkflowError("is \(bytes.count) bytes; a config file may hold at most \(maximumBytes)")
        }
        var scanner = Scanner(yaml: yaml)
        for (number, line) in String(decoding: bytes, as: UTF8.self).split(
            separator: "\n", omittingEmptySubsequences: false
        )
        .enumerated() {
            try scanner.scan(Substring(line), line: number + 1)
        }
    }

    /// A composed YAML document as JSON-like values (dictionaries with string keys, arrays, numbers, booleans,
    /// strings, NSNull), built here rather than by Yams' constructor, which traps on a key that is not a string
    /// (`? - 9` made it force-unwrap nil; found by FuzzConfig). Depth is bounded by ``check(_:yaml:)`` first.
    static func plainValue(_ node: Node?) throws -> Any? {
        guard let node else { return nil }
        switch node {
        case .scalar(let scalar):
            // A quoted scalar is a string; a plain one is null, a boolean or a number when it reads as one (YAML's
            // core resolution, as Yams would resolve it).
            guard scalar.style == .plain else { return scalar.string }
            if let null = node.null { return null }
            if let bool = node.bool { return bool }
            return number(scalar.string) ?? scalar.string
        case .mapping(let mapping):
            var object: [String: Any] = [:]
            for (key, value) in mapping {
                guard case .scalar(let scalar) = key else {
                    let line = key.mark.map { "line \($0.line): " } ?? ""
                    throw WorkflowError("\(line)a key must be a plain name, not a list or a mapping")
                }
                object[scalar.string] = try plainValue(value) ?? NSNull()
            }
            return object
        case .sequence(let sequence):
            return try sequence.map { try plainValue($0) ?? NSNull() }
        }
    }

    /// A plain scalar as a number: decimal integers and decimal or exponent floats, parsed here (Yams' own
    /// integer constructor overflowed and trapped on sexagesimal text such as `7:777777777777777`; found by
    /// FuzzConfig). An integer too large for Int is a Double.
    static func number(_ text: String) -> Any? {
        let digits = text.drop { $0 == "-" || $0 == "+" }
        guard text.count - digits.count <= 1, !digits.isEmpty,
            digits.allSatisfy({ $0.isASCII && ($0.isNumber || ".eE+-".contains($0)) }),
            digits.first.map({ $0.isNumber || $0 == "." }) == true
        else { return nil }
        if digits.allSatisfy(\.isNumber) { return Int(text) ?? Double(text) }
        return Double(text)
    }

    /// Reads the text line by line, outside quotes and comments.
    struct Scanner {
        let yaml: Bool
        var flowDepth = 0
        var indents: [Int] = []
        var quote: Character?

        init(yaml: Bool) { self.yaml = yaml }

        mutating func scan(_ line: Substring, line number: Int) throws {
            var blockDepth = 0
            if yaml, flowDepth == 0, quote == nil {
                let indent = line.prefix { $0 == " " }.count
                let rest = line.dropFirst(indent)
                if !rest.isEmpty, !rest.hasPrefix("#") {
                    while let last = indents.last, last >= indent { indents.removeLast() }
                    indents.append(indent)
                    // "- - - x": each dash opens a sequence inside the last.
                    var dashes = rest[...]
                    while dashes.hasPrefix("- ") || dashes == "-" {
                        blockDepth += 1
                        dashes = dashes.dropFirst(2).drop { $0 == " " }
                    }
                }
            }
            // Quotes, anchors and aliases count only where a YAML node starts (line start, after "[", "{", ",", or
            // after ":", "-", "?" and a space): "it's" and "cats & dogs" are plain text, not a quote or an anchor.
            var previous: Character = " "
            var escaped = false
            var atNodeStart = true, afterIndicator = false
            for c in line {
                defer { previous = c }
                if let open = quote {
                    if escaped {
                        escaped = false
                    } else if c == "\\" && open == "\"" {
                        escaped = true
                    } else if c == open {
                        quote = nil
                        atNodeStart = false
                    }
                    continue
                }
                if c == " " || c == "\t" {
                    if afterIndicator { (atNodeStart, afterIndicator) = (true, false) }
                    continue
                }
                afterIndicator = false
                switch c {
                case "\"" where !yaml || atNodeStart, "'" where yaml && atNodeStart: quote = c
                case "#" where yaml && (previous == " " || previous == "\t"): return try limit(blockDepth, number)
                case "[", "{":
                    flowDepth += 1
                    atNodeStart = true
                case ",": atNodeStart = true
                case "]", "}":
                    flowDepth = max(0, flowDepth - 1)
                    atNodeStart = false
                case ":", "-", "?":
                    (afterIndicator, atNodeStart) = (true, false)
                case "&" where yaml && atNodeStart, "*" where yaml && atNodeStart:
                    throw WorkflowError(
                        "line \(number): YAML anchors and aliases (& and *) are not accepted in a config file; "
                            + "quote a value that starts with one")
                default: atNodeStart = false
                }
                try limit(blockDepth, number)
            }
            try limit(blockDepth, number)
        }

        func limit(_ blockDepth: Int, _ number: Int) throws {
            guard indents.count + blockDepth + flowDepth <= ConfigLimits.maximumDepth else {
                throw WorkflowError(
                    "line \(number): nests more than \(ConfigLimits.maximumDepth) levels deep (options nest two)")
            }
        }
    }
}
