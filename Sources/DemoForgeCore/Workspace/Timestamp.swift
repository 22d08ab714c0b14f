import Foundation

/// ISO 8601 timestamps with milliseconds, in UTC.
public enum Timestamp {
    /// The current time as `2026-12-03T15:41:25.123Z`.
    public static func now() -> String { format(Date()) }

    /// Formats a date as ISO 8601 UTC with milliseconds.
    public static func format(_ date: Date) -> String {
        date.formatted(
            Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: TimeZone(identifier: "UTC")!))
    }
}
