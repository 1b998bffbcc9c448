import TaskFlowService
import TaskQueue
import Testing

@Suite("Tracing is on only when the environment names an OTLP endpoint")
struct TracingSetupTests {
    @Test func anEndpointTurnsTracingOnAndTheStandardSwitchesTurnItOff() throws {
        let endpoint = ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"]
        #expect(try !TracingSetup.isRequested(EnvironmentReader([:])))
        #expect(try !TracingSetup.isRequested(EnvironmentReader(["OTEL_SERVICE_NAME": "x", "OTEL_TRACES_SAMPLER": "always_on"])))
        #expect(try TracingSetup.isRequested(EnvironmentReader(endpoint)))
        #expect(try TracingSetup.isRequested(EnvironmentReader(["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"])))
        #expect(try !TracingSetup.isRequested(EnvironmentReader(endpoint.merging(["OTEL_SDK_DISABLED": "true"]) { $1 })))
        #expect(try !TracingSetup.isRequested(EnvironmentReader(endpoint.merging(["OTEL_TRACES_EXPORTER": "none"]) { $1 })))
        #expect(throws: EnvironmentReader.InvalidSetting.self) {
            try TracingSetup.isRequested(EnvironmentReader(endpoint.merging(["OTEL_SDK_DISABLED": "maybe"]) { $1 }))
        }
    }
}
