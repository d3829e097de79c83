import Foundation

/// A small CSV reader (RFC 4180 quoting; comma, semicolon, tab or whitespace separated).
///
/// Quoted fields may hold separators, doubled quotes and line breaks, so everything ``row(_:)`` writes reads back.
/// Blank lines are skipped; fields are trimmed of surrounding spaces.
public struct CSVTable: Sendable {
    public var header: [String]
    /// Rows with the 1-based line number in the file where each starts.
    public var rows: [(line: Int, fields: [String])]

    public init(url: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw DataProblem(.badCSV, path: url.path, "cannot be read (\(error.localizedDescription))")
        }
        try self.init(data: data, source: url)
    }

    /// Parses a CSV file's bytes; `source` names the file in errors.
    public init(data: Data, source url: URL) throws {
        guard var text = String(data: data, encoding: .utf8) else {
            throw DataProblem(.badCSV, path: url.path, "cannot be read as UTF-8 text")
        }
        if text.first == "\u{FEFF}" { text.removeFirst() }  // the byte-order mark spreadsheets write
        let firstLine = text.split(whereSeparator: \.isNewline).first { !Self.isBlank($0) }
        guard let firstLine else {
            throw DataProblem(.badCSV, path: url.path, "is empty: expected a header line and one row per image")
        }
        let records = Self.records(text, separator: Self.separator(for: String(firstLine)))
        header = records.first?.fields ?? []
        rows = Array(records.dropFirst())
    }

    /// One CSV row as RFC 4180 writes it: fields with a comma, a quote or a line break are quoted, quotes doubled.
    public static func row(_ fields: [String]) -> String {
        fields.map { field in
            guard field.contains(where: { $0 == "," || $0 == "\"" || $0.isNewline }) else { return field }
            return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }.joined(separator: ",")
    }

    static func separator(for header: String) -> Character? {
        for c in [",", ";", "\t"] as [Character] where header.contains(c) { return c }
        return nil  // whitespace
    }

    static func isBlank(_ line: Substring) -> Bool { line.allSatisfy { $0 == " " || $0 == "\t" } }

    /// The non-blank records of `text` with the line each starts on. Without a separator, fields are split on
    /// spaces and tabs and there is no quoting.
    static func records(_ text: String, separator: Character?) -> [(line: Int, fields: [String])] {
        guard let separator else {
            return text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated()
                .filter { !isBlank($0.element) }
                .map { ($0.offset + 1, $0.element.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)) }
        }
        var records: [(line: Int, fields: [String])] = []
        var fields: [String] = [], field = "", quoted = false, afterQuote = false, blank = true
        var line = 1, start = 1
        func endField() {
            fields.append(field.trimmingCharacters(in: .whitespaces))
            field = ""
            afterQuote = false
        }
        func endRecord() {
            endField()
            if !blank { records.append((start, fields)) }
            fields = []
            blank = true
        }
        // "\r\n" is one Character in Swift, so a line break is always one step here.
        for c in text {
            if c.isNewline { line += 1 }
            if quoted {
                if c == "\"" {
                    quoted = false
                    afterQuote = true
                } else {
                    field.append(c)
                }
                continue
            }
            if c == "\"" {
                // A quote right after a closing quote is a literal (doubled) quote; elsewhere it opens quoting.
                if afterQuote { field.append("\"") }
                quoted = true
                blank = false
            } else if c == separator {
                endField()
                blank = false
            } else if c.isNewline {
                endRecord()
                start = line
            } else {
                if c != " " && c != "\t" { blank = false }
                field.append(c)
            }
            afterQuote = false
        }
        endRecord()
        return records
    }
}
