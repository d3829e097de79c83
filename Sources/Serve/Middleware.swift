import Foundation
import Hummingbird

/// The server's routes by template, and the template a request path is for, however it is spelt (case, repeated or
/// trailing slashes, percent escapes, `/./`): authentication must cover every spelling the router would still
/// match, and metrics must label by template, never by the raw path (random 404 paths would grow the label set
/// without bound).
enum Routes {
    static let open: Set<String> = ["/healthz"]
    static let protected: Set<String> = ["/", "/metrics", "/v1/model", "/v1/predict", "/v1/predict/batch"]

    /// "/v1/model" for "//V1/model/", "/examples/:name" for any photo under /examples, nil for an unknown path.
    static func template(_ path: String) -> String? {
        let decoded = (path.removingPercentEncoding ?? path).lowercased()
        let parts = decoded.split(separator: "/").filter { !$0.isEmpty && $0 != "." }
        if parts.first == "examples" { return "/examples/:name" }
        let route = "/" + parts.joined(separator: "/")
        return open.contains(route) || protected.contains(route) ? route : nil
    }
}

/// Requires `Authorization: Bearer TOKEN` (or `?token=TOKEN`, for the page in a browser) on every path `protects`
/// says (by default every route but the open ones of ``Routes``); compares in constant time, so the answer's timing
/// does not tell how much of a guess was right. An unknown path goes on to the router, which answers 404 (not 401).
struct BearerTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: String?
    var protects: @Sendable (String) -> Bool = { path in
        Routes.template(path).map { !Routes.open.contains($0) } ?? false
    }

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        guard let token, protects(request.uri.path) else {
            return try await next(request, context)
        }
        let header = request.headers[.authorization] ?? ""
        // The scheme is case-insensitive (RFC 7235): "bearer", "BEARER" and "Bearer" alike.
        let offered =
            header.prefix(7).lowercased() == "bearer "
            ? String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
            : request.uri.queryParameters["token"].map(String.init)
        guard let offered, constantTimeEqual(offered, token) else {
            var response = try json(ErrorAnswer(error: "a bearer token is required", file: nil), status: .unauthorized)
            response.headers[.wwwAuthenticate] = "Bearer"
            return response
        }
        return try await next(request, context)
    }
}

/// Counts requests by route and status and times them, for `/metrics`.
struct MetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServeMetrics

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        let start = Date()
        let route = Routes.template(request.uri.path) ?? "unmatched"
        do {
            let response = try await next(request, context)
            metrics.request(route: route, status: Int(response.status.code), seconds: Date().timeIntervalSince(start))
            return response
        } catch {
            // Every failure is counted: an HTTPError with its status, anything else as the 500 it becomes.
            let status = (error as? HTTPError).map { Int($0.status.code) } ?? 500
            metrics.request(route: route, status: status, seconds: Date().timeIntervalSince(start))
            throw error
        }
    }
}

/// Equal strings, compared over every byte whatever the first difference (so timing does not reveal a prefix).
func constantTimeEqual(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8), y = Array(b.utf8)
    var difference = UInt8(truncatingIfNeeded: x.count ^ y.count)
    for i in 0..<max(x.count, y.count) {
        difference |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
    }
    return difference == 0 && x.count == y.count
}
