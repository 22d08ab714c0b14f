import DemoForgeSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Test-binds a TCP port on every address a preview server may listen on.
///
/// `SO_REUSEADDR` is set, as real servers (node, python) set it: connections of an earlier server in TIME_WAIT
/// do not make the port unusable, while a listener on the address (or on the wildcard) still makes `bind` fail.
public enum PortProbe {
    /// Why a port is not usable.
    public enum Blocker: Sendable, Hashable, CustomStringConvertible {
        /// Binding `address` failed with `errno`.
        case bindFailed(address: String, errno: Int32)

        /// A short explanation, e.g. `127.0.0.1: Address already in use`.
        public var description: String {
            switch self {
            case .bindFailed(let address, let code): return "\(address): \(String(cString: strerror(code)))"
            }
        }
    }

    /// True when the machine has an IPv6 loopback (`::1` can be bound).
    public static let hasIPv6Loopback: Bool = {
        probe6(port: 0) == nil
    }()

    /// Nil when `port` can be bound on 127.0.0.1, 0.0.0.0 and (where IPv6 exists) ::1; else the first blocker.
    public static func blocker(port: Int) -> Blocker? {
        if let code = probe4(port: port, address: INADDR_LOOPBACK) {
            return .bindFailed(address: "127.0.0.1", errno: code)
        }
        if let code = probe4(port: port, address: INADDR_ANY) {
            return .bindFailed(address: "0.0.0.0", errno: code)
        }
        if hasIPv6Loopback, let code = probe6(port: port) {
            return .bindFailed(address: "::1", errno: code)
        }
        return nil
    }

    /// True when ``blocker(port:)`` finds nothing.
    public static func isFree(port: Int) -> Bool { blocker(port: port) == nil }

    private static func probe4(port: Int, address: UInt32) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { return errno }
        defer { close(fd) }
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr = in_addr(s_addr: address.bigEndian)
        let result = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        return result == 0 ? nil : errno
    }

    private static func probe6(port: Int) -> Int32? {
        let fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { return errno }
        defer { close(fd) }
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &on, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in6()
        addr.sin6_family = sa_family_t(AF_INET6)
        addr.sin6_port = in_port_t(UInt16(port).bigEndian)
        addr.sin6_addr = in6addr_loopback
        let result = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
            }
        }
        return result == 0 ? nil : errno
    }
}
