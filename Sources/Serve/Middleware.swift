import Foundation
import Hummingbird

/// Requires `Authorization: Bearer TOKEN` (or `?token=TOKEN`, for the page in a browser) on the `protected` routes
/// (and those under `protectedPrefixes`); compares in constant time, so the answer's timing does not tell how much
/// of a guess was right. Other paths go on to the router: `/healthz` answers, an unknown path is 404 (not 401).
/// A path counts as protected however it is spelt (case, repeated or trailing slashes, percent escapes), so that
/// no spelling the router would still match gets past.
struct BearerTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: String?
    /// Routes as "v1/model", without slashes around them; "" is the page.
    let protected: Set<String>
    var protectedPrefixes: [String] = []

    func isProtected(_ path: String) -> Bool {
        let decoded = (path.removingPercentEncoding ?? path).lowercased()
        let parts = decoded.split(separator: "/").filter { !$0.isEmpty && $0 != "." }
        return protected.contains(parts.joined(separator: "/"))
            || parts.first.map { protectedPrefixes.contains(String($0)) } == true
    }

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        guard let token, isProtected(request.uri.path) else { return try await next(request, context) }
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
        let route = request.uri.path.hasPrefix("/examples/") ? "/examples" : request.uri.path
        do {
            let response = try await next(request, context)
            metrics.request(route: route, status: Int(response.status.code), seconds: Date().timeIntervalSince(start))
            return response
        } catch let error as HTTPError {
            metrics.request(route: route, status: Int(error.status.code), seconds: Date().timeIntervalSince(start))
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
