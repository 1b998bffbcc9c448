// swift-tools-version:6.0
import PackageDescription

// A package that uses TaskFlow the way an application does: through the `TaskQueue` product.
// It sits inside TaskFlow's checkout, so it names TaskFlow by path; your package names it by
// the URL of the repository you take it from: `.package(url: "<TaskFlow's git URL>", branch: "main")`.
let package = Package(
    name: "EmailSender",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "TaskFlow", path: "../.."),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // What the enqueuing side and the worker share: payload types, task definitions, configuration.
        .target(
            name: "EmailTasks",
            dependencies: [.product(name: "TaskQueue", package: "TaskFlow")]
        ),
        .executableTarget(
            name: "enqueue-emails",
            dependencies: [
                "EmailTasks",
                .product(name: "TaskQueue", package: "TaskFlow"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "email-worker",
            dependencies: [
                "EmailTasks",
                .product(name: "TaskQueue", package: "TaskFlow"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "check-emails",
            dependencies: [
                "EmailTasks",
                .product(name: "TaskQueue", package: "TaskFlow"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
