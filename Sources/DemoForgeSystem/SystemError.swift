#if canImport(Glibc)
import Glibc
#endif

/// A failed system call: which call, on what, and the `errno` it returned.
public struct SystemError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The C function that failed, e.g. `open`.
    public let call: String
    /// What it was applied to (a path, a pid), if anything.
    public let subject: String?
    /// The `errno` value.
    public let errno: Int32

    public init(call: String, subject: String? = nil, errno: Int32) {
        self.call = call
        self.subject = subject
        self.errno = errno
    }

    public var description: String {
        let reason = String(cString: strerror(errno))
        if let subject { return "\(call)(\(subject)) failed: \(reason) (errno \(errno))" }
        return "\(call) failed: \(reason) (errno \(errno))"
    }
}

/// Runs a libc call, retrying on `EINTR`, and throws a ``SystemError`` for a -1 result.
///
/// - Parameters:
///   - call: the function's name for the error message.
///   - subject: what the call acts on, for the error message.
///   - body: the call; it returns -1 and sets `errno` on failure.
@discardableResult
public func valueOrErrno<T: FixedWidthInteger>(
    _ call: String,
    _ subject: String? = nil,
    _ body: () -> T
) throws(SystemError) -> T {
    while true {
        let result = body()
        if result != -1 { return result }
        let code = Glibc.errno
        if code == EINTR { continue }
        throw SystemError(call: call, subject: subject, errno: code)
    }
}
