import DemoForgeProcess
import DemoForgeStore
import DemoForgeSystem
import Foundation

/// What a step produced.
struct StepResult: Sendable {
    /// `done` or `skipped`.
    var state: String
    /// Stored under `results.<stepId>`.
    var document: JSONValue?
    /// One line for the step-finished event.
    var summary: String
    /// Keys to set in the task's `details` (preview URL, screenshots).
    var details: [String: JSONValue] = [:]
}

/// Runs one step of a workflow run.
struct StepExecutor: Sendable {
    let runner: WorkflowRunner
    let writer: TaskEventWriter
    let preview: StartedPreview

    var workspace: Workspace { runner.workspace }
    var slug: String { runner.slug }
    var service: RunService { runner.service }

    func execute(_ step: WorkflowStep) async throws -> StepResult {
        switch step.kind {
        case .scaffold(let template):
            return try await scaffold(step, template: template)
        case .agent(let prompt, let command, let inactivity, let maxDuration):
            return try await agent(step, prompt: prompt, command: command, inactivity: inactivity, maxDuration: maxDuration)
        case .build:
            return try await build(step)
        case .preview:
            return try await startPreview(step)
        case .snapshot(let viewports):
            return try await snapshot(step, viewports: viewports)
        case .command(let argv, let inactivity, let maxDuration):
            return try await command(step, argv: argv, inactivity: inactivity, maxDuration: maxDuration)
        }
    }

    // MARK: - scaffold

    private func scaffold(_ step: WorkflowStep, template: String) async throws -> StepResult {
        let context = try await service.contexts.read(slug)
        let report: Scaffolder.Report
        do {
            report = try Scaffolder(workspace: workspace).scaffold(template: template, slug: slug, context: context)
        } catch let error as TemplateError {
            throw StepFailure(stepId: step.id, message: "scaffold failed: \(error.message)")
        }
        let summary = "wrote \(report.written.count) file(s), kept \(report.skipped.count) existing"
        writer.write(type: "output", step: step.id, message: "template \(template): \(summary)")
        return StepResult(
            state: "done",
            document: [
                "template": .string(template), "written": .array(report.written.map { .string($0) }),
                "skipped": .array(report.skipped.map { .string($0) }),
            ],
            summary: summary)
    }

    // MARK: - agent

    private func agent(_ step: WorkflowStep, prompt: String, command: [String]?, inactivity: Double?, maxDuration: Double?) async throws -> StepResult {
        guard let argvTemplate = command ?? workspace.config.agent.resolvedCommand else {
            let hint = "no agent configured: set agent.command (an argv with {{prompt}} or {{promptFile}}) or agent.preset (claude-code, codex, aider, gemini) in demoforge.json"
            writer.write(type: "output", step: step.id, message: hint)
            return StepResult(state: "skipped", document: ["state": "skipped", "reason": .string(hint)], summary: "skipped (no agent configured)")
        }
        let context = try await service.contexts.read(slug)
        let templateText: String
        do {
            templateText = try String(contentsOf: workspace.root.appendingPathComponent(prompt), encoding: .utf8)
        } catch {
            throw StepFailure(stepId: step.id, message: "cannot read the prompt \(prompt): \(error.localizedDescription)")
        }
        let rendered: String
        do {
            rendered = try TemplateRenderer(mode: .text).render(templateText, context: context, file: prompt)
        } catch {
            throw StepFailure(stepId: step.id, message: "prompt not rendered: \(error.message)")
        }
        let promptFile = workspace.taskFolder(runner.taskId).appendingPathComponent("\(step.id).prompt.md")
        try AtomicFile.write(Data(rendered.utf8), to: promptFile)
        let argv = argvTemplate.map {
            $0.replacingOccurrences(of: "{{promptFile}}", with: promptFile.path).replacingOccurrences(of: "{{prompt}}", with: rendered)
        }
        writer.write(type: "output", step: step.id, message: "agent: \(argvTemplate.joined(separator: " ")) (prompt: \(promptFile.path))")
        let result = try await supervised(
            step, argv: argv, inactivity: inactivity ?? workspace.config.agent.inactivityTimeoutSeconds,
            maxDuration: maxDuration ?? workspace.config.agent.maxDurationSeconds)
        return StepResult(state: "done", document: result, summary: "agent finished")
    }

    // MARK: - command

    private func command(_ step: WorkflowStep, argv: [String], inactivity: Double?, maxDuration: Double?) async throws -> StepResult {
        let result = try await supervised(step, argv: argv, inactivity: inactivity, maxDuration: maxDuration)
        return StepResult(state: "done", document: result, summary: argv.joined(separator: " "))
    }

