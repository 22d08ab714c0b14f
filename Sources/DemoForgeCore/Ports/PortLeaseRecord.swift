import DemoForgeStore
import DemoForgeSystem
import Foundation

/// The content of one lease file `<leaseFolder>/<port>.lease`, as any process on the workspace sees it.
public struct PortLeaseRecord: Sendable, Hashable {
    /// The leased port.
    public let port: Int
    /// The process that holds the lease (pid and start time, so that a reused pid is not mistaken for it).
    public let owner: ProcessIdentity
    /// The client the port was leased for.
    public let slug: String
    /// When the lease was taken.
    public let createdAt: Date

    /// Creates a record.
    public init(port: Int, owner: ProcessIdentity, slug: String, createdAt: Date) {
        self.port = port
        self.owner = owner
        self.slug = slug
        self.createdAt = createdAt
    }

    /// True when the owner is no longer running (or its pid now belongs to another process).
    public var isStale: Bool { !owner.isAlive }

    /// The JSON stored in the lease file.
    public var json: JSONValue {
        [
            "port": .int(Int64(port)),
            "pid": .int(Int64(owner.pid)),
            "startTime": .int(Int64(bitPattern: owner.startTime)),
            "slug": .string(slug),
            "createdAt": .string(createdAt.formatted(PortLeaseRecord.dateStyle)),
        ]
    }

    /// Parses the content of a lease file; nil when it is not a complete lease.
    public static func parse(_ data: Data) -> PortLeaseRecord? {
        guard let value = try? JSONValue.parse(data),
            let port = value[path: "port"]?.intValue,
            let pid = value[path: "pid"]?.intValue,
            let start = value[path: "startTime"]?.intValue,
            let slug = value[path: "slug"]?.stringValue,
            let created = value[path: "createdAt"]?.stringValue,
            let date = try? dateStyle.parse(created),
            let pid32 = Int32(exactly: pid)
        else { return nil }
        return PortLeaseRecord(
            port: Int(port),
            owner: ProcessIdentity(pid: pid32, startTime: UInt64(bitPattern: start)),
            slug: slug,
            createdAt: date
        )
    }

    static let dateStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
}
