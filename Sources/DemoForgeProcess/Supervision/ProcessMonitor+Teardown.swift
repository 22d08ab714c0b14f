import DemoForgeSystem

#if canImport(Glibc)
    import Glibc
#endif

extension ProcessMonitor {
    /// SIGTERM to the group, wait up to the grace period, SIGKILL to the group, confirm the group is empty.
    ///
    /// Runs for every ending, the leader's own exit included: members it left behind are torn down too.
    /// Returns true when the group was confirmed empty.
    func tearDown() -> Bool {
        let pgid = child.pid
        // The leader is not reaped yet (alive, or a zombie we have not collected), so the pgid cannot have been
        // reused: this signal reaches only our group. A leader that already exited just ignores it.
        kill(-pgid, SIGTERM)
        if waitForEmptyGroup(until: monotonicSeconds() + options.terminationGraceSeconds) { return true }
        // Members still pin the pgid (a pid is not reused while a group of that number exists).
        if !(control.leaderReaped && groupIsGone()) {
            kill(-pgid, SIGKILL)
            killEscalated = true
        }
        return waitForEmptyGroup(until: monotonicSeconds() + options.killConfirmSeconds)
    }

    /// Reaps the leader and orphaned members as they die; true once the group is empty.
    ///
    /// Empty means `kill(-pgid, 0)` = ESRCH. Zombie members whose parent is not us cannot be reaped here; when
    /// only such zombies have been left for half a second the group counts as empty (nothing runs any more).
    private func waitForEmptyGroup(until deadline: Double) -> Bool {
        var zombiesOnlySince: Double?
        var lastScan = 0.0
        while true {
            reapLeaderIfExited()
            if control.leaderReaped {
                reapOrphanedMembers()
                if groupIsGone() { return true }
                let now = monotonicSeconds()
                // The /proc scan is the slow path; at most ten a second.
                if now - lastScan >= 0.1 {
                    lastScan = now
                    if ProcessGroupProbe.liveMembers(of: child.pid).isEmpty {
                        let since = zombiesOnlySince ?? now
                        zombiesOnlySince = since
                        if now - since >= 0.5 { return true }
                    } else {
                        zombiesOnlySince = nil
                    }
                }
            }
            let now = monotonicSeconds()
            if now >= deadline { return false }
            pump(timeout: min(0.02, deadline - now))
        }
    }

    private func reapLeaderIfExited() {
        guard !control.leaderReaped, leaderHasExited() else { return }
        control.markLeaderReaped()
        var status: Int32 = 0
        while true {
            let reaped = waitpid(child.pid, &status, 0)
            if reaped == child.pid {
                exitStatus = TerminationStatus(waitStatus: status)
                return
            }
            if reaped == -1 && Glibc.errno == EINTR { continue }
            exitStatus = .unknown
            return
        }
    }

    /// Members orphaned by a dead parent are re-parented to us (we are a subreaper); collect their zombies.
    /// Only children in *this* group are reaped, so no other part's children are stolen.
    private func reapOrphanedMembers() {
        var status: Int32 = 0
        while waitpid(-child.pid, &status, WNOHANG) > 0 {}
    }

    private func groupIsGone() -> Bool {
        kill(-child.pid, 0) == -1 && Glibc.errno == ESRCH
    }
}
