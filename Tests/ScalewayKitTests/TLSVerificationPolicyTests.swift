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
        let started = ContinuousClock.now
        let error = await #expect(throws: TransportError.self) {
            _ = try await transport.send(HTTPRequest(method: .get, url: url))
        }
        #expect(error?.kind == .configuration)
        #expect(error?.requestMayHaveBeenSent == false && error?.isTransient == false)
        #expect(error?.description.contains("TLS verification cannot be switched off for") == true, "\(error?.description ?? "")")
        #expect(error?.description.contains("loopback endpoints only") == true)
        #expect(error?.description.contains("ca_file") == true)
        // Refused up front: no DNS lookup, no connection attempt (this machine has no route to these hosts anyway).
        #expect(ContinuousClock.now - started < .seconds(5))
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
