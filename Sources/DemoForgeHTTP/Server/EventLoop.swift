import CLibevent
import Foundation
import Synchronization

/// One libevent `event_base` run by one dedicated thread. Other threads hand work to it through a locked
/// mailbox and `event_active` (libevent is made thread-aware first with `evthread_use_pthreads`).
///
/// - Important: everything reached from a posted job (requests, connections, timers) belongs to the loop
///   thread; nothing else may touch it.
final class EventLoop: @unchecked Sendable {
    typealias Job = @Sendable () -> Void

    private struct Mailbox {
        var jobs: [Job] = []
        var open = true
    }

    /// Must run before the first `event_base_new` of the process.
    private static let threadingReady: Bool = evthread_use_pthreads() == 0

    let base: OpaquePointer
    /// Set once in `init`, freed by the loop thread only after the mailbox closed (under its lock).
    private var wake: OpaquePointer?
    private let mailbox = Mutex(Mailbox())
    private let loopThread = Mutex<pthread_t?>(nil)

    init() throws(HTTPServerError) {
        guard EventLoop.threadingReady, let base = event_base_new() else {
            throw HTTPServerError(code: .libevent, message: "libevent: event_base_new failed")
        }
        self.base = base
        let callback: event_callback_fn = { _, _, arg in
            guard let arg else { return }
            Unmanaged<EventLoop>.fromOpaque(arg).takeUnretainedValue().runJobs()
        }
        // The loop object outlives its base (freed in `run`), so an unretained pointer is safe here.
        guard let wake = event_new(base, -1, 0, callback, Unmanaged.passUnretained(self).toOpaque()) else {
            event_base_free(base)
            throw HTTPServerError(code: .libevent, message: "libevent: event_new failed")
        }
        self.wake = wake
    }

    /// True on the loop thread.
    var isLoopThread: Bool {
        loopThread.withLock { thread in thread.map { pthread_equal($0, pthread_self()) != 0 } ?? false }
    }

    /// Hands `job` to the loop thread. Returns false (dropping the job) once the loop has stopped.
    @discardableResult
    func post(_ job: @escaping Job) -> Bool {
        // event_active under the mailbox lock: the loop thread frees `wake` only after closing the mailbox under
        // the same lock. (libevent runs callbacks without its base lock held, so this cannot deadlock.)
        mailbox.withLock { box -> Bool in
            guard box.open else { return false }
            box.jobs.append(job)
            if box.jobs.count == 1, let wake { event_active(wake, EV_READ, 0) }
            return true
        }
    }

    private func runJobs() {
        let jobs = mailbox.withLock { box -> [Job] in
            let jobs = box.jobs
            box.jobs = []
            return jobs
        }
        for job in jobs { job() }
    }

    /// Starts the loop thread; `onExit` runs on it after the loop ended and the base was freed.
    func start(onExit: @escaping @Sendable () -> Void) {
        let thread = Thread { [self] in
            loopThread.withLock { $0 = pthread_self() }
            _ = event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY)
            // Stop accepting jobs, then drop what is left: they refer to freed requests.
            let leftover = mailbox.withLock { box -> [Job] in
                box.open = false
                let jobs = box.jobs
                box.jobs = []
                return jobs
            }
            _ = leftover
            if let wake { event_free(wake) }
            wake = nil
            // Every event, connection and listener on the base is gone by now (evhttp_free ran first).
            event_base_free(base)
            onExit()
        }
        thread.name = "demoforge-http-loop"
        thread.start()
    }

    /// Frees the base of a loop whose thread never started (a failed start).
    func discardUnstarted() {
        mailbox.withLock { box in
            box.open = false
            box.jobs = []
            if let wake { event_free(wake) }
            wake = nil
        }
        event_base_free(base)
    }

    /// Makes `event_base_loop` return (loop thread).
    func stop() {
        event_base_loopbreak(base)
    }
}
