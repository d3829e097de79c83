import Foundation

/// A minimal multipart/form-data reader (RFC 7578): the parts of a browser's or curl's file upload.
public enum Multipart {
    public struct Part: Equatable, Sendable {
        /// The form field's name.
        public var name: String
        /// The uploaded file's name, if the part is a file.
        public var filename: String?
        public var body: [UInt8]

        public init(name: String, filename: String?, body: [UInt8]) {
            (self.name, self.filename, self.body) = (name, filename, body)
        }
    }

    /// The boundary named in a `Content-Type: multipart/form-data; boundary=…` header, or nil.
    public static func boundary(contentType: String) -> String? {
        guard contentType.lowercased().hasPrefix("multipart/form-data") else { return nil }
        for parameter in contentType.split(separator: ";").dropFirst() {
            let pair = parameter.trimmingCharacters(in: .whitespaces)
            guard pair.lowercased().hasPrefix("boundary=") else { continue }
            var value = String(pair.dropFirst("boundary=".count))
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 {
                value = String(value.dropFirst().dropLast())
            }
            return value.isEmpty || value.utf8.count > 200 ? nil : value
        }
        return nil
    }

    /// The parts of `body`; throws when the body does not follow the format.
    public static func parts(_ body: [UInt8], boundary: String) throws -> [Part] {
        let delimiter = Array("--\(boundary)".utf8)
        let separator = Array("\r\n".utf8) + delimiter
        guard var position = find(delimiter, in: body, from: 0) else { throw MultipartError("no boundary in the body") }
        position += delimiter.count
        var parts: [Part] = []
        while true {
            // After a delimiter: "--" ends the body; otherwise a line break, then the part's headers.
            if body.count - position >= 2, body[position] == 0x2D, body[position + 1] == 0x2D { return parts }
            guard body.count - position >= 2, body[position] == 0x0D, body[position + 1] == 0x0A else {
                throw MultipartError("a boundary is not followed by a line break")
            }
            position += 2
            guard let headerEnd = find(Array("\r\n\r\n".utf8), in: body, from: position) else {
                throw MultipartError("a part's headers do not end")
            }
            let headers = String(decoding: body[position..<headerEnd], as: UTF8.self)
            let start = headerEnd + 4
            guard let end = find(separator, in: body, from: start) else { throw MultipartError("a part does not end") }
            let (name, filename) = disposition(headers)
            parts.append(Part(name: name ?? "", filename: filename, body: Array(body[start..<end])))
            guard parts.count <= 1000 else { throw MultipartError("more than 1000 parts") }
            position = end + separator.count
        }
    }

    /// `name` and `filename` from a part's Content-Disposition header.
    static func disposition(_ headers: String) -> (name: String?, filename: String?) {
        var name: String?, filename: String?
        for line in headers.split(separator: "\r\n") where line.lowercased().hasPrefix("content-disposition:") {
            for parameter in line.split(separator: ";").dropFirst() {
                let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard pair.count == 2 else { continue }
                var value = pair[1]
                if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 {
                    value = String(value.dropFirst().dropLast())
                }
                if pair[0].lowercased() == "name" { name = value }
                if pair[0].lowercased() == "filename" { filename = value }
            }
        }
        return (name, filename)
    }

    /// The first position of `needle` in `haystack` at or after `from`.
    static func find(_ needle: [UInt8], in haystack: [UInt8], from: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count, from <= haystack.count - needle.count else { return nil }
        let first = needle[0]
        var i = from
        while i <= haystack.count - needle.count {
            if haystack[i] == first, haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}

/// A multipart body that does not follow the format.
public struct MultipartError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = "the multipart body is malformed: \(description)" }
}
