import Foundation
import Testing

@testable import APIApp

@Suite struct JSONValueTests {
    private func text(_ value: JSONValue) -> String { String(decoding: value.bytes, as: UTF8.self) }

    @Test func objectsKeepTheirKeyOrderAndEscapeStrings() throws {
        let value = JSONValue.object([
            "z": "quote \" backslash \\ newline \n tab \t bell \u{07} é ✓",
            "a": .array([1, true, .null, .double(1.5), .raw("{\"k\":[1,2]}")]),
            "m": .nullable(nil as String?),
        ])
        let encoded = text(value)
        #expect(encoded.hasPrefix("{\"z\":"))
        #expect(encoded.contains("\"a\":[1,true,null,1.5,{\"k\":[1,2]}]"))
        #expect(encoded.hasSuffix(",\"m\":null}"))
        // Whatever we write, a standard parser reads back the same values.
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(value.bytes)) as? [String: Any])
        #expect(parsed["z"] as? String == "quote \" backslash \\ newline \n tab \t bell \u{07} é ✓")
        #expect(parsed["m"] is NSNull)
    }

    @Test func nonFiniteNumbersBecomeNull() {
        #expect(text(.array([.double(.nan), .double(.infinity)])) == "[null,null]")
    }
}
