import DemoForgeCore
import Foundation
import Testing

@Suite struct ConfigurationTests {
    @Test func emptyFileGivesTheDesignDefaults() throws {
        let config = try Configuration.parse(Data("{}".utf8))
        #expect(config == Configuration())
        #expect(config.server.host == "127.0.0.1" && config.server.port == 4321 && config.server.token == nil)
        #expect(config.ports.from == 8081 && config.ports.to == 8281)
        #expect(config.build.command == nil && config.build.outputDir == "public")
        #expect(config.build.inactivityTimeoutSeconds == 120 && config.build.maxDurationSeconds == 1800)
        #expect(config.build.retry == RetryConfig())
        #expect(config.build.retry.maxAttempts == 3 && config.build.retry.maxDelaySeconds == 30)
        #expect(config.build.progressPattern == "\\[11ty\\] Writing")
        #expect(config.agent.inactivityTimeoutSeconds == 600)
        #expect(config.preview.readyTimeoutSeconds == 30 && config.preview.idleTimeoutSeconds == 1800)
        #expect(config.preview.stopGraceSeconds == 5)
        #expect(config.snapshot.timeoutSeconds == 30)
        #expect(config.snapshot.viewports.map(\.width) == [1280, 390])
        #expect(config.sse.heartbeatSeconds == 15 && config.sse.maxStreams == 10000 && config.sse.maxStreamsPerTask == 100)
        #expect(config.locks.timeoutSeconds == 10 && config.cleanup.tempMaxAgeSeconds == 3600)
    }

    @Test func printedConfigurationParsesBackToTheSame() throws {
        var config = Configuration()
        config.build.command = ["sh", "-c", "make site"]
        config.ports.from = 9000
        config.ports.to = 9010
        let text = config.asJSON().prettyPrinted()
        #expect(try Configuration.parse(Data(text.utf8)) == config)
    }

    static let badValues: [(String, String, String)] = [
        (
            #"{"build": {"inactivityTimeoutSeconds": 0}}"#, "build.inactivityTimeoutSeconds",
            "demoforge.json: build.inactivityTimeoutSeconds = 0 is not allowed; allowed: a number of seconds > 0 and at most 31536000 (one year)"
        ),
        (
            #"{"preview": {"readyTimeoutSeconds": -5}}"#, "preview.readyTimeoutSeconds",
            "demoforge.json: preview.readyTimeoutSeconds = -5 is not allowed; allowed: a number of seconds > 0 and at most 31536000 (one year)"
        ),
        (
            #"{"locks": {"timeoutSeconds": 1e300}}"#, "locks.timeoutSeconds",
            "demoforge.json: locks.timeoutSeconds = 1e+300 is not allowed; allowed: a number of seconds > 0 and at most 31536000 (one year)"
        ),
        (
            #"{"server": {"host": "0.0.0.0"}}"#, "server.host",
            "demoforge.json: server.host = \"0.0.0.0\" is not a loopback address and server.token is not set; allowed: a loopback host (127.0.0.1, ::1, localhost), or set server.token"
        ),
        (
            #"{"snapshot": {"viewports": []}}"#, "snapshot.viewports",
            "demoforge.json: snapshot.viewports = [] is not allowed; allowed: a non-empty array of {name, width, height, mobile?}"
        ),
        (
            #"{"ports": {"from": 9000, "to": 8000}}"#, "ports.from",
            "demoforge.json: ports.from = 9000 is greater than ports.to = 8000; allowed: ports.from <= ports.to"
        ),
        (
            #"{"ports": {"to": 70000}}"#, "ports.to",
            "demoforge.json: ports.to = 70000 is not allowed; allowed: an integer from 1 to 65535"
        ),
        (
            #"{"server": {"port": 0}}"#, "server.port",
            "demoforge.json: server.port = 0 is not allowed; allowed: an integer from 1 to 65535"
        ),
        (
            #"{"biuld": {}}"#, "biuld",
            "demoforge.json: unknown key biuld; allowed keys: agent, build, cleanup, locks, ports, preview, server, snapshot, sse"
        ),
        (
            #"{"build": {"retry": {"maxAttempt": 2}}}"#, "build.retry.maxAttempt",
            "demoforge.json: unknown key build.retry.maxAttempt; allowed keys in build.retry: initialDelaySeconds, maxAttempts, maxDelaySeconds, multiplier"
        ),
        (
            #"{"ports": {"from": "8081"}}"#, "ports.from",
            "demoforge.json: ports.from = \"8081\" is a string; allowed: an integer from 1 to 65535"
        ),
        (
            #"{"build": {"command": "npm run build"}}"#, "build.command",
            "demoforge.json: build.command = \"npm run build\" is a string; allowed: an argv array of strings such as [\"npm\", \"run\", \"build\"], or null"
        ),
        (
            #"{"sse": true}"#, "sse",
            "demoforge.json: sse = true is a boolean; allowed: an object"
        ),
        (
            #"{"agent": {"preset": "gpt"}}"#, "agent.preset",
            "demoforge.json: agent.preset = \"gpt\" is not allowed; allowed: aider, claude-code, codex, gemini, or null"
        ),
    ]

    @Test(arguments: badValues) func badValueNamesKeyPathValueAndAllowed(input: String, keyPath: String, message: String) {
        #expect {
            try Configuration.parse(Data(input.utf8))
        } throws: { error in
            let error = error as! ConfigError
            return error.keyPath == keyPath && error.message == message
        }
    }

    @Test func malformedJSONNamesLineAndColumn() {
        #expect {
            try Configuration.parse(Data("{\n  \"ports\": {\n    \"from\": 80x\n}}".utf8))
        } throws: { error in
            (error as! ConfigError).message
                == "demoforge.json is not valid JSON: Expected ',' or '}' in an object, found 'x' at line 3, column 15"
        }
    }

    @Test func nonLoopbackHostIsAcceptedWithAToken() throws {
        let config = try Configuration.parse(Data(#"{"server": {"host": "0.0.0.0", "token": "s3cret"}}"#.utf8))
        #expect(config.server.host == "0.0.0.0")
        #expect(try Configuration.parse(Data(#"{"server": {"host": "127.0.0.2"}}"#.utf8)).server.host == "127.0.0.2")
        #expect(Configuration.isLoopback("::1") && Configuration.isLoopback("localhost") && !Configuration.isLoopback("10.0.0.1"))
    }

    @Test func presetsResolveToTheirArgv() throws {
        let config = try Configuration.parse(Data(#"{"agent": {"preset": "aider"}}"#.utf8))
        #expect(config.agent.resolvedCommand == ["aider", "--message", "{{prompt}}", "--yes"])
        #expect(Configuration().agent.resolvedCommand == nil)
    }
}