    /// Runs an argv in the client's folder, its lines as events; fails the step unless it exits 0.
    private func supervised(_ step: WorkflowStep, argv: [String], inactivity: Double?, maxDuration: Double?) async throws -> JSONValue {
        let writer = self.writer
        let stepId = step.id
        let spec = ProcessSpec(
            argv, workingDirectory: workspace.clientFolder(slug).path,
            environment: BuildRunner.environment(workspace: workspace, slug: slug, taskId: runner.taskId))
        let options = SupervisionOptions(
            inactivityTimeoutSeconds: inactivity, maxDurationSeconds: maxDuration,
            terminationGraceSeconds: workspace.config.preview.stopGraceSeconds, retainedLines: 50)
        let result: ProcessResult
        do {
            result = try await service.supervisor.run(spec, options: options) { line in
                writer.write(type: "output", step: stepId, message: line.text, data: ["stream": .string(line.stream.rawValue)])
            }
        } catch {
            if error.code == .cancelled { throw CancellationError() }
            throw StepFailure(stepId: step.id, message: "\(step.id): \(error.message)")
        }
        if result.stopReason == .cancelled { throw CancellationError() }
        guard result.succeeded else {
            throw StepFailure(stepId: step.id, message: "\(step.id): \(argv.first ?? "") \(result.message)")
        }
        return [
            "state": "done", "exitStatus": .string("\(result.exitStatus)"),
            "durationSeconds": .double((result.durationSeconds * 1000).rounded() / 1000),
            "lines": .int(Int64(result.lineCount)),
        ]
    }

    // MARK: - build

    private func build(_ step: WorkflowStep) async throws -> StepResult {
        let result: BuildResult
        do {
            result = try await BuildRunner(workspace: workspace, supervisor: service.supervisor).runAsStep(
                slug: slug, step: step.id, writer: writer, store: service.tasks, taskId: runner.taskId)
        } catch let error as BuildError {
            throw StepFailure(stepId: step.id, message: error.message)
        }
        switch result.state {
        case .succeeded:
            return StepResult(state: "done", document: result.toJSON(), summary: result.message)
        case .cancelled:
            throw CancellationError()
        case .failed:
            throw StepFailure(stepId: step.id, message: "build failed: \(result.message)")
        }
    }

    // MARK: - preview

    private func startPreview(_ step: WorkflowStep) async throws -> StepResult {
        let info: PreviewInfo
        do {
            info = try await service.previews.start(slug)
        } catch let error as PreviewError where error.code == .elsewhere {
            // Another process previews this client: use its preview instead of starting a second one.
            let url = error.url ?? ""
            writer.write(type: "output", step: step.id, message: "using the running preview: \(error.message)")
            return StepResult(state: "done", document: ["url": .string(url), "external": true], summary: url, details: ["previewUrl": .string(url)])
        } catch let error as PreviewError {
            throw StepFailure(stepId: step.id, message: error.description)
        }
        preview.slug = slug
        writer.write(type: "output", step: step.id, message: "preview ready at \(info.url) (\(info.command.joined(separator: " ")))")
        return StepResult(
            state: "done", document: ["url": .string(info.url), "port": .int(Int64(info.port))], summary: info.url,
            details: ["previewUrl": .string(info.url)])
    }

    // MARK: - snapshot

    private func snapshot(_ step: WorkflowStep, viewports: [Viewport]?) async throws -> StepResult {
        // Uses the run's preview, or starts one for the snapshot alone.
        let running = await service.previews.list().first { $0.slug == slug && $0.state == .ready }
        var ownPreview = running == nil
        let url: String
        if let running {
            url = running.url
            await service.previews.touch(slug)
        } else {
            do {
                url = try await service.previews.start(slug).url
            } catch let error as PreviewError where error.code == .elsewhere {
                url = error.url ?? ""
                ownPreview = false
            } catch let error as PreviewError {
                throw StepFailure(stepId: step.id, message: "snapshot needs a preview: \(error.description)")
            }
        }
        var options = SnapshotOptions()
        options.browser = workspace.config.snapshot.browser
        options.timeoutSeconds = workspace.config.snapshot.timeoutSeconds
        options.viewports = viewports ?? workspace.config.snapshot.viewports
        options.supervisor = service.supervisor
        let folder = workspace.artifactFolder(runner.taskId)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let report: SnapshotReport
        do {
            report = try await Snapshotter(options: options).snapshot(url: url, artifactsDir: folder)
        } catch {
            if ownPreview { await service.previews.stop(slug) }
            if error.code == .cancelled { throw CancellationError() }
            throw StepFailure(stepId: step.id, message: "snapshot failed: \(error.message)")
        }
        if ownPreview { await service.previews.stop(slug) }
        var consoleErrors: [JSONValue] = []
        for viewport in report.viewports {
            let problems = viewport.consoleErrors.map(\.text) + viewport.exceptions.map(\.message)
            consoleErrors += problems.map { .string("\(viewport.name): \($0)") }
            writer.write(
                type: "output", step: step.id,
                message: "\(viewport.name): \(viewport.file) \(viewport.pngWidth)x\(viewport.pngHeight), status \(viewport.status.map(String.init) ?? "?"), \(problems.count) console error(s)")
        }
        let screenshots: [JSONValue] = report.viewports.map {
            [
                "viewport": .string($0.name), "file": .string(URL(fileURLWithPath: $0.file).lastPathComponent),
                "width": .int(Int64($0.pngWidth)), "height": .int(Int64($0.pngHeight)),
            ]
        }
        return StepResult(
            state: "done", document: report.json,
            summary: "\(report.viewports.count) screenshot(s), \(consoleErrors.count) console error(s)",
            details: ["screenshots": .array(screenshots), "consoleErrors": .array(consoleErrors)])
    }
}
