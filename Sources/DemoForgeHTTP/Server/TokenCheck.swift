/// Bearer-token / cookie authentication with a constant-time comparison.
struct TokenCheck: Sendable {
    let token: [UInt8]

    /// The cookie the dashboard sends.
    static let cookieName = "demoforge_token"

    /// True when `headers` carry the token as `Authorization: Bearer` or as cookie `demoforge_token`.
    func allows(_ headers: HTTPHeaders) -> Bool {
        var ok = false
        if let auth = headers["Authorization"] {
            let parts = auth.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
            if parts.count == 2, parts[0].lowercased() == "bearer" {
                ok = TokenCheck.constantTimeEqual(Array(parts[1].utf8), token) || ok
            }
        }
        for cookieHeader in headers.values("Cookie") {
            for pair in cookieHeader.split(separator: ";") {
                let kv = pair.split(separator: "=", maxSplits: 1)
                guard kv.count == 2, kv[0].trimmingSpaces() == TokenCheck.cookieName else { continue }
                ok = TokenCheck.constantTimeEqual(Array(kv[1].trimmingSpaces().utf8), token) || ok
            }
        }
        return ok
    }

    /// Compares without an early exit, so the time taken does not reveal how many leading bytes matched.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var diff = UInt64(a.count ^ b.count)
        let n = max(a.count, b.count)
        for i in 0..<n {
            let x = i < a.count ? a[i] : 0
            let y = i < b.count ? b[i] : 0
            diff |= UInt64(x ^ y)
        }
        return diff == 0
    }
}

extension Substring {
    fileprivate func trimmingSpaces() -> Substring {
        var s = self
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return s
    }
}
