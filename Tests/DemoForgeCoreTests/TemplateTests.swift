import DemoForgeCore
import DemoForgeStore
import DemoForgeTesting
import Foundation
import Testing

@Suite struct TemplateTests {
    let context: JSONValue = [
        "client": [
            "name": "Tom & Jerry's <Plumbing>",
            "services": [["title": "Leaks", "description": "Fixed fast"], "Drains"],
            "phone": "555-0100",
            "years": 0,
        ],
        "results": ["build": ["durationSeconds": 3.5, "attempts": 2]],
    ]

    @Test func htmlModeEscapesAndRawDoesNot() throws {
        let html = TemplateRenderer(mode: .html)
        #expect(try html.render("<h1>{{client.name}}</h1>", context: context, file: "t") == "<h1>Tom &amp; Jerry&#39;s &lt;Plumbing&gt;</h1>")
        #expect(try html.render("{{{client.name}}}", context: context, file: "t") == "Tom & Jerry's <Plumbing>")
    }

    @Test func sectionsRepeatItemsAndFallbacksFillGaps() throws {
        let html = TemplateRenderer(mode: .html)
        let template = "{{#client.services}}[{{.title|}}{{^.title}}{{.}}{{/.title}}:{{.description|-}}]{{/client.services}}"
        #expect(try html.render(template, context: context, file: "t") == "[Leaks:Fixed fast][Drains:-]")
        #expect(try html.render("{{client.tagline|Quality work}}", context: context, file: "t") == "Quality work")
        #expect(try html.render("{{#client.years}}x{{/client.years}}{{^client.email}}no email{{/client.email}}", context: context, file: "t") == "no email")
        #expect(try html.render("{{#client.phone}}call {{client.phone}}{{/client.phone}}", context: context, file: "t") == "call 555-0100")
    }

    @Test func textModeRendersListsReadably() throws {
        let text = TemplateRenderer(mode: .text)
        #expect(
            try text.render("Services:\n{{client.services}}\nBuild took {{results.build.durationSeconds}} s", context: context, file: "p.md")
                == "Services:\n- description: Fixed fast\n  title: Leaks\n- Drains\nBuild took 3.5 s")
    }

    @Test func missingPlaceholderNamesPlaceholderFileAndLine() {
        #expect {
            try TemplateRenderer(mode: .text).render("Hello\n\nWrite for {{client.area}} now", context: context, file: "prompts/content.md")
        } throws: { error in
            let error = error as! TemplateError
            return error.placeholder == "client.area" && error.file == "prompts/content.md" && error.line == 3
                && error.message.hasPrefix("prompts/content.md:3: placeholder {{client.area}} has no value")
        }
        #expect(throws: TemplateError.self) { try TemplateRenderer(mode: .html).render("{{#a}}x", context: context, file: "t") }
        #expect(throws: TemplateError.self) { try TemplateRenderer(mode: .html).render("{{name", context: context, file: "t") }
    }

    @Test func starterScaffoldsTheExampleBriefAndKeepsEditedFiles() async throws {
        let tmp = try TemporaryWorkspace("scaffold")
        defer { tmp.remove() }
        let briefURL = CommandRunner.packageRoot.appendingPathComponent("examples/briefs/acme-plumbing.json")
        let brief = try JSONValue.parse(try Data(contentsOf: briefURL))
        let store = ContextStore(workspace: tmp.workspace)
        let context = try await store.create(slug: "acme", brief: brief)
        let scaffolder = Scaffolder(workspace: tmp.workspace)
        let report = try scaffolder.scaffold(template: "starter", slug: "acme", context: context)
        #expect(report.written.contains("src/index.html") && report.written.contains("package.json"))
        let index = try String(contentsOf: tmp.workspace.clientFolder("acme").appendingPathComponent("src/index.html"), encoding: .utf8)
        #expect(index.contains("Acme Plumbing &amp; Heating"))
        #expect(index.contains("(555) 014-2368"))
        #expect(!index.contains("{{"))
        // An edited file survives a second scaffold.
        let edited = tmp.workspace.clientFolder("acme").appendingPathComponent("src/styles.css")
        try Data("/* edited by agent */".utf8).write(to: edited)
        let again = try scaffolder.scaffold(template: "starter", slug: "acme", context: context)
        #expect(again.written.isEmpty)
        #expect(again.skipped.contains("src/styles.css"))
        #expect(try String(contentsOf: edited, encoding: .utf8) == "/* edited by agent */")
        // Every example brief scaffolds with no missing placeholder.
        try await store.create(slug: "bakery", brief: try JSONValue.parse(try Data(contentsOf:
            CommandRunner.packageRoot.appendingPathComponent("examples/briefs/rosemary-bakery.json"))))
        _ = try scaffolder.scaffold(template: "starter", slug: "bakery", context: try await store.read("bakery"))
        try await store.create(slug: "minimal", brief: ["name": "Only A Name"])
        _ = try scaffolder.scaffold(template: "starter", slug: "minimal", context: try await store.read("minimal"))
    }

    @Test func workflowValidationNamesTheStep() throws {
        let tmp = try TemporaryWorkspace("workflow")
        defer { tmp.remove() }
        let loaded = try WorkflowDefinition.load(name: "demo", workspace: tmp.workspace)
        #expect(loaded.steps.map(\.id) == ["scaffold", "content", "polish", "build", "preview", "snapshot"])
        let cases: [(String, String)] = [
            (#"{"name":"x","steps":[{"id":"a","kind":"deploy"}]}"#,
             "workflows/bad.json: step \"a\": unknown kind \"deploy\"; allowed: agent, build, command, preview, scaffold, snapshot"),
            (#"{"name":"x","steps":[{"id":"a","kind":"build"},{"id":"a","kind":"preview"}]}"#,
             "workflows/bad.json: step \"a\": duplicate step id \"a\""),
            (#"{"name":"x","steps":[{"id":"write","kind":"agent","prompt":"prompts/nope.md"}]}"#,
             "workflows/bad.json: step \"write\": prompt file \"prompts/nope.md\" does not exist; allowed: a file under prompts/, e.g. prompts/content.md"),
            (#"{"name":"x","steps":[{"id":"a","kind":"build","retries":2}]}"#,
             "workflows/bad.json: unknown key steps.0.retries; allowed keys in steps.0: id, kind"),
        ]
        for (text, message) in cases {
            try Data(text.utf8).write(to: tmp.workspace.workflowsFolder.appendingPathComponent("bad.json"))
            #expect {
                try WorkflowDefinition.load(name: "bad", workspace: tmp.workspace)
            } throws: { error in
                (error as! ConfigError).message == message
            }
        }
    }
}
