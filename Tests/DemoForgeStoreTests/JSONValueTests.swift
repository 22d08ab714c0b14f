import DemoForgeStore
import Foundation
import Testing

@Suite struct JSONValueTests {
    @Test func parsesAndPrintsWithSortedKeys() throws {
        let value = try JSONValue.parse(#"{"b": [1, 2.5, "x\n"], "a": {"z": null, "y": true}}"#)
        #expect(value[path: "b.1"] == .double(2.5))
        #expect(value[path: "a.y"] == .bool(true))
        #expect(value.compact() == #"{"a":{"y":true,"z":null},"b":[1,2.5,"x\n"]}"#)
        #expect(value.prettyPrinted() == "{\n  \"a\": {\n    \"y\": true,\n    \"z\": null\n  },\n  \"b\": [\n    1,\n    2.5,\n    \"x\\n\"\n  ]\n}\n")
    }

    @Test func malformedJSONNamesLineAndColumn() {
        #expect(throws: JSONParseError(message: "Expected ',' or '}' in an object, found 'x'", line: 3, column: 15)) {
            try JSONValue.parse("{\n  \"ports\": {\n    \"from\": 80x\n}}")
        }
        #expect(throws: JSONParseError(message: "Unexpected end of input inside an object", line: 1, column: 10)) {
            try JSONValue.parse("{\"a\": 1  ")
        }
        #expect(throws: JSONParseError(message: "Duplicate key \"a\"", line: 1, column: 10)) {
            try JSONValue.parse("{\"a\": 1, \"a\": 2}")
        }
    }

    @Test func setCreatesNestedObjects() {
        var value: JSONValue = ["keys": ["x": 1]]
        value.set(path: "keys.p1_2", to: 2)
        value.set(path: "new.deep.key", to: "v")
        #expect(value[path: "keys.x"] == .int(1))
        #expect(value[path: "keys.p1_2"] == .int(2))
        #expect(value[path: "new.deep.key"] == .string("v"))
    }

    @Test func unicodeEscapesRoundTrip() throws {
        let value = try JSONValue.parse(#""caf\u00e9 \ud83d\ude00 \u2028""#)
        #expect(value == .string("café 😀 \u{2028}"))
        #expect(value.compact() == "\"café 😀 \\u2028\"")
    }
}
