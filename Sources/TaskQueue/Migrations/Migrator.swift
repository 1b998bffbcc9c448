import Foundation
import Logging

/// One numbered schema change with its way back.
struct Migration: Sendable, Equatable {
    let version: Int
    let name: String
    let up: String
    let down: String
}

/// Applies TaskFlow's migrations (`deployments/migrations/NNN_name.up.sql`, embedded in the
/// library) in order, once each, recorded in `schema_migrations`. An advisory lock serialises
/// processes that start at the same moment.
enum Migrator {
    /// Reads `NNN_name.up.sql` / `NNN_name.down.sql` pairs from a folder.
    static func load(from directory: URL) throws -> [Migration] {
        let files: [String]
        do {
            files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw TaskQueueError(.migrationFailed, "cannot read migrations folder \(directory.path): \(error)")
        }
        var migrations: [Migration] = []
        for file in files.sorted() where file.hasSuffix(".up.sql") {
            let stem = String(file.dropLast(".up.sql".count))
            guard let underscore = stem.firstIndex(of: "_"), let version = Int(stem[..<underscore]) else {
                throw TaskQueueError(.migrationFailed, "migration file \(file) is not named NNN_name.up.sql")
            }
            let up = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            let downURL = directory.appendingPathComponent("\(stem).down.sql")
            guard let down = try? String(contentsOf: downURL, encoding: .utf8) else {
                throw TaskQueueError(.migrationFailed, "migration \(file) has no \(stem).down.sql")
            }
            migrations.append(Migration(version: version, name: String(stem[stem.index(after: underscore)...]), up: up, down: down))
        }
        let versions = migrations.map(\.version)
        guard Set(versions).count == versions.count else {
            throw TaskQueueError(.migrationFailed, "two migrations share a version number in \(directory.path)")
        }
        return migrations
    }

    /// The migrations to apply: read from `directory` when given, else from the folder named by
    /// `TASKFLOW_MIGRATIONS_DIR` when set, else the copy embedded in the library (the usual case:
    /// nothing is read from disk).
    static func migrations(_ directory: URL? = nil) throws -> [Migration] {
        if let directory { return try load(from: directory) }
        if let configured = ProcessInfo.processInfo.environment["TASKFLOW_MIGRATIONS_DIR"], !configured.isEmpty {
            return try load(from: URL(fileURLWithPath: configured))
        }
        return embedded
    }

    /// Applies every migration not yet recorded; returns the versions it applied.
    @discardableResult
    static func migrate(_ migrations: [Migration], pool: PostgresPool, schema: String?, logger: Logger) async throws -> [Int] {
        if let schema { try validateSchemaName(schema) }
        let applied: [Int] = try await pool.withSession { session in
            // One lock per schema, so test schemas migrate side by side.
            _ = try session.execute("SELECT pg_advisory_lock(hashtext('taskflow.migrations:' || $1))", [schema ?? ""])
            defer { _ = try? session.execute("SELECT pg_advisory_unlock(hashtext('taskflow.migrations:' || $1))", [schema ?? ""]) }
            if let schema {
                // An identifier cannot be a parameter; the name was checked against [a-z_][a-z0-9_]* above.
                try session.execute("CREATE SCHEMA IF NOT EXISTS \"\(schema)\"")
            }
            try session.execute(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version integer PRIMARY KEY,
                    name text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """)
            let done = Set(try session.execute("SELECT version FROM schema_migrations").rows.map { try $0.int("version") })
            var appliedNow: [Int] = []
            for migration in migrations.sorted(by: { $0.version < $1.version }) where !done.contains(migration.version) {
                do {
                    try session.transaction {
                        try session.executeScript(migration.up)
                        try session.execute(
                            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                            [migration.version, migration.name]
                        )
                    }
                } catch {
                    throw TaskQueueError(.migrationFailed, "migration \(migration.version)_\(migration.name) failed: \(error)")
                }
                appliedNow.append(migration.version)
            }
            return appliedNow
        }
        if !applied.isEmpty {
            logger.info("applied migrations", metadata: [LogKey.migrations: .string(applied.map(String.init).joined(separator: ","))])
        }
        return applied
    }

    static func validateSchemaName(_ schema: String) throws {
        let valid =
            !schema.isEmpty && schema.count <= 63
            && schema.utf8.enumerated().allSatisfy { offset, byte in
                (byte >= 97 && byte <= 122) || byte == 95 || (offset > 0 && byte >= 48 && byte <= 57)
            }
        guard valid else {
            throw TaskQueueError(.invalidArgument, "schema name \(schema) must match [a-z_][a-z0-9_]{0,62}")
        }
    }
}
