import DemoForgeStore
import DemoForgeSystem
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The folder of `<pgid>.json` records of live supervised groups (`<workspace>/.demoforge/run/procs`), so that
/// groups left behind by a crashed owner can be torn down by the next DemoForge process.
public struct ProcessGroupRegistry: Sendable {
    /// The folder holding the records.
    public let folder: URL

    /// A registry over `folder` (created on first write).
    public init(folder: URL) {
        self.folder = folder
    }

    /// The record file of a group.
    public func url(for pgid: Int32) -> URL { folder.appendingPathComponent("\(pgid).json") }

    /// Writes a record atomically (temp file, fsync, rename).
    public func write(_ record: ProcessGroupRecord) throws(ProcessError) {
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw ProcessError(.registry, "cannot create process registry folder \(folder.path): \(error)")
        }
        do {
            try AtomicFile.write(record.json, to: url(for: record.pgid))
        } catch {
            throw ProcessError(
                .registry, "cannot record process group \(record.pgid): \(error.message)", underlying: error)
        }
    }

    /// Removes a group's record (no error when it is already gone).
    public func remove(pgid: Int32) {
        unlink(url(for: pgid).path)
    }

    /// Every `<number>.json` in the folder with its parsed record (nil when unreadable or malformed).
    public func records() -> [(file: URL, record: ProcessGroupRecord?)] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { return [] }
        return names.sorted().compactMap { name -> (file: URL, record: ProcessGroupRecord?)? in
            guard name.hasSuffix(".json"), Int32(name.dropLast(5)) != nil else { return nil }
            let file = folder.appendingPathComponent(name)
            guard let json = try? AtomicFile.readJSON(file) else { return (file, nil) }
            return (file, ProcessGroupRecord(json: json))
        }
    }

    /// Tears down groups whose owner process is dead and removes their records; live owners' records are untouched.
    ///
    /// For each record whose owner (pid + start time) is gone:
    /// - the leader (same pid **and** start time) still exists, alive or an unreaped zombie: it pins the pgid,
    ///   so the whole group is signalled with `kill(-pgid)`: SIGTERM, grace, SIGKILL, confirm;
    /// - a process with the leader's pid but another start time exists: the pid was reused; nothing is signalled;
    /// - the leader is gone but the group still has members: a pgid can have been re-created by an unrelated
    ///   process since, so the group is *not* signalled as a whole. Each member is signalled by pid only when it
    ///   is verified as ours: its environment carries the record's `DEMOFORGE_SUPERVISION_TOKEN` and it started
    ///   no earlier than the leader. Unverified members are left alone and reported.
    ///
    /// Runs on a dedicated thread (it waits through grace periods); call it at start-up.
    public func reapOrphans(graceSeconds: Double = 5, killConfirmSeconds: Double = 5) async -> [ReapOutcome] {
        await withCheckedContinuation { continuation in
            let thread = Thread {
                continuation.resume(
                    returning: reapOrphansBlocking(graceSeconds: graceSeconds, confirm: killConfirmSeconds))
            }
            thread.name = "demoforge-reaper"
            thread.start()
        }
    }

    func reapOrphansBlocking(graceSeconds: Double, confirm: Double) -> [ReapOutcome] {
        records().map { entry in
            guard let record = entry.record else {
                unlink(entry.file.path)
                return ReapOutcome(file: entry.file.path, record: nil, action: .unreadable)
            }
            if record.owner.isAlive {
                return ReapOutcome(file: entry.file.path, record: record, action: .ownerAlive)
            }
            let action = OrphanReaper(record: record, grace: graceSeconds, confirm: confirm).reap()
            unlink(entry.file.path)
            return ReapOutcome(file: entry.file.path, record: record, action: action)
        }
    }
}

/// What ``ProcessGroupRegistry/reapOrphans(graceSeconds:killConfirmSeconds:)`` did with one record.
public struct ReapOutcome: Sendable {
    /// The decision taken.
    public enum Action: Sendable, Equatable {
        /// The owner still runs: the record is untouched.
        case ownerAlive
        /// Nothing of the group was left; the record was removed.
        case groupGone
        /// The leader (same pid and start time) still existed; the whole group was torn down.
        case groupTornDown(killEscalated: Bool, confirmedEmpty: Bool)
        /// The leader's pid belongs to another process now (other start time); nothing was signalled.
        case leaderPidReused
        /// The leader was gone but members remained: verified members were signalled by pid, others left alone.
        case membersTornDown(signalled: [Int32], unverified: [Int32], killEscalated: Bool)
        /// The file was not a valid record; it was removed.
        case unreadable
    }

    /// The record file.
    public let file: String
    /// The parsed record, nil when unreadable.
    public let record: ProcessGroupRecord?
    /// What was done.
    public let action: Action
}

/// Tears down what is left of one orphaned group (see ``ProcessGroupRegistry/reapOrphans``).
private struct OrphanReaper {
    let record: ProcessGroupRecord
    let grace: Double
    let confirm: Double

    func reap() -> ReapOutcome.Action {
        let pgid = record.pgid
        if let start = ProcessIdentity.startTime(of: record.leader.pid) {
            guard start == record.leader.startTime else { return .leaderPidReused }
            // The leader (alive or zombie) pins the pgid: signalling the group reaches only its members.
            kill(-pgid, SIGTERM)
            if waitUntil(grace, { ProcessGroupProbe.liveMembers(of: pgid).isEmpty }) {
                return .groupTornDown(killEscalated: false, confirmedEmpty: true)
            }
            kill(-pgid, SIGKILL)
            let empty = waitUntil(confirm, { ProcessGroupProbe.liveMembers(of: pgid).isEmpty })
            return .groupTornDown(killEscalated: true, confirmedEmpty: empty)
        }
        let members = ProcessGroupProbe.liveMembers(of: pgid)
        if members.isEmpty { return .groupGone }
        let verified = members.filter {
            $0.startTime >= record.leader.startTime
                && ProcessGroupProbe.environment(
                    of: $0.pid, contains: ProcessSpawner.tokenVariable, value: record.token)
        }
        let unverified = members.filter { member in !verified.contains { $0.pid == member.pid } }.map(\.pid)
        let identities = verified.map { ProcessIdentity(pid: $0.pid, startTime: $0.startTime) }
        for identity in identities where identity.isAlive { kill(identity.pid, SIGTERM) }
        if waitUntil(grace, { !identities.contains { $0.isAlive } }) {
            return .membersTornDown(signalled: identities.map(\.pid), unverified: unverified, killEscalated: false)
        }
        // Re-checked right before the signal: a member that died meanwhile is not signalled under a reused pid.
        for identity in identities where identity.isAlive { kill(identity.pid, SIGKILL) }
        _ = waitUntil(confirm, { !identities.contains { $0.isAlive } })
        return .membersTornDown(signalled: identities.map(\.pid), unverified: unverified, killEscalated: true)
    }

    /// Polls `condition` every 20 ms for up to `seconds` (this runs on the reaper's own thread).
    private func waitUntil(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = monotonicSeconds() + seconds
        while true {
            if condition() { return true }
            if monotonicSeconds() >= deadline { return false }
            usleep(20_000)
        }
    }
}
