#if canImport(Glibc)
    import Glibc
#endif

/// Host checks and address resolution for binding.
enum BindAddress {
    /// True for 127.0.0.0/8, ::1 (also bracketed) and `localhost`.
    static func isLoopback(_ host: String) -> Bool {
        var h = host.lowercased()
        if h.hasPrefix("[") && h.hasSuffix("]") { h = String(h.dropFirst().dropLast()) }
        if h == "localhost" { return true }
        var v4 = in_addr()
        if inet_pton(AF_INET, h, &v4) == 1 {
            return UInt32(bigEndian: v4.s_addr) >> 24 == 127
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, h, &v6) == 1 {
            let bytes = withUnsafeBytes(of: v6) { Array($0) }
            return bytes[0..<15].allSatisfy { $0 == 0 } && bytes[15] == 1
        }
        return false
    }

    /// Resolves `host:port` to a socket address (numeric or `localhost`), calling `body` with it.
    static func withSockaddr<T>(
        host: String, port: Int, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T
    ) throws(HTTPServerError) -> T {
        var h = host
        if h.hasPrefix("[") && h.hasSuffix("]") { h = String(h.dropFirst().dropLast()) }
        if h.lowercased() == "localhost" { h = "127.0.0.1" }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var result: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(h, String(port), &hints, &result)
        guard rc == 0, let info = result, let addr = info.pointee.ai_addr else {
            let reason = rc == 0 ? "no address" : String(cString: gai_strerror(rc))
            throw HTTPServerError(code: .badHost, message: "server.host '\(host)' cannot be bound: \(reason)")
        }
        defer { freeaddrinfo(info) }
        return body(addr, info.pointee.ai_addrlen)
    }
}
