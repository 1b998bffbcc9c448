import CNATS

/// Reading streams, consumers and messages without consuming them, and deleting (tests and tooling).
extension NATSClient {
    /// The message at `sequence`, or nil when the stream no longer holds it.
    func message(stream: String, sequence: UInt64) async throws -> StoredMessage? {
        try await request {
            var message: OpaquePointer?
            var errorCode = jsErrCode(0)
            let status = js_GetMsg(&message, self.jetStream, stream, sequence, nil, &errorCode)
            if status == NATS_NOT_FOUND || errorCode == JSNoMessageFoundErr { return nil }
            guard status == NATS_OK, let message else {
                throw natsError(status, "read message \(sequence) of \(stream)", errorCode: errorCode)
            }
            defer { natsMsg_Destroy(message) }
            let stored = JetStreamMessageCopy(message)
            return StoredMessage(sequence: sequence, subject: stored.subject, data: stored.data, headers: stored.headers)
        }
    }

    func streamInfo(_ name: String) async throws -> StreamSnapshot? {
        try await request { try self.streamInfoBlocking(name) }
    }

    func streamInfoBlocking(_ name: String) throws -> StreamSnapshot? {
        var info: UnsafeMutablePointer<jsStreamInfo>?
        var errorCode = jsErrCode(0)
        let status = js_GetStreamInfo(&info, jetStream, name, nil, &errorCode)
        if status == NATS_NOT_FOUND || errorCode == JSStreamNotFoundErr { return nil }
        guard status == NATS_OK, let info else {
            throw natsError(status, "read stream \(name)", errorCode: errorCode)
        }
        defer { jsStreamInfo_Destroy(info) }
        return StreamSnapshot(info.pointee)
    }

    func consumers(stream: String) async throws -> [ConsumerSnapshot] {
        try await request {
            var list: UnsafeMutablePointer<jsConsumerInfoList>?
            var errorCode = jsErrCode(0)
            let status = js_Consumers(&list, self.jetStream, stream, nil, &errorCode)
            if status == NATS_NOT_FOUND { return [] }
            guard status == NATS_OK, let list else {
                throw natsError(status, "list consumers of \(stream)", errorCode: errorCode)
            }
            defer { jsConsumerInfoList_Destroy(list) }
            return (0..<Int(list.pointee.Count)).compactMap { index in
                list.pointee.List[index].map { ConsumerSnapshot($0.pointee) }
            }.sorted { $0.name < $1.name }
        }
    }

    /// The consumer's settings, or nil when it does not exist (provisioning compares them with its spec).
    func consumerInfoBlocking(stream: String, name: String) throws -> ConsumerConfigCopy? {
        var info: UnsafeMutablePointer<jsConsumerInfo>?
        var errorCode = jsErrCode(0)
        let status = js_GetConsumerInfo(&info, jetStream, stream, name, nil, &errorCode)
        if status == NATS_NOT_FOUND || errorCode == JSConsumerNotFoundErr { return nil }
        guard status == NATS_OK, let info else {
            throw natsError(status, "read consumer \(name)", errorCode: errorCode)
        }
        defer { jsConsumerInfo_Destroy(info) }
        return ConsumerConfigCopy(info.pointee.Config)
    }

    /// Removes one message from a stream (what a broker crash does to an unsynced message).
    func deleteMessage(stream: String, sequence: UInt64) async throws {
        try await request {
            var errorCode = jsErrCode(0)
            try natsCheck(js_DeleteMsg(self.jetStream, stream, sequence, nil, &errorCode), "delete message \(sequence)", errorCode: errorCode)
        }
    }

    /// Deletes a stream (tests and tooling clean up with it).
    func deleteStream(_ name: String) async throws {
        try await request {
            var errorCode = jsErrCode(0)
            let status = js_DeleteStream(self.jetStream, name, nil, &errorCode)
            if status == NATS_NOT_FOUND || errorCode == JSStreamNotFoundErr { return }
            try natsCheck(status, "delete stream \(name)", errorCode: errorCode)
        }
    }
}
