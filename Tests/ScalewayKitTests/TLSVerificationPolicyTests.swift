import Foundation
import Testing
@testable import ScalewayKit

/// TLS verification can be switched off for loopback endpoints only: with
/// `allowUnverifiedLoopback`, a request to any other host is refused before
/// a connection is made, with an error that says why.
@Suite struct TLSVerificationPolicyTests {
    @Test(arguments: ["https://api.scaleway.com/instance/v1/zones/fr-par-1/servers", "https://s3.fr-par.scw.cloud/bucket/key",
                      "https://127.example.com/x", "https://10.0.0.1:8443/x", "https://[2001:db8::1]/x"])
    func unverifiedTLSIsRefusedForNonLoopbackHosts(url: String) async throws {
        let transport = try Transport(configuration: TransportConfiguration(tls: TLSConfiguration(allowUnverifiedLoopback: true)))
        let error = await #expect(throws: TransportError.self) {
            _ = try await transport.send(HTTPRequest(method: .get, url: url))
        }
        #expect(error?.kind == .configuration)
        #expect(error?.requestMayHaveBeenSent == false && error?.isTransient == false)
        #expect(error?.description.contains("TLS verification cannot be switched off for") == true, "\(error?.description ?? "")")
        #expect(error?.description.contains("loopback endpoints only") == true)
        #expect(error?.description.contains("ca_file") == true)
        // Refused up front, before any DNS lookup or connection attempt: an
        // attempt would end in a connection or DNS error (this machine has no
        // route to these hosts), never in kind `configuration` with
        // requestMayHaveBeenSent == false. (A wall-clock bound used to say
        // this too, but it measured how busy the shared test runner's threads
        // were: 16.5 s beside the other suites on 2 cores.)
    }

    @Test func objectStorageWithUnverifiedTLSRefusesAPublicEndpoint() async throws {
        let transport = try Transport(configuration: TransportConfiguration(tls: TLSConfiguration(allowUnverifiedLoopback: true)))
        let client = try ObjectStorageClient(transport: transport,
                                             credentials: ScalewayCredentials(accessKey: "SCWTESTACCESSKEY0001", secretKey: "11111111-2222-3333-4444-555555555555"),
                                             region: .frPar, options: ObjectStorageOptions(retry: RetryPolicy(maxAttempts: 3), clock: VirtualClock()))
        let error = await #expect(throws: TransportError.self) { _ = try await client.bucketExists("my-backups") }
        #expect(error?.kind == .configuration && error?.host == "my-backups.s3.fr-par.scw.cloud")
    }

    @Test func loopbackHostsMaySkipVerification() {
        for url in ["https://127.0.0.1:8443/", "https://localhost/", "https://[::1]/", "https://127.3.2.1/"] {
            #expect(RequestTargetProbe.isLoopback(url), "\(url)")
        }
        for url in ["https://api.scaleway.com/", "https://127.example.com/", "https://localhost.example.com/", "https://128.0.0.1/"] {
            #expect(!RequestTargetProbe.isLoopback(url), "\(url)")
        }
    }
}
