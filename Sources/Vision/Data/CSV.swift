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
        let firstLine = text.unicodeScalars.split(whereSeparator: { $0 == "\n" || $0 == "\r" })
            .first { !Self.isBlank($0) }
        guard let firstLine else {
            throw DataProblem(.badCSV, path: url.path, "is empty: expected a header line and one row per image")
        }
        let records = Self.records(text, separator: Self.separator(for: String(String.UnicodeScalarView(firstLine))))
        header = records.first?.fields ?? []
        rows = Array(records.dropFirst())
    }

    /// One CSV row as RFC 4180 writes it: fields with a comma, a quote or a line break are quoted, quotes doubled.
    public static func row(_ fields: [String]) -> String {
        fields.map { field in
            // Scalars, as the reader sees them: "," followed by a combining mark is one Character but still a comma.
            let special = field.unicodeScalars.contains { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }
            guard special else { return field }
            // Doubled scalar by scalar too: `"` followed by a combining mark is one Character (found by the fuzzer).
            var quoted = String.UnicodeScalarView()
            for scalar in field.unicodeScalars {
                quoted.append(scalar)
                if scalar == "\"" { quoted.append(scalar) }
            }
            return "\"" + String(quoted) + "\""
        }.joined(separator: ",")
    }

    static func separator(for header: String) -> Character? {
        for c in [",", ";", "\t"] as [Character] where header.contains(c) { return c }
        return nil  // whitespace
    }

    static func isBlank(_ line: Substring.UnicodeScalarView) -> Bool { line.allSatisfy { $0 == " " || $0 == "\t" } }

    /// The non-blank records of `text` with the line each starts on. Without a separator, fields are runs of
    /// anything but spaces and tabs, and there is no quoting.
    ///
    /// The text is read as Unicode scalars, not characters: a combining mark right after a comma forms one
    /// character with it, and must not hide the comma (found by fuzzing). Line breaks are LF, CRLF or CR.
    static func records(_ text: String, separator: Character?) -> [(line: Int, fields: [String])] {
        let comma = separator?.unicodeScalars.first
        var records: [(line: Int, fields: [String])] = []
        var fields: [String] = [], field = String.UnicodeScalarView(), quoted = false, afterQuote = false
        var blank = true, line = 1, start = 1, previous: Unicode.Scalar = "\n"
        func endField() {
            if comma != nil || !field.isEmpty {
                fields.append(String(field).trimmingCharacters(in: .whitespaces))
            }
            field = String.UnicodeScalarView()
            afterQuote = false
        }
        func endRecord() {
            endField()
            if !blank { records.append((start, fields)) }
            fields = []
            blank = true
        }
        for c in text.unicodeScalars {
            defer { previous = c }
            let lineBreak = c == "\n" || c == "\r"
            if lineBreak, !(c == "\n" && previous == "\r") { line += 1 }
            if quoted {
                if c == "\"" {
                    quoted = false
                    afterQuote = true
                } else {
                    field.append(c)
                }
                continue
            }
            if c == "\"", comma != nil {
                // A quote right after a closing quote is a literal (doubled) quote; elsewhere it opens quoting.
                if afterQuote { field.append("\"") }
                quoted = true
                blank = false
            } else if c == comma || (comma == nil && (c == " " || c == "\t")) {
                endField()
                if comma != nil { blank = false }
            } else if lineBreak {
                if !(c == "\n" && previous == "\r") { endRecord() }
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
