import Foundation

/// A value that travels to PostgreSQL as a text parameter.
protocol PostgresEncodable: Sendable {
    var postgresText: String { get }
}

extension String: PostgresEncodable { var postgresText: String { self } }
extension Int: PostgresEncodable { var postgresText: String { String(self) } }
extension Int64: PostgresEncodable { var postgresText: String { String(self) } }
extension Double: PostgresEncodable { var postgresText: String { String(self) } }
extension UUID: PostgresEncodable { var postgresText: String { lowercasedText } }
extension Date: PostgresEncodable { var postgresText: String { Timestamp.postgresText(self) } }

/// A one-dimensional array literal; every element is quoted, NULL stays bare.
struct PostgresArray: PostgresEncodable {
    let elements: [String?]

    init(_ elements: [String?]) { self.elements = elements }
    init<E: PostgresEncodable>(_ elements: [E]) { self.elements = elements.map(\.postgresText) }
    init<E: PostgresEncodable>(_ elements: [E?]) { self.elements = elements.map { $0?.postgresText } }

    var postgresText: String {
        var text: [UInt8] = [UInt8(ascii: "{")]
        text.reserveCapacity(elements.reduce(2) { $0 + ($1?.utf8.count ?? 4) + 3 })
        for (offset, element) in elements.enumerated() {
            if offset > 0 { text.append(UInt8(ascii: ",")) }
            guard let element else {
                text.append(contentsOf: "NULL".utf8)
                continue
            }
            text.append(UInt8(ascii: "\""))
            for byte in element.utf8 {
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { text.append(UInt8(ascii: "\\")) }
                text.append(byte)
            }
            text.append(UInt8(ascii: "\""))
        }
        text.append(UInt8(ascii: "}"))
        return String(decoding: text, as: UTF8.self)
    }
}
