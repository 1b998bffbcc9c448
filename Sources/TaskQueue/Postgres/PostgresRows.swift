import CLibPQ
import Foundation

/// The rows of one statement's result, copied out of libpq as text.
struct PostgresRows: Sendable {
    let columns: [String]
    let rows: [PostgresRow]

    init(consuming result: OpaquePointer?, connection: OpaquePointer, sql: String) throws {
        guard let result else {
            let message = String(cString: PQerrorMessage(connection)).trimmingCharacters(in: .whitespacesAndNewlines)
            throw TaskQueueError(.databaseUnavailable, "PostgreSQL did not answer: \(message)")
        }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            let message = String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines)
            let sqlState = taskflow_pq_sqlstate(result).map { String(cString: $0) }
            let broken = PQstatus(connection) != CONNECTION_OK
            throw TaskQueueError(
                broken ? .databaseUnavailable : .databaseError,
                message.isEmpty ? "statement failed" : message,
                underlyingStatus: sqlState
            )
        }
        let fieldCount = Int(PQnfields(result))
        let rowCount = Int(PQntuples(result))
        let columns = (0..<fieldCount).map { String(cString: PQfname(result, Int32($0))) }
        var index: [String: Int] = [:]
        for (offset, name) in columns.enumerated() where index[name] == nil { index[name] = offset }
        var rows: [PostgresRow] = []
        rows.reserveCapacity(rowCount)
        for row in 0..<rowCount {
            var values: [String?] = []
            values.reserveCapacity(fieldCount)
            for field in 0..<fieldCount {
                if PQgetisnull(result, Int32(row), Int32(field)) != 0 {
                    values.append(nil)
                } else {
                    values.append(String(cString: PQgetvalue(result, Int32(row), Int32(field))))
                }
            }
            rows.append(PostgresRow(index: index, values: values))
        }
        self.columns = columns
        self.rows = rows
    }
}

/// One row; typed accessors throw a clear error when a column is missing or malformed.
struct PostgresRow: Sendable {
    let index: [String: Int]
    let values: [String?]

    /// Where `column` is in this result; look it up once and use the positional accessors when
    /// reading many rows (a lookup by name hashes the name every time).
    func position(_ column: String) throws -> Int {
        guard let position = index[column] else {
            throw TaskQueueError(.databaseError, "result has no column \(column)")
        }
        return position
    }

    private func name(_ position: Int) -> String {
        index.first { $0.value == position }?.key ?? "#\(position)"
    }

    func optionalString(_ column: String) throws -> String? { try optionalString(at: position(column)) }
    func string(_ column: String) throws -> String { try string(at: position(column)) }
    func int(_ column: String) throws -> Int { try int(at: position(column)) }
    func uuid(_ column: String) throws -> UUID { try uuid(at: position(column)) }
    func date(_ column: String) throws -> Date { try date(at: position(column)) }
    func optionalDate(_ column: String) throws -> Date? { try optionalDate(at: position(column)) }

    func double(_ column: String) throws -> Double? { try double(at: position(column)) }

    func optionalString(at position: Int) throws -> String? {
        guard values.indices.contains(position) else {
            throw TaskQueueError(.databaseError, "result has no column #\(position)")
        }
        return values[position]
    }

    func string(at position: Int) throws -> String {
        guard let value = try optionalString(at: position) else {
            throw TaskQueueError(.databaseError, "column \(name(position)) is NULL")
        }
        return value
    }

    func int(at position: Int) throws -> Int {
        guard let value = Int(try string(at: position)) else {
            throw TaskQueueError(.databaseError, "column \(name(position)) is not an integer")
        }
        return value
    }

    func double(at position: Int) throws -> Double? {
        try optionalString(at: position).flatMap { Double($0) }
    }

    func uuid(at position: Int) throws -> UUID {
        guard let value = UUID(canonicalText: try string(at: position)) else {
            throw TaskQueueError(.databaseError, "column \(name(position)) is not a uuid")
        }
        return value
    }

    func date(at position: Int) throws -> Date {
        guard let value = try optionalDate(at: position) else {
            throw TaskQueueError(.databaseError, "column \(name(position)) is NULL")
        }
        return value
    }

    func optionalDate(at position: Int) throws -> Date? {
        guard let text = try optionalString(at: position) else { return nil }
        guard let date = PostgresTimestamp.parse(text) else {
            throw TaskQueueError(.databaseError, "column \(name(position)) is not a UTC timestamp: \(text)")
        }
        return date
    }
}

/// Parses `timestamptz` text in the session's UTC zone ("2026-11-23 06:08:13.123456+00"); the text
/// TaskFlow sends the other way is written by `Timestamp.postgresText`.
enum PostgresTimestamp {
    static func parse(_ text: String) -> Date? {
        var text = text
        return text.withUTF8(parse(bytes:))
    }

    /// Works on the string's own bytes: a claim reads several timestamps per task, and copying
    /// each into an array showed in the worker's profile.
    private static func parse(bytes: UnsafeBufferPointer<UInt8>) -> Date? {
        guard bytes.count >= 19 else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for i in range {
                guard bytes[i] >= 48, bytes[i] <= 57 else { return nil }
                value = value * 10 + Int(bytes[i] - 48)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19)
        else { return nil }
        var fraction = 0.0
        var i = 19
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            var scale = 0.1
            while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 {
                fraction += Double(bytes[i] - 48) * scale
                scale /= 10
                i += 1
            }
        }
        // The session runs in UTC, so the offset is +00; anything else is refused rather than guessed.
        if i < bytes.count, !bytes[i...].elementsEqual("+00".utf8) {
            return nil
        }
        return Date(utcYear: year, month: month, day: day, hour: hour, minute: minute, second: second, fraction: fraction)
    }
}

extension Date {
    /// The instant of a UTC calendar date and time (used by TaskFlow's timestamp parsers).
    package init(utcYear year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, fraction: Double = 0) {
        // Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's days_from_civil),
        // the answer `timegm` gives, without its guess-and-convert loop (it showed in the worker's
        // profile: a claim reads several timestamps per task). Fields past their range carry over
        // the same way (February 30 is March 1 or 2).
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        let seconds = ((days * 24 + hour) * 60 + minute) * 60 + second
        self.init(timeIntervalSince1970: Double(seconds) + fraction)
    }
}
