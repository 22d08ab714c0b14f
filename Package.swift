// swift-tools-version:6.0
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "DemoForge",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "demoforge", targets: ["demoforge"]),
        .executable(name: "demoforge-bench", targets: ["demoforge-bench"]),
    ],
    targets: [
        // GNU-only libc names (OFD locks, POSIX_SPAWN_SETSID, closefrom, inotify) that Glibc does not import.
        .target(name: "CDemoForgeShims"),
        // libevent (evhttp) from Debian's libevent-dev.
        .systemLibrary(
            name: "CLibevent",
            pkgConfig: "libevent_pthreads",
            providers: [.apt(["libevent-dev"])]
        ),
        .target(name: "DemoForgeSystem", dependencies: ["CDemoForgeShims"], swiftSettings: strict),
        .target(name: "DemoForgeStore", dependencies: ["DemoForgeSystem", "CDemoForgeShims"], swiftSettings: strict),
        .target(
            name: "DemoForgeProcess",
            dependencies: ["DemoForgeSystem", "DemoForgeStore", "CDemoForgeShims"],
            swiftSettings: strict
        ),
        .target(
            name: "DemoForgeCore",
            dependencies: ["DemoForgeSystem", "DemoForgeStore", "DemoForgeProcess", "CDemoForgeShims"],
            resources: [.copy("Resources")],
            swiftSettings: strict
        ),
        .target(
            name: "DemoForgeHTTP",
            dependencies: ["DemoForgeCore", "CLibevent", "DemoForgeSystem"],
            resources: [.copy("Dashboard")],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "demoforge",
            dependencies: ["DemoForgeCore", "DemoForgeHTTP"],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "demoforge-bench",
            dependencies: ["DemoForgeCore", "DemoForgeHTTP"],
            swiftSettings: strict
        ),
        .target(
            name: "DemoForgeTesting",
            dependencies: ["DemoForgeCore", "DemoForgeSystem"],
            swiftSettings: strict
        ),
        .testTarget(name: "DemoForgeStoreTests", dependencies: ["DemoForgeStore", "DemoForgeTesting"], swiftSettings: strict),
        .testTarget(
            name: "DemoForgeProcessTests",
            dependencies: ["DemoForgeProcess", "DemoForgeTesting"],
            swiftSettings: strict
        ),
        .testTarget(name: "DemoForgeCoreTests", dependencies: ["DemoForgeCore", "DemoForgeTesting"], swiftSettings: strict),
        .testTarget(name: "DemoForgeHTTPTests", dependencies: ["DemoForgeHTTP", "DemoForgeTesting"], swiftSettings: strict),
        .testTarget(name: "DemoForgeCLITests", dependencies: ["DemoForgeTesting"], swiftSettings: strict),
    ]
)
