// swift-tools-version:6.0
import PackageDescription

// The engine and protocol code is single-owner by design (one engine thread, one event loop per
// connection), so Swift's dynamic exclusivity checks only cost time there (~7% of a SET in profiles;
// LunarScripting too: its Lua state and scratch buffers belong to the engine thread).
let hotPath: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "Lunar",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "lunar-server", targets: ["lunar-server"]),
        .executable(name: "lunar-cli", targets: ["lunar-cli"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
    ],
    targets: [
        // Lua 5.4 from Debian's liblua5.4-dev, found through pkg-config.
        .systemLibrary(name: "CLua", pkgConfig: "lua5.4", providers: [.apt(["liblua5.4-dev"])]),
        // jemalloc (Debian's libjemalloc-dev) replaces malloc process-wide, as in Redis.
        .systemLibrary(name: "CJemalloc", pkgConfig: "jemalloc", providers: [.apt(["libjemalloc-dev"])]),
        // RESP2/RESP3 wire format: request parser, reply writer, binary-safe Bytes.
        .target(
            name: "LunarRESP", dependencies: [.product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: hotPath),
        // The keyspace engine: the engine thread, databases, data types, command table and commands.
        .target(
            name: "LunarEngine",
            dependencies: [
                "LunarRESP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Collections", package: "swift-collections"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Logging", package: "swift-log"),
                "CJemalloc",
            ],
            swiftSettings: hotPath),
        // Lua 5.4 scripting: EVAL/EVALSHA, SCRIPT, FUNCTION, the Lua sandbox and compatibility layer.
        .target(
            name: "LunarScripting",
            dependencies: ["CLua", "LunarEngine", "LunarRESP", .product(name: "Logging", package: "swift-log")],
            swiftSettings: hotPath),
        // RDB persistence: snapshots in Redis 7.0's file format (SAVE, BGSAVE, loading at start-up).
        .target(
            name: "LunarPersistence",
            dependencies: [
                "LunarEngine", "LunarRESP",
                .product(name: "Collections", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: hotPath),
        // The network server: SwiftNIO channels that parse RESP and hand batches to the engine.
        .target(
            name: "LunarServer",
            dependencies: [
                "LunarEngine", "LunarRESP", "LunarScripting", "LunarPersistence",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: hotPath),
        .executableTarget(
            name: "lunar-server",
            dependencies: ["LunarServer", .product(name: "Logging", package: "swift-log")]),
        // lunar-cli's client logic: connection, reply formatting like redis-cli, modes and the interactive shell.
        .target(name: "LunarClient", dependencies: ["LunarRESP"], swiftSettings: [.swiftLanguageMode(.v5)]),
        .executableTarget(name: "lunar-cli", dependencies: ["LunarClient"]),
        .testTarget(name: "LunarRESPTests", dependencies: ["LunarRESP"]),
        .testTarget(name: "LunarClientTests", dependencies: ["LunarClient", "LunarRESP"],
                    swiftSettings: [.swiftLanguageMode(.v5)]),
        .testTarget(name: "LunarEngineTests", dependencies: ["LunarEngine", "LunarRESP"]),
        .testTarget(
            name: "LunarPersistenceTests",
            dependencies: ["LunarPersistence", "LunarEngine", "LunarRESP", .product(name: "Collections", package: "swift-collections")]),
        .testTarget(name: "LunarScriptingTests", dependencies: ["LunarScripting", "LunarEngine", "LunarRESP", "CLua"]),
        .testTarget(
            name: "LunarServerTests",
            dependencies: ["LunarServer", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")]),
    ]
)
