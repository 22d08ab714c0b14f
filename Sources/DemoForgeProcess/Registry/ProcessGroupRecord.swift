import DemoForgeStore
import DemoForgeSystem
import Foundation

/// What `<pgid>.json` in the registry folder says about one live supervised group.
public struct ProcessGroupRecord: Sendable, Hashable {
    /// The process group id (= the leader's pid, = its session id).
    public let pgid: Int32
    /// The leader, with its start time from `/proc/<pid>/stat` so that a reused pid is recognised.
    public let leader: ProcessIdentity
    /// The command that was started.
    public let argv: [String]
    /// The process that supervised it.
    public let owner: ProcessIdentity
    /// Random value in every member's environment (`DEMOFORGE_SUPERVISION_TOKEN`), to recognise members safely.
    public let token: String
    /// When it was started.
    public let startedAt: Date

    /// Creates a record.
    public init(
        pgid: Int32, leader: ProcessIdentity, argv: [String], owner: ProcessIdentity, token: String, startedAt: Date
    ) {
        self.pgid = pgid
        self.leader = leader
        self.argv = argv
        self.owner = owner
        self.token = token
        self.startedAt = startedAt
    }

    /// The JSON document.
    public var json: JSONValue {
        [
            "pgid": .int(Int64(pgid)),
            "leaderPid": .int(Int64(leader.pid)),
            "leaderStartTime": .int(Int64(leader.startTime)),
            "argv": .array(argv.map { .string($0) }),
            "ownerPid": .int(Int64(owner.pid)),
            "ownerStartTime": .int(Int64(owner.startTime)),
            "token": .string(token),
            "startedAt": .string(startedAt.ISO8601Format()),
        ]
    }

    /// Reads a record; nil when a field is missing or has the wrong type.
    public init?(json: JSONValue) {
        guard let pgid = json[path: "pgid"]?.intValue, let leaderPid = json[path: "leaderPid"]?.intValue,
            let leaderStart = json[path: "leaderStartTime"]?.intValue,
            let ownerPid = json[path: "ownerPid"]?.intValue, let ownerStart = json[path: "ownerStartTime"]?.intValue,
            case .array(let items)? = json[path: "argv"], let token = json[path: "token"]?.stringValue,
            pgid > 1, leaderPid > 1, ownerPid > 0, leaderStart >= 0, ownerStart >= 0
        else { return nil }
        self.pgid = Int32(truncatingIfNeeded: pgid)
        self.leader = ProcessIdentity(pid: Int32(truncatingIfNeeded: leaderPid), startTime: UInt64(leaderStart))
        self.argv = items.compactMap(\.stringValue)
        self.owner = ProcessIdentity(pid: Int32(truncatingIfNeeded: ownerPid), startTime: UInt64(ownerStart))
        self.token = token
        self.startedAt =
            (json[path: "startedAt"]?.stringValue).flatMap { try? Date($0, strategy: .iso8601) }
            ?? Date(timeIntervalSince1970: 0)
    }
}
