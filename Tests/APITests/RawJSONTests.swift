import Foundation
import Testing

@testable import APIApp

@Suite struct RawJSONTests {
    private func member(_ name: String, _ json: String) -> String? {
        RawJSON.member(name, of: Array(json.utf8)).map { String(decoding: $0, as: UTF8.self) }
    }

    @Test func findsAMemberExactlyAsWritten() {
        let body = #" { "type" : "email", "payload" : {"to": "a@b.c", "tags": ["x", "}\"]"], "n": [1, {"k": null}]} , "priority":"high" } "#
        #expect(member("payload", body) == #"{"to": "a@b.c", "tags": ["x", "}\"]"], "n": [1, {"k": null}]}"#)
        #expect(member("type", body) == #""email""#)
        #expect(member("priority", body) == #""high""#)
        #expect(member("payload", #"{"payload":-12.5e3}"#) == "-12.5e3")
        #expect(member("payload", #"{"payload":null,"type":"x"}"#) == "null")
        #expect(member("payload", #"{"payload":"a \"quoted\" \\ string"}"#) == #""a \"quoted\" \\ string""#)
    }

    @Test func givesUpWhereItCannotBeSure() {
        #expect(member("payload", #"{"type":"x"}"#) == nil)  // absent
        #expect(member("payload", #"{"payload":1,"payload":2}"#) == nil)  // twice
        #expect(member("payload", #"{"p\u0061yload":1}"#) == nil)  // key written with escapes
        #expect(member("payload", "[1,2]") == nil)
        #expect(member("payload", #"{"payload":"#) == nil)
    }

    @Test func whatItFindsParsesToTheSameValue() throws {
        let body = #"{"type":"t","payload":{"a":[1,2,{"b":"c\n"}],"d":true}}"#
        let raw = try #require(RawJSON.member("payload", of: Array(body.utf8)))
        let parsed = try JSONSerialization.jsonObject(with: Data(raw)) as? NSDictionary
        let whole = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
        #expect(parsed == (whole?["payload"] as? NSDictionary))
    }
}
