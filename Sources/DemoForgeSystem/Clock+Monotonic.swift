#if canImport(Glibc)
import Glibc
#endif

/// Seconds on the monotonic clock, for durations that must not jump with the wall clock.
public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// True when the test-only fault point `name` is switched on (environment `DEMOFORGE_FAULT=name`).
public func faultPoint(_ name: String) -> Bool {
    guard let value = getenv("DEMOFORGE_FAULT") else { return false }
    return String(cString: value) == name
}
