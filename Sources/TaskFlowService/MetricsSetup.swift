import Hummingbird
import Metrics
import Prometheus

/// Bootstraps swift-metrics with a Prometheus registry, once per process.
public enum MetricsSetup {
    public static func bootstrap() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }
}

extension PrometheusCollectorRegistry {
    /// The registry as a `text/plain; version=0.0.4` response.
    public func response() -> Response {
        var buffer: [UInt8] = []
        emit(into: &buffer)
        return Response(
            status: .ok,
            headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: buffer))
        )
    }
}
