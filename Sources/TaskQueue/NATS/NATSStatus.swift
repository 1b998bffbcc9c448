import CNATS

/// Turns a nats.c status into a TaskQueueError carrying the library's own text.
func natsCheck(_ status: natsStatus, _ operation: String, errorCode: jsErrCode = jsErrCode(0)) throws {
    guard status != NATS_OK else { return }
    throw natsError(status, operation, errorCode: errorCode)
}

func natsError(_ status: natsStatus, _ operation: String, errorCode: jsErrCode = jsErrCode(0)) -> TaskQueueError {
    let text = String(cString: natsStatus_GetText(status))
    var detail = ""
    var lastStatus = NATS_OK
    if let last = nats_GetLastError(&lastStatus) {
        let lastText = String(cString: last)
        if !lastText.isEmpty, lastText != text { detail = ": \(lastText)" }
    }
    let connectionProblem = [
        NATS_CONNECTION_CLOSED, NATS_CONNECTION_DISCONNECTED, NATS_NO_SERVER,
        NATS_NOT_YET_CONNECTED, NATS_STALE_CONNECTION, NATS_TIMEOUT, NATS_NO_RESPONDERS,
    ]
    .contains(status)
    let code: TaskQueueError.Code = connectionProblem ? .natsUnavailable : .jetStreamError
    let jsCode = errorCode.rawValue != 0 ? " (JetStream error \(errorCode.rawValue))" : ""
    return TaskQueueError(code, "\(operation) failed: \(text)\(detail)\(jsCode)", underlyingStatus: text)
}
