/// A JSON object's members in the order they were given (a dictionary literal keeps its order).
struct JSONObject: Sendable, ExpressibleByDictionaryLiteral {
    private(set) var members: [(String, JSONValue)]

    init(dictionaryLiteral elements: (String, JSONValue)...) {
        members = elements
    }

    init(_ members: [(String, JSONValue)]) {
        self.members = members
    }

    /// Sets a member: replaces a key that is present, appends one that is not.
    subscript(key: String) -> JSONValue? {
        get { members.first { $0.0 == key }?.1 }
        set {
            let index = members.firstIndex { $0.0 == key }
            switch (index, newValue) {
            case (let index?, let value?): members[index].1 = value
            case (let index?, nil): members.remove(at: index)
            case (nil, let value?): members.append((key, value))
            case (nil, nil): break
            }
        }
    }
}
