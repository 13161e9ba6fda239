// swift-tools-version:6.0
import PackageDescription

// Release builds drop the runtime exclusivity checks (~50 per request, ~2 % of the gateway's
// instructions on the non-streamed path); debug builds, which the tests run, keep them, so a
// violation still fails a test.
let releaseSettings: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "Clawgate",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "clawgate", targets: ["clawgate"]),
        .executable(name: "clawgate-sim", targets: ["clawgate-sim"]),
        .executable(name: "clawgate-bench", targets: ["clawgate-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
    ],
    targets: [
        // C libraries from Debian; each shim only exposes what Swift cannot import by itself.
        .systemLibrary(name: "CLws", pkgConfig: "libwebsockets", providers: [.apt(["libwebsockets-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CJansson", pkgConfig: "jansson", providers: [.apt(["libjansson-dev"])]),
        .systemLibrary(name: "CEpoll"),
        // The two pieces of C with code of their own: lws's own poll() served from an epoll
        // set, and lws's filtered-out log calls dropped before they format anything.
        .target(name: "LwsEpoll"),
        .target(name: "LwsLogFilter"),

        // Pure model: no C module, no I/O.
        .target(name: "ClawgateCore", dependencies: [
            .product(name: "Yams", package: "Yams"),
        ], swiftSettings: releaseSettings),
        // One file per provider wire format (jansson for the hot decode path).
        .target(name: "ClawgateProviders", dependencies: ["ClawgateCore", "CJansson"], swiftSettings: releaseSettings),
        // The lws loop, sessions, ingress doors and the libcurl driver.
        .target(name: "ClawgateServer", dependencies: [
            "ClawgateCore", "ClawgateProviders", "CLws", "CCurl", "CJansson", "CEpoll", "LwsEpoll", "LwsLogFilter",
            .product(name: "DequeModule", package: "swift-collections"),
        ], swiftSettings: releaseSettings),
        // A provider simulator speaking OpenAI's wire format, for tests and benchmarks.
        .target(name: "ClawgateSim", dependencies: [
            "ClawgateCore", "CLws", "CJansson", "CEpoll", "LwsEpoll", "LwsLogFilter",
        ]),
        .executableTarget(name: "clawgate", dependencies: [
            "ClawgateServer", "ClawgateCore",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "clawgate-sim", dependencies: [
            "ClawgateSim",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], exclude: ["README.md"]),
        // Load generator for `make bench`: libcurl multi and the lws client, like the gateway.
        .executableTarget(name: "clawgate-bench", dependencies: [
            "CCurl", "CLws", "CJansson", "LwsEpoll", "LwsLogFilter",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "ClawgateCoreTests", dependencies: ["ClawgateCore"]),
        .testTarget(name: "ClawgateProvidersTests", dependencies: ["ClawgateProviders", "ClawgateCore"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "ClawgateServerTests", dependencies: ["ClawgateServer", "ClawgateSim", "ClawgateCore", "CCurl", "LwsEpoll", "LwsLogFilter", "CLws"]),
    ]
)
