import DemoForgeSystem
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A TCP socket listening on a loopback or wildcard address, closed by `close()`.
final class TestListener: @unchecked Sendable {
    let fd: Int32
    let port: Int

    /// Listens on `address` (`127.0.0.1`, `0.0.0.0` or `::1`) and `port` (0 = any).
    init(address: String, port: Int) throws {
        let v6 = address.contains(":")
        let fd = socket(v6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError(call: "socket", errno: errno) }
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        var result: Int32
        if v6 {
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &on, socklen_t(MemoryLayout<Int32>.size))
            var addr = sockaddr_in6()
            addr.sin6_family = sa_family_t(AF_INET6)
            addr.sin6_port = in_port_t(UInt16(port).bigEndian)
            inet_pton(AF_INET6, address, &addr.sin6_addr)
            result = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        } else {
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = in_port_t(UInt16(port).bigEndian)
            inet_pton(AF_INET, address, &addr.sin_addr)
            result = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        guard result == 0, listen(fd, 16) == 0 else {
            let code = errno
            Glibc.close(fd)
            throw SystemError(call: "bind", subject: "\(address):\(port)", errno: code)
        }
        var bound = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        let raw = withUnsafeBytes(of: &bound) { bytes in UInt16(bytes[2]) << 8 | UInt16(bytes[3]) }
        self.fd = fd
        self.port = Int(raw)
    }

    func close() { Glibc.close(fd) }
}

/// A child process (`/bin/sleep 600`) whose identity a test can write into a lease file.
final class SleepingChild: @unchecked Sendable {
    let process = Process()
    let identity: ProcessIdentity

    init() throws {
        process.executableURL = URL(fileURLWithPath: "/bin/sleep")
        process.arguments = ["600"]
        try process.run()
        let pid = process.processIdentifier
        identity = ProcessIdentity(pid: pid, startTime: ProcessIdentity.startTime(of: pid) ?? 0)
    }

    /// Kills the child and waits for it to be reaped.
    func stop() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

/// A fresh temp folder for one test.
func makeTempFolder(_ name: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("demoforge-\(name)-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// The `.lease` files in `folder`, sorted.
func leaseFiles(_ folder: URL) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [])
        .filter { $0.hasSuffix(".lease") }.sorted()
}
