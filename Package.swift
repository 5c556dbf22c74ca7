// swift-tools-version:6.0
//
// plakar-scaleway: a Plakar importer/exporter plugin for Scaleway Compute
// instances, plus the local Scaleway simulator it is tested against.
//
// Module map (one job each):
//   C*                  system libraries with prefixed static-inline shims
//   Logging             whole-line, levelled logging to stderr
//   Crypto              SHA-256 / HMAC / MD5 through OpenSSL libcrypto
//   JSONRPC             line-delimited JSON-RPC 2.0 engine (no Plakar, no Scaleway)
//   PluginProtocol      Plakar importer/exporter seam on top of JSONRPC
//   QCOW2               QCOW2 image writer, reader and validator (zlib)
//   ScalewayKit         libcurl transport, SigV4, Object Storage, Instance, Block clients
//   ScalewayConnector   backup and restore flows, the virtual file tree
//   ScalewaySimulator   a faithful local Scaleway (Instance, Block, S3) on libmicrohttpd
import PackageDescription

let package = Package(
    name: "plakar-scaleway",
    products: [
        .executable(name: "plakar-scaleway", targets: ["plakar-scaleway"]),
        .executable(name: "scw-sim", targets: ["scw-sim"]),
        .executable(name: "refhost", targets: ["refhost"]),
    ],
    targets: [
        // MARK: System libraries
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl",
                       providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto",
                       providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CMicroHTTPD", pkgConfig: "libmicrohttpd",
                       providers: [.apt(["libmicrohttpd-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),

        // MARK: Libraries
        .target(name: "Logging"),
        .target(name: "Crypto", dependencies: ["COpenSSL"]),
        .target(name: "JSONRPC", dependencies: ["Logging"]),
        .target(name: "PluginProtocol", dependencies: ["JSONRPC", "Logging"]),
        .target(name: "QCOW2", dependencies: ["CZlib"]),
        .target(name: "ScalewayKit", dependencies: ["CCurl", "Crypto", "Logging"], exclude: ["README.md"]),
        .target(name: "ScalewayConnector",
                dependencies: ["PluginProtocol", "JSONRPC", "ScalewayKit", "QCOW2", "Crypto", "Logging"]),
        .target(name: "ScalewaySimulator",
                dependencies: ["CMicroHTTPD", "Crypto", "QCOW2", "Logging"],
                exclude: ["README.md"],
                // libmicrohttpd must bind to the simulator's setsockopt (see
                // HTTP/UncorkedSockets.swift): export it from every binary.
                linkerSettings: [.unsafeFlags(["-Xlinker", "--export-dynamic-symbol=setsockopt"])]),

        // MARK: Executables
        .executableTarget(name: "plakar-scaleway",
                          dependencies: ["PluginProtocol", "JSONRPC", "ScalewayConnector", "Logging"]),
        .executableTarget(name: "scw-sim", dependencies: ["ScalewaySimulator", "Logging"]),
        .executableTarget(name: "refhost", dependencies: ["JSONRPC", "Logging"]),

        // MARK: Tests
        .target(name: "PluginTestSupport", dependencies: ["JSONRPC", "ScalewayKit", "ScalewaySimulator"],
                path: "Tests/PluginTestSupport"),
        .testTarget(name: "SmokeTests", dependencies: ["CCurl", "Crypto"]),
        .testTarget(name: "JSONRPCTests", dependencies: ["JSONRPC"]),
        .testTarget(name: "PluginTests", dependencies: ["PluginProtocol", "JSONRPC", "PluginTestSupport"]),
        .testTarget(name: "QCOW2Tests", dependencies: ["QCOW2", "Crypto"]),
        .testTarget(name: "ScalewayKitTests", dependencies: ["ScalewayKit", "ScalewaySimulator", "Crypto"], exclude: ["Support"]),
        .testTarget(name: "SimulatorTests", dependencies: ["ScalewaySimulator", "Crypto", "QCOW2"]),
        .testTarget(name: "ReliabilityTests",
                    dependencies: ["ScalewaySimulator", "ScalewayKit", "JSONRPC", "Crypto", "PluginTestSupport"]),
        .testTarget(name: "ConnectorTests",
                    dependencies: ["ScalewayConnector", "ScalewaySimulator", "ScalewayKit", "PluginProtocol", "JSONRPC", "QCOW2", "Crypto", "PluginTestSupport"]),
    ]
)
