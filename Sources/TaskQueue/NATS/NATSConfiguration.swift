import Foundation

/// How to reach NATS.
public struct NATSConfiguration: Sendable {
    /// Server URLs (`nats://user:password@host:4222`, `nats://token@host:4222`, `tls://host:4222`).
    /// A comma-separated `NATS_URL` splits into this list.
    public var urls: [String]
    /// The connection name shown by the server's monitoring.
    public var connectionName: String
    /// A `.creds` file (JWT and NKey seed) for decentralised auth.
    public var credentialsFile: String?
    /// TLS: the CA bundle that signs the server's certificate; setting it turns TLS on.
    public var tlsCAFile: String?
    /// TLS client certificate, for servers that verify clients.
    public var tlsCertificateFile: String?
    /// The private key of ``tlsCertificateFile``.
    public var tlsKeyFile: String?
    /// Delay between reconnect attempts (jitter is added); reconnects never give up.
    public var reconnectWait: Duration
    /// How long a JetStream API request or synchronous publish may take.
    public var requestTimeout: Duration
    /// Start even when no server answers yet and keep trying in the background (default true);
    /// false makes `connect` fail at once, as a command-line tool wants.
    public var retryOnFailedConnect: Bool

    /// A configuration for these servers; the rest has defaults.
    public init(
        urls: [String],
        connectionName: String = "taskflow",
        credentialsFile: String? = nil,
        tlsCAFile: String? = nil,
        tlsCertificateFile: String? = nil,
        tlsKeyFile: String? = nil,
        reconnectWait: Duration = .seconds(1),
        requestTimeout: Duration = .seconds(5),
        retryOnFailedConnect: Bool = true
    ) {
        self.urls = urls
        self.connectionName = connectionName
        self.credentialsFile = credentialsFile
        self.tlsCAFile = tlsCAFile
        self.tlsCertificateFile = tlsCertificateFile
        self.tlsKeyFile = tlsKeyFile
        self.reconnectWait = reconnectWait
        self.requestTimeout = requestTimeout
        self.retryOnFailedConnect = retryOnFailedConnect
    }

    /// Splits a comma-separated URL list, as `NATS_URL` carries it.
    public init(url: String, connectionName: String = "taskflow") {
        self.init(
            urls: url.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty },
            connectionName: connectionName
        )
    }
}
