import DemoForgeCore
import DemoForgeStore
import Foundation

enum PreviewCommand: Command {
    static let name = "preview"
    static let summary = "serve a client's site on a pooled port until Ctrl-C"
    static let valuedOptions: Set<String> = []
    static let help = """
        Usage: demoforge preview SLUG

        Starts the client's preview (preview.command, else its `npm start` with PORT and --port, else the
        built-in static server over public/) on a port leased from ports.from..ports.to, prints its URL
        and streams its log. Ctrl-C or SIGTERM stops the whole server process group and gives the port back.
        """

    static func run(_ args: inout Arguments, _ context: CommandContext) async throws -> Int32 {
        guard let slug = args.next() else { throw CLIError.usage("missing SLUG") }
        try args.finish()
        guard Identifier.isValidSlug(slug) else { throw CLIError.input(Identifier.slugProblem(slug)) }
        let workspace = try await context.openWorkspace()
        guard ContextStore(workspace: workspace).exists(slug) else { throw CLIError.input("No client \"\(slug)\" in \(workspace.root.path)") }
        let services = try Services(workspace: workspace, origin: "cli")
        let stop = AsyncStream<Int32>.makeStream()
        let signals = SignalWaiter(signals: [SIGINT, SIGTERM]) {
            stop.continuation.yield(0)
            // Also while it is still starting: stop() cancels the start instead of waiting for readiness.
            Task { await services.previews.stop(slug) }
        }
        defer { signals.stop() }
        let info: PreviewInfo
        do {
            info = try await services.previews.start(slug)
        } catch is CancellationError {
            await services.shutdown()
            throw CLIError.failure("the preview of \(slug) was stopped before it was ready")
        } catch {
            await services.shutdown()
            throw CLIError.failure("\(error)")
        }
        Output.out("Preview of \(slug): \(info.url)  (\(info.command.joined(separator: " ")))")
        let (initial, first) = await services.previews.logs(slug, since: 0)
        for line in initial { Output.out("  | \(line)") }
        Output.err("Ctrl-C stops it")
        // The log keeps flowing while we wait: print new lines every half second. Followed by line number, not by
        // the ring's size, which stops growing at 500 lines.
        let printer = Task {
            var next = first
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(500))
                let (lines, after) = await services.previews.logs(slug, since: next)
                for line in lines { Output.out("  | \(line)") }
                next = after
                if await services.previews.list().isEmpty { stop.continuation.yield(1) }
            }
        }
        var status: Int32 = 0
        for await code in stop.stream {
            status = code
            break
        }
        printer.cancel()
        await services.shutdown()
        // Ctrl-C is the normal end (0); a preview that ended on its own (its server exited, or the idle
        // timeout stopped it) is reported with 1.
        if status != 0 { Output.err("the preview of \(slug) stopped on its own (its server exited or preview.idleTimeoutSeconds passed)") }
        return status
    }
}

enum PreviewsCommand: Command {
    static let name = "previews"
    static let summary = "list the running previews of every DemoForge process (from the port leases)"
    static let valuedOptions: Set<String> = []
    static let help = """
        Usage: demoforge previews [--json]

        Lists the ports leased on this workspace by any DemoForge process: port, client, owner pid and
        whether the owner is alive (stale leases are reclaimed by the next lease).
        """

    static func run(_ args: inout Arguments, _ context: CommandContext) async throws -> Int32 {
        let json = args.flag("json")
        try args.finish()
        let workspace = try await context.openWorkspace()
        let pool = try PortPool(range: workspace.config.ports.from...workspace.config.ports.to, leaseFolder: workspace.portsFolder)
        let leases = try pool.leases()
        if json {
            let rows: [JSONValue] = leases.map {
                [
                    "port": .int(Int64($0.port)), "slug": .string($0.slug), "url": .string("http://127.0.0.1:\($0.port)/"),
                    "ownerPid": .int(Int64($0.owner.pid)), "ownerAlive": .bool(!$0.isStale),
                ]
            }
            Output.out(JSONValue.array(rows).prettyPrinted().trimmingCharacters(in: .newlines))
            return 0
        }
        if leases.isEmpty { Output.out("No previews.") }
        for lease in leases {
            Output.out("\(lease.port)  \(lease.slug)  http://127.0.0.1:\(lease.port)/  pid \(lease.owner.pid)\(lease.isStale ? " (dead: stale)" : "")")
        }
        return 0
    }
}

