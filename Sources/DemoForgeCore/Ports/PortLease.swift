import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One leased port. The only way to hold a port: it cannot be copied, and it gives the port back when it ends —
/// through ``release()``, or by going out of scope on any path (return, thrown error, cancellation).
///
/// - Important: keep the lease alive for as long as the port is in use (store it, or call ``release()`` after the
///   server has stopped and the port binds again). Use ``shared()`` to keep it in a class or a collection.
public struct PortLease: ~Copyable, Sendable {
    /// The leased port.
    public let port: Int
    /// The client the port was leased for.
    public let slug: String
    /// The lease file, `<leaseFolder>/<port>.lease`.
    public let path: String
    /// Device and inode of the lease file this lease created, so that release never removes another's file.
    let fileID: FileID

    init(port: Int, slug: String, path: String, fileID: FileID) {
        self.port = port
        self.slug = slug
        self.path = path
        self.fileID = fileID
    }

    /// Gives the port back now (removes the lease file).
    public consuming func release() {
        // The work is in deinit, which runs when `self` is consumed here.
    }

    /// Moves the lease into a reference-counted holder that releases it when released or deallocated.
    public consuming func shared() -> SharedPortLease {
        SharedPortLease(self)
    }

    deinit {
        // Only the creator (alive) ever removes its own lease; reclaimers only remove leases of dead owners,
        // so the inode check guards against nothing but a hand-edited folder.
        if FileID.of(path: path) == fileID {
            unlink(path)
        }
    }
}

/// A ``PortLease`` in a class, for storing in dictionaries or actors' state. Gives the port back on
/// ``release()`` or when the last reference goes away.
public final class SharedPortLease: Sendable {
    /// The leased port.
    public let port: Int
    /// The client the port was leased for.
    public let slug: String
    private let lease: Mutex<PortLease?>

    init(_ lease: consuming PortLease) {
        port = lease.port
        slug = lease.slug
        self.lease = Mutex(Optional(lease))
    }

    /// True until ``release()`` was called.
    public var isHeld: Bool { lease.withLock { $0 != nil } }

    /// Gives the port back now; later calls do nothing.
    public func release() {
        lease.withLock { held in
            if let taken = held.take() { taken.release() }
        }
    }
}

/// Device and inode of a file.
struct FileID: Hashable, Sendable {
    let device: UInt64
    let inode: UInt64

    static func of(path: String) -> FileID? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return FileID(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    static func of(fd: Int32) -> FileID? {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        return FileID(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }
}
