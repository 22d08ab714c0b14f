import Foundation

/// One line of a child's output.
public struct OutputLine: Sendable, Hashable {
    /// Which pipe a line came from.
    public enum Stream: String, Sendable, Hashable {
        /// The child's fd 1.
        case stdout
        /// The child's fd 2.
        case stderr
    }

    /// The pipe it came from.
    public let stream: Stream
    /// The text without its terminator (`\n`, `\r` or `\r\n`); invalid UTF-8 is replaced with U+FFFD.
    public let text: String
    /// When the line was complete (or flushed at the end).
    public let time: Date

    /// Creates a line.
    public init(stream: Stream, text: String, time: Date) {
        self.stream = stream
        self.text = text
        self.time = time
    }
}

/// Splits a byte stream into lines ending at `\n` or `\r`; `\r\n` ends one line, not two.
struct LineSplitter {
    /// Longer runs without a terminator are emitted in pieces of this size so memory stays bounded.
    static let maxLineBytes = 64 * 1024

    private var buffer: [UInt8] = []
    private var afterCR = false

    /// Feeds bytes and calls `emit` for every completed line.
    mutating func feed(_ bytes: UnsafeRawBufferPointer, _ emit: (String) -> Void) {
        for byte in bytes {
            switch byte {
            case 0x0A:
                if afterCR {
                    afterCR = false
                    continue
                }
                emit(take())
            case 0x0D:
                emit(take())
                afterCR = true
            default:
                afterCR = false
                buffer.append(byte)
                if buffer.count >= LineSplitter.maxLineBytes { emit(take()) }
            }
        }
    }

    /// Emits a trailing partial line, if any.
    mutating func finish(_ emit: (String) -> Void) {
        if !buffer.isEmpty { emit(take()) }
        afterCR = false
    }

    private mutating func take() -> String {
        let text = String(decoding: buffer, as: UTF8.self)
        buffer.removeAll(keepingCapacity: true)
        return text
    }
}