enum SnapshotCommand: Command {
    static let name = "snapshot"
    static let summary = "screenshot a client's preview (or --url) in headless Chromium"
    static let valuedOptions: Set<String> = ["url"]
    static let help = """
        Usage: demoforge snapshot SLUG [--url URL] [--json]

        Takes one full-page PNG per viewport of snapshot.viewports with headless Chromium over the DevTools
        pipe, records console errors, uncaught exceptions, dialogs and failed requests in report.json, and
        prints the PNG paths. Without --url it starts the client's preview for the snapshot and stops it
        after. Files go to .demoforge/artifacts/TASK/. Exit 1 when the page failed to load.
        """

    static func run(_ args: inout Arguments, _ context: CommandContext) async throws -> Int32 {
        guard let slug = args.next() else { throw CLIError.usage("missing SLUG") }
        let url = args.option("url")
        let json = args.flag("json")
        try args.finish()
        guard Identifier.isValidSlug(slug) else { throw CLIError.input(Identifier.slugProblem(slug)) }
        if let url, !(url.hasPrefix("http://") || url.hasPrefix("https://")) {
            throw CLIError.input("--url = \(url) is not allowed; allowed: an http:// or https:// URL")
        }
        let workspace = try await context.openWorkspace()
        guard ContextStore(workspace: workspace).exists(slug) else { throw CLIError.input("No client \"\(slug)\" in \(workspace.root.path)") }
        let services = try Services(workspace: workspace, origin: "cli")
        let task = try await services.tasks.create(client: slug, kind: "snapshot")
        try await services.tasks.update(task.taskId) { $0.state = .running }
        var target = url
        var startedPreview = false
        var options = SnapshotOptions()
        options.browser = workspace.config.snapshot.browser
        options.timeoutSeconds = workspace.config.snapshot.timeoutSeconds
        options.viewports = workspace.config.snapshot.viewports
        options.supervisor = services.supervisor
        let folder = workspace.artifactFolder(task.taskId)
        let outcome: Result<SnapshotReport, any Error>
        do {
            if target == nil {
                target = try await services.previews.start(slug).url
                startedPreview = true
            }
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let destination = target!
            let snapshotOptions = options
            let signals = SignalWaiter(signals: [SIGINT, SIGTERM]) { Task { _ = try? await services.tasks.cancel(task.taskId) } }
            defer { signals.stop() }
            outcome = .success(
                try await TaskExecution.run(taskId: task.taskId, store: services.tasks, hub: services.hub) {
                    try await Snapshotter(options: snapshotOptions).snapshot(url: destination, artifactsDir: folder)
                })
        } catch {
            outcome = .failure(error)
        }
        if startedPreview { await services.previews.stop(slug) }
        switch outcome {
        case .success(let report):
            let json_ = report.json
            try await ContextStore(workspace: workspace).update(slug) { $0.set(path: "results.snapshot", to: json_) }
            _ = try? await services.tasks.update(task.taskId) { $0.state = .done }
            await services.shutdown()
            if json {
                Output.out(report.json.prettyPrinted().trimmingCharacters(in: .newlines))
            } else {
                for viewport in report.viewports {
                    Output.out("\(viewport.name): \(folder.appendingPathComponent(URL(fileURLWithPath: viewport.file).lastPathComponent).path) (\(viewport.pngWidth)x\(viewport.pngHeight), HTTP \(viewport.status.map(String.init) ?? "?"))")
                    for error in viewport.consoleErrors { Output.out("  console error: \(error.text)") }
                    for exception in viewport.exceptions { Output.out("  uncaught exception: \(exception.message)") }
                    for dialog in viewport.dialogs { Output.out("  dialog \(dialog.type): \(dialog.message) (\(dialog.action))") }
                }
                Output.out("report: \(report.reportFile)")
            }
            let failed = report.viewports.contains { ($0.status ?? 0) >= 400 }
            return failed ? 1 : 0
        case .failure(let error):
            _ = try? await services.tasks.update(task.taskId) { status in
                if !status.state.isTerminal {
                    status.state = .failed
                    status.error = "\(error)"
                }
            }
            await services.shutdown()
            throw CLIError.failure("snapshot of \(slug) failed: \(error)")
        }
    }
}

