import Foundation

/// A value that travels to PostgreSQL as a text parameter.
protocol PostgresEncodable: Sendable {
    var postgresText: String { get }
}

extension String: PostgresEncodable { var postgresText: String { self } }
extension Int: PostgresEncodable { var postgresText: String { String(self) } }
extension Int64: PostgresEncodable { var postgresText: String { String(self) } }
extension Double: PostgresEncodable { var postgresText: String { String(self) } }
extension Bool: PostgresEncodable { var postgresText: String { self ? "t" : "f" } }
extension UUID: PostgresEncodable { var postgresText: String { uuidString.lowercased() } }
extension Date: PostgresEncodable { var postgresText: String { PostgresTimestamp.format(self) } }

/// A one-dimensional array literal; every element is quoted, NULL stays bare.
struct PostgresArray: PostgresEncodable {
    let elements: [String?]

    init(_ elements: [String?]) { self.elements = elements }
    init<E: PostgresEncodable>(_ elements: [E]) { self.elements = elements.map(\.postgresText) }
    init<E: PostgresEncodable>(_ elements: [E?]) { self.elements = elements.map { $0?.postgresText } }

    var postgresText: String {
        var text = "{"
        for (offset, element) in elements.enumerated() {
            if offset > 0 { text += "," }
            guard let element else { text += "NULL"; continue }
            text += "\""
            for character in element {
                if character == "\"" || character == "\\" { text.append("\\") }
                text.append(character)
            }
            text += "\""
        }
        return text + "}"
    }
}
