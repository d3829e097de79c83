import Foundation

/// A small CSV reader (RFC 4180 quoting; comma, semicolon, tab or whitespace separated).
public struct CSVTable: Sendable {
    public var header: [String]
    /// Rows with their 1-based line numbers in the file.
    public var rows: [(line: Int, fields: [String])]

    public init(url: URL) throws {
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw DataProblem(.badCSV, path: url.path, "cannot be read as UTF-8 text")
        }
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            .map { $0.hasSuffix("\r") ? String($0.dropLast()) : String($0) }
        guard let first = lines.first(where: { !$0.trimmingCharacters(in: .whitespaces).isEmpty }) else {
            throw DataProblem(.badCSV, path: url.path, "is empty: expected a header line and one row per image")
        }
        let separator = Self.separator(for: first)
        header = Self.fields(first, separator)
        rows = []
        var seenHeader = false
        for (i, line) in lines.enumerated() where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            if !seenHeader {
                seenHeader = true
                continue
            }
            rows.append((i + 1, Self.fields(line, separator)))
        }
    }

    /// One CSV row as RFC 4180 writes it: fields with a comma, a quote or a line break are quoted, quotes doubled.
    public static func row(_ fields: [String]) -> String {
        fields.map { field in
            guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
            return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }.joined(separator: ",")
    }

    static func separator(for header: String) -> Character? {
        for c in [",", ";", "\t"] as [Character] where header.contains(c) { return c }
        return nil  // whitespace
    }

    static func fields(_ line: String, _ separator: Character?) -> [String] {
        guard let separator else { return line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init) }
        var out: [String] = [], field = "", quoted = false
        var iterator = Array(line).makeIterator()
        while let c = iterator.next() {
            if quoted {
                if c == "\"" {
                    // A doubled quote is a literal quote; a single one ends the quoted part.
                    if let next = iterator.next() {
                        if next == "\"" {
                            field.append("\"")
                        } else {
                            quoted = false
                            if next == separator {
                                out.append(field)
                                field = ""
                            } else {
                                field.append(next)
                            }
                        }
                    } else {
                        quoted = false
                    }
                } else {
                    field.append(c)
                }
            } else if c == "\"" {
                quoted = true
            } else if c == separator {
                out.append(field)
                field = ""
            } else {
                field.append(c)
            }
        }
        out.append(field)
        return out.map { $0.trimmingCharacters(in: .whitespaces) }
    }
}
