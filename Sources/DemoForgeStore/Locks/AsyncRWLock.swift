import DemoForgeSystem
import Foundation
import Synchronization

/// An in-process readers-writer lock whose waiters suspend instead of blocking a thread.
///
/// Waiters are served in arrival order: once a writer is queued, readers that arrive after it wait
/// behind it, so a stream of readers cannot starve a writer. Every wait has a deadline.
final class AsyncRWLock: Sendable {
    enum Outcome: Sendable {
        case granted
        case timedOut
        case cancelled
    }

    private struct Waiter {
        let id: UInt64
        let exclusive: Bool
        let continuation: CheckedContinuation<Outcome, Never>
    }

    private struct State {
        var readers = 0
        var writer = false
        var queue: [Waiter] = []
        var nextID: UInt64 = 0
    }

    private let state = Mutex(State())

    /// Waits for the lock until `deadline` (monotonic seconds). Returns how the wait ended.
    func acquire(exclusive: Bool, deadline: Double) async -> Outcome {
        let id = state.withLock { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Outcome, Never>) in
                let grantedAtOnce = state.withLock { state -> Bool in
                    if state.queue.isEmpty && Self.canGrant(state, exclusive: exclusive) {
                        Self.grant(&state, exclusive: exclusive)
                        return true
                    }
                    state.queue.append(Waiter(id: id, exclusive: exclusive, continuation: continuation))
                    return false
                }
                if grantedAtOnce {
                    continuation.resume(returning: .granted)
                    return
                }
                // A timer per queued waiter; it finds nothing to do if the waiter was served first.
                let delay = max(0, deadline - monotonicSeconds())
                Task { [self] in
                    try? await Task.sleep(for: .seconds(delay))
                    self.remove(id: id, outcome: .timedOut)
                }
            }
        } onCancel: {
            self.remove(id: id, outcome: .cancelled)
        }
    }

    /// Releases a hold taken with `acquire`.
    func release(exclusive: Bool) {
        let woken = state.withLock { state -> [Waiter] in
            if exclusive {
                state.writer = false
            } else {
                state.readers -= 1
            }
            return Self.admit(&state)
        }
        for waiter in woken { waiter.continuation.resume(returning: .granted) }
    }

    private func remove(id: UInt64, outcome: Outcome) {
        let (removed, woken) = state.withLock { state -> (Waiter?, [Waiter]) in
            guard let index = state.queue.firstIndex(where: { $0.id == id }) else { return (nil, []) }
            let waiter = state.queue.remove(at: index)
            // A queued writer that leaves may unblock readers behind it.
            return (waiter, Self.admit(&state))
        }
        removed?.continuation.resume(returning: outcome)
        for waiter in woken { waiter.continuation.resume(returning: .granted) }
    }

    private static func canGrant(_ state: State, exclusive: Bool) -> Bool {
        exclusive ? (!state.writer && state.readers == 0) : !state.writer
    }

    private static func grant(_ state: inout State, exclusive: Bool) {
        if exclusive { state.writer = true } else { state.readers += 1 }
    }

    private static func admit(_ state: inout State) -> [Waiter] {
        var woken: [Waiter] = []
        while let head = state.queue.first, canGrant(state, exclusive: head.exclusive) {
            state.queue.removeFirst()
            grant(&state, exclusive: head.exclusive)
            woken.append(head)
            if head.exclusive { break }
        }
        return woken
    }
}
