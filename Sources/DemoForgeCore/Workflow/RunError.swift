/// Why a run could not start.
public struct RunError: Error, CustomStringConvertible, Sendable {
    public struct Code: Hashable, Sendable {
        public let name: String
        public static let alreadyRunning = Code(name: "already_running")
        public static let noClient = Code(name: "no_client")
        public static let badWorkflow = Code(name: "bad_workflow")
    }

    public let code: Code
    public let message: String
    /// The running task, for `alreadyRunning`.
    public let taskId: String?

    public init(_ code: Code, _ message: String, taskId: String? = nil) {
        self.code = code
        self.message = message
        self.taskId = taskId
    }

    public var description: String { message }
}

/// A step that did not succeed; the run fails with its message.
public struct StepFailure: Error, CustomStringConvertible, Sendable {
    public let stepId: String
    public let message: String
    public var description: String { message }

    public init(stepId: String, message: String) {
        self.stepId = stepId
        self.message = message
    }
}