enum DoctorCommand: Command {
    static let name = "doctor"
    static let summary = "check chromium, node/npm, free ports and the workspace; say how to fix what is missing"
    static let valuedOptions: Set<String> = []
    static let help = """
        Usage: demoforge doctor

        Checks what DemoForge needs: the workspace and its configuration, node and npm (site builds and
        previews), chromium (snapshots), free ports in the pool, an agent. Prints one line per check with
        how to fix a failure. Exit 0 when every required check passes, 1 otherwise.
        """

    static func run(_ args: inout Arguments, _ context: CommandContext) async throws -> Int32 {
        try args.finish()
        var failures = 0
        func report(_ ok: Bool, _ what: String, _ fix: String, required: Bool = true) {
            Output.out("\(ok ? "ok  " : (required ? "FAIL" : "warn"))  \(what)\(ok ? "" : " — \(fix)")")
            if !ok && required { failures += 1 }
        }
        let workspace: Workspace?
        do {
            workspace = try await context.openWorkspace()
            report(true, "workspace \(workspace!.root.path) and its demoforge.json", "")
        } catch {
            workspace = nil
            report(false, "workspace", "\(error)")
        }
        let node = Doctor.which("node")
        report(node != nil, "node \(node.map { Doctor.version($0) } ?? "")", "install Node.js 20: apt-get install nodejs npm")
        let npm = Doctor.which("npm")
        report(npm != nil, "npm \(npm.map { Doctor.version($0) } ?? "")", "install npm: apt-get install npm")
        let browser = workspace?.config.snapshot.browser ?? Snapshotter.findBrowser()
        let browserOK = browser.map { FileManager.default.isExecutableFile(atPath: $0) } ?? false
        report(browserOK, "chromium \(browser ?? "")", "install it: apt-get install chromium (or set snapshot.browser)")
        if let workspace {
            let pool = try? PortPool(range: workspace.config.ports.from...workspace.config.ports.to, leaseFolder: workspace.portsFolder)
            let free = (workspace.config.ports.from...min(workspace.config.ports.to, workspace.config.ports.from + 19)).filter { PortProbe.isFree(port: $0) }
            report(!free.isEmpty, "ports \(workspace.config.ports.from)-\(workspace.config.ports.to): \((try? pool?.leases())??.count ?? 0) leased, first free \(free.first.map(String.init) ?? "none")", "stop what listens there or change ports.from/ports.to")
            let agent = workspace.config.agent.resolvedCommand
            report(agent != nil, "agent \(agent?.first ?? "(none)")", "set agent.command or agent.preset in demoforge.json; without one, agent steps are skipped", required: false)
            if let program = agent?.first {
                report(Doctor.which(program) != nil, "agent program \(program) on PATH", "install \(program) or fix agent.command")
            }
        }
        return failures == 0 ? 0 : 1
    }
}

/// Small lookups for `doctor`.
enum Doctor {
    static func which(_ program: String) -> String? {
        if program.contains("/") { return FileManager.default.isExecutableFile(atPath: program) ? program : nil }
        for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(folder)/\(program)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    static func version(_ path: String) -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["--version"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return "" }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
