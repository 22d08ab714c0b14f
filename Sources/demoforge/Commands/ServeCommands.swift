import DemoForgeCore
import DemoForgeHTTP
import Foundation

enum ServeCommand: Command {
    static let name = "serve"
    static let summary = "run the HTTP API, live streams and dashboard"
    static let valuedOptions: Set<String> = ["host", "port"]
    static let help = """
        Usage: demoforge serve [--host HOST] [--port PORT]

        Serves the JSON API, the Server-Sent Events streams and the dashboard on server.host:server.port
        (default 127.0.0.1:4321; --port 0 picks a free port). Prints `DemoForge serving URL` when ready.
        A host other than loopback requires server.token (sent as `Authorization: Bearer TOKEN`, or the
        dashboard's `demoforge_token` cookie). Resumes the runs a previous server left unfinished.
        SIGINT/SIGTERM: stops accepting, ends every stream, stops runs and previews, exits 0.
        """

    static func run(_ args: inout Arguments, _ context: CommandContext) async throws -> Int32 {
        let host = args.option("host")
        let port = try args.intOption("port")
        try args.finish()
        if let port, !(0...65535).contains(port) { throw CLIError.usage("--port = \(port) is not allowed; allowed: 0 (any free port) to 65535") }
        // Catch SIGINT/SIGTERM before anything else: once the URL line is out, a supervisor may stop the server
        // at once, and the signal must mean a clean shutdown (exit 0), not death by its default action. The
        // dispatch sources register asynchronously, so they are set up well before the server is ready.
        let stop = AsyncStream<Int32>.makeStream()
        let signals = SignalWaiter(signals: [SIGINT, SIGTERM]) { stop.continuation.yield(0) }
        defer { signals.stop() }
        let workspace = try await context.openWorkspace()
        let config = workspace.config
        var server = HTTPServerConfiguration(
            host: host ?? config.server.host, port: port ?? config.server.port, token: config.server.token,
            heartbeatSeconds: config.sse.heartbeatSeconds, maxStreams: config.sse.maxStreams,
            maxStreamsPerKey: config.sse.maxStreamsPerTask)
        server.connectionTimeoutSeconds = max(60, config.sse.heartbeatSeconds * 3)
        let services = try Services(workspace: workspace, origin: "serve")
        let metrics = HTTPMetrics()
        let api = APIServices(
            workspace: workspace, hub: services.hub, supervisor: services.supervisor, previews: services.previews,
            runs: services.runs, metrics: metrics)
        let http = HTTPServer(configuration: server, router: api.router(), metrics: metrics)
        let bound: Int
        do {
            bound = try await http.start()
        } catch {
            await services.shutdown()
            throw CLIError.input("cannot serve: \(error)")
        }
        let shownHost = server.host.contains(":") ? "[\(server.host)]" : server.host
        Output.out("DemoForge serving http://\(shownHost):\(bound)/")
        let resumed = await services.runs.resumeInterrupted()
        if !resumed.isEmpty { Output.err("serve: resumed interrupted run(s) \(resumed.joined(separator: ", "))") }
        // Hourly sweep of stale temp files while serving (stored: cancelled at shutdown).
        let sweeper = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(3600))
                if Task.isCancelled { break }
                let removed = workspace.sweepTempFiles()
                if !removed.isEmpty { Output.err("serve: removed \(removed.count) stale temp file(s)") }
            }
        }
        for await _ in stop.stream { break }
        sweeper.cancel()
        Output.err("serve: shutting down")
        await http.shutdown()
        await services.shutdown()
        return 0
    }
}

enum StaticServeCommand: Command {
    static let name = "__static"
    static let summary = "(internal) the built-in static server of previews"
    static let valuedOptions: Set<String> = ["root", "port", "host"]
    static let help = """
        Usage: demoforge __static --root DIR --port PORT [--host HOST]

        Serves DIR (a site's public/) with content types, index.html for folders and 404 for missing files,
        never a file outside DIR. Used by previews when a site has no start script. Stops on SIGTERM.
        """

    static func run(_ args: inout Arguments, _ context: CommandContext) async throws -> Int32 {
        guard let root = args.option("root"), let port = try args.intOption("port") else {
            throw CLIError.usage("--root DIR and --port PORT are required")
        }
        // Loopback only: a preview is for this machine, and the API's token rule stays intact.
        let host = args.option("host") ?? "127.0.0.1"
        try args.finish()
        let folder = URL(fileURLWithPath: root, relativeTo: context.cwd).standardizedFileURL
        guard FileManager.default.fileExists(atPath: folder.path) else { throw CLIError.input("\(folder.path) does not exist") }
        let config = HTTPServerConfiguration(host: host, port: port)
        let server = HTTPServer(configuration: config, router: StaticSite.router(root: folder))
        do {
            let bound = try await server.start()
            Output.out("Serving \(folder.path) at http://127.0.0.1:\(bound)/")
        } catch {
            // The error names its cause (e.g. "Address already in use", which previews retry on another port);
            // no guessed hint, or every failure would look like a port conflict.
            Output.err("error: \(error)")
            return 1
        }
        let stop = AsyncStream<Int32>.makeStream()
        let signals = SignalWaiter(signals: [SIGINT, SIGTERM]) { stop.continuation.yield(0) }
        defer { signals.stop() }
        for await _ in stop.stream { break }
        await server.shutdown()
        return 0
    }
}
