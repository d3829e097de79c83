import Foundation

/// A plain HTTP/1.1 client for the server tests: one request per connection over a loopback socket, so tests
/// send real requests without an HTTP client library (HummingbirdTesting would bring AsyncHTTPClient and
/// BoringSSL into every CI build).
public struct LoopbackHTTP: Sendable {
    public let port: Int

    public init(port: Int) { self.port = port }

    public struct Response: Sendable {
        public var status: Int
        public var headers: [String: String]
        public var body: [UInt8]
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// ``request(_:_:headers:body:)`` on a thread of its own: the blocking socket must not hold one of Swift
    /// concurrency's few threads, which the server's handlers need.
    public func send(
        _ method: String, _ path: String, headers: [String: String] = [:], body: [UInt8] = []
    ) async throws -> Response {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try request(method, path, headers: headers, body: body) })
            }
        }
    }

    /// Sends one request and reads the whole response (the server closes the connection after it).
    public func request(
        _ method: String, _ path: String, headers: [String: String] = [:], body: [UInt8] = []
    ) throws -> Response {
        let fd = try connected()
        defer { close(fd) }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        head += "Content-Length: \(body.count)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        let message = Array((head + "\r\n").utf8) + body
        var sent = 0
        while sent < message.count {
            let n = message[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { throw HTTPTestError("send: \(String(cString: strerror(errno)))") }
            sent += n
        }
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            received += chunk[0..<n]
        }
        return try Self.parse(received)
    }

    /// A socket connected to the server (the caller closes it).
    public func connected() throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HTTPTestError("socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard status == 0 else {
            close(fd)
            throw HTTPTestError("connect: \(String(cString: strerror(errno)))")
        }
        return fd
    }

    /// Status line, headers (names lowercased) and body; a chunked body is joined.
    public static func parse(_ bytes: [UInt8]) throws -> Response {
        let separator = Array("\r\n\r\n".utf8)
        guard
            let end = (0...max(0, bytes.count - 4)).first(where: {
                bytes[$0..<min($0 + 4, bytes.count)].elementsEqual(separator)
            })
        else { throw HTTPTestError("no response head in \(bytes.count) bytes") }
        let lines = String(decoding: bytes[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        guard let statusLine = lines.first, let status = Int(statusLine.split(separator: " ").dropFirst().first ?? "")
        else { throw HTTPTestError("bad status line") }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces)
        }
        var body = Array(bytes[(end + 4)...])
        if headers["transfer-encoding"] == "chunked" {
            var joined: [UInt8] = [], position = 0
            while let lineEnd = (position..<max(position, body.count - 1)).first(where: {
                body[$0] == 13 && body[$0 + 1] == 10
            }),
                let size = Int(String(decoding: body[position..<lineEnd], as: UTF8.self), radix: 16), size > 0
            {
                joined += body[(lineEnd + 2)..<min(lineEnd + 2 + size, body.count)]
                position = lineEnd + 2 + size + 2
            }
            body = joined
        }
        return Response(status: status, headers: headers, body: body)
    }
}

struct HTTPTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
