import DemoForgeHTTP
import DemoForgeTesting
import Foundation
import Synchronization

/// Routes shared by the server tests.
enum TestRoutes {
    static func router() -> Router {
        var router = Router()
        router.get("/api/hello") { _ in .json(text: "{\"hello\":\"world\"}") }
        router.post("/api/echo") { request in
            .json(text: "{\"bytes\":\(request.body.count)}")
        }
        router.get("/api/tasks/{id}") { request in
            let id = try request.parameter("id", matching: .slug)
            return .json(text: "{\"id\":\"\(id)\"}")
        }
        router.get("/api/boom") { _ in
            struct Secret: Error { let detail = "password=hunter2 at /etc/secret" }
            throw Secret()
        }
        router.get("/api/conflict") { _ in throw HTTPError.conflict("task 'x' is DONE") }
        // A stream that sends one event at once, then stays open until closed from elsewhere.
        router.get("/stream/{key}") { request in
            let key = try request.parameter("key", matching: .slug)
            return .eventStream(key: key) { stream in
                stream.send(id: "1", event: "hello", data: "first\nsecond")
                _ = await stream.closed()
            }
        }
        // Three events, then the producer returns: the response ends cleanly.
        router.get("/finite") { _ in
            .eventStream(key: nil) { stream in
                for i in 1...3 { stream.send(id: String(i), data: "event \(i)") }
            }
        }
        return router
    }
}

/// A loopback, port-0, silent configuration changed by `change`.
func testConfiguration(_ change: (inout HTTPServerConfiguration) -> Void = { _ in }) -> HTTPServerConfiguration {
    var config = HTTPServerConfiguration()
    config.host = "127.0.0.1"
    config.port = 0
    config.log = { _ in }
    change(&config)
    return config
}

/// Starts a server, runs `body`, and always shuts it down.
func withServer<T>(
    router: Router = TestRoutes.router(),
    configuration config: HTTPServerConfiguration = testConfiguration(),
    _ body: (HTTPServer, Int) async throws -> T
) async throws -> T {
    let server = HTTPServer(configuration: config, router: router)
    let port = try await server.start()
    do {
        let result = try await body(server, port)
        await server.shutdown()
        return result
    } catch {
        await server.shutdown()
        throw error
    }
}

/// Decodes a JSON error body into (code, message).
func errorBody(_ response: RawHTTPResponse) -> (code: String, message: String)? {
    guard let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any],
        let error = object["error"] as? [String: Any], let code = error["code"] as? String,
        let message = error["message"] as? String
    else { return nil }
    return (code, message)
}

/// The descriptors of this process that are TCP sockets with `port` as local or remote port.
func socketDescriptors(port: Int) -> Int {
    var inodes = Set<String>()
    let hexPort = String(format: ":%04X", port)
    for table in ["/proc/self/net/tcp", "/proc/self/net/tcp6"] {
        guard let text = try? String(contentsOfFile: table, encoding: .utf8) else { continue }
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ")
            guard fields.count > 9 else { continue }
            if fields[1].hasSuffix(hexPort) || fields[2].hasSuffix(hexPort) { inodes.insert(String(fields[9])) }
        }
    }
    let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
    var count = 0
    for fd in fds {
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd)"),
            target.hasPrefix("socket:[")
        else { continue }
        if inodes.contains(String(target.dropFirst(8).dropLast())) { count += 1 }
    }
    return count
}

/// A value set from one task and read from another.
final class Box<T: Sendable>: Sendable {
    private let value: Mutex<T>
    init(_ initial: T) { value = Mutex(initial) }
    func set(_ newValue: T) { value.withLock { $0 = newValue } }
    func get() -> T { value.withLock { $0 } }
    func update(_ body: (inout T) -> Void) { value.withLock { body(&$0) } }
}

// Waiting helpers as plain functions: closures passed from inside @Test bodies (within #expect or nested
// trailing closures) hit Swift 6.3.1 compiler bugs (wrongly merged closures, a frontend crash).

/// Waits until the server has `active` open streams (and, for 0, no live timers); elapsed seconds or nil.
func waitForStreams(_ server: HTTPServer, active: Int, timeout: Double = 5) async -> Double? {
    let metrics = server.metrics
    return await waitUntil(timeout: timeout) {
        metrics.activeStreams == active && (active != 0 || metrics.liveTimers == 0)
    }
}

/// Waits until `box` holds a non-nil value.
func waitForValue<T: Sendable>(_ box: Box<T?>, timeout: Double = 5) async -> Double? {
    await waitUntil(timeout: timeout) { box.get() != nil }
}

/// Waits until `box` holds `count` elements.
func waitForCount<T: Sendable>(_ box: Box<[T]>, _ count: Int, timeout: Double = 5) async -> Double? {
    await waitUntil(timeout: timeout) { box.get().count == count }
}

/// Waits until this process holds exactly `count` sockets to or from `port`.
func waitForSockets(port: Int, count: Int, timeout: Double = 5) async -> Double? {
    await waitUntil(timeout: timeout) { socketDescriptors(port: port) == count }
}
