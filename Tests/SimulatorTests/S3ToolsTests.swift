import Crypto
import Foundation
import Testing
@testable import ScalewaySimulator

/// Independent S3 clients against the simulator, over HTTPS with the
/// generated CA: awscli (botocore's SigV4) and rclone (aws-sdk-go's).
@Suite("S3 with awscli and rclone (PLAKAR_SCALEWAY_HEAVY=1)", .serialized,
       .enabled(if: ProcessInfo.processInfo.environment["PLAKAR_SCALEWAY_HEAVY"] == "1"))
final class S3ToolsTests {
    let s3: S3TestServer
    let work: String

    init() throws {
        s3 = try S3TestServer(tls: true)
        work = try HTTPTestSupport.temporaryDirectory("tools")
    }

    deinit {
        s3.removeAll()
        try? FileManager.default.removeItem(atPath: work)
    }

    private func file(_ name: String, size: Int, seed: UInt64) throws -> (path: String, data: Data) {
        let data = S3TestServer.bytes(size, seed: seed)
        let path = work + "/" + name
        try data.write(to: URL(fileURLWithPath: path))
        return (path, data)
    }

    // MARK: awscli

    private func aws(_ arguments: [String], secret: String = S3TestKeys.full.secretKey) throws -> CommandResult {
        let config = work + "/aws-config"
        // Scaleway's documented awscli settings: path style is needed for
        // 127.0.0.1, small multipart thresholds exercise multipart, and
        // checksums only when required (no aws-chunked uploads).
        try """
            [default]
            region = fr-par
            request_checksum_calculation = when_required
            response_checksum_validation = when_required
            s3 =
                addressing_style = path
                multipart_threshold = 5MB
                multipart_chunksize = 5MB
                max_concurrent_requests = 4

            """.write(toFile: config, atomically: true, encoding: .utf8)
        let environment = [
            "AWS_CONFIG_FILE": config, "AWS_SHARED_CREDENTIALS_FILE": work + "/none",
            "AWS_ACCESS_KEY_ID": S3TestKeys.full.accessKey, "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_CA_BUNDLE": s3.tls!.caFile, "AWS_EC2_METADATA_DISABLED": "true",
        ]
        return try HTTPTestSupport.run("aws", ["--endpoint-url", s3.server.baseURL] + arguments, environment: environment)
    }

    @Test("awscli: cp (single and multipart), ls, download, rm; a wrong secret is refused")
    func awscli() throws {
        let small = try file("small.bin", size: 100_000, seed: 61)
        let large = try file("large.bin", size: 13 << 20, seed: 62)
        var r = try aws(["s3", "cp", small.path, "s3://staging/aws/small.bin"])
        #expect(r.status == 0, "\(r.stderr)")
        r = try aws(["s3", "cp", large.path, "s3://staging/aws/large.bin"])
        #expect(r.status == 0, "\(r.stderr)")
        let stored = try #require(s3.store.object(bucket: "staging", key: "aws/large.bin"))
        #expect(stored.etag.hasSuffix("-3\""))
        #expect(s3.store.multipartUploads.isEmpty)

        r = try aws(["s3", "ls", "s3://staging/aws/"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.text.contains("small.bin") && r.text.contains("large.bin"))
        #expect(r.text.contains(String(13 << 20)))

        r = try aws(["s3", "cp", "s3://staging/aws/large.bin", work + "/large.out"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: work + "/large.out")) == large.data)
        r = try aws(["s3", "cp", "s3://staging/aws/small.bin", work + "/small.out"])
        #expect(try Data(contentsOf: URL(fileURLWithPath: work + "/small.out")) == small.data)

        r = try aws(["s3api", "head-object", "--bucket", "staging", "--key", "aws/small.bin"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.text.contains("\"ContentLength\": 100000"))

        r = try aws(["s3", "rm", "--recursive", "s3://staging/aws/"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(s3.store.objects(bucket: "staging", prefix: "aws/").isEmpty)

        r = try aws(["s3", "ls", "s3://staging/"], secret: "wrong-secret")
        #expect(r.status != 0)
        #expect(r.stderr.contains("SignatureDoesNotMatch"))
    }

    // MARK: rclone

    private func rclone(_ arguments: [String], secret: String = S3TestKeys.full.secretKey) throws -> CommandResult {
        let environment = [
            "RCLONE_CONFIG": work + "/rclone.conf",
            "RCLONE_CONFIG_SIM_TYPE": "s3", "RCLONE_CONFIG_SIM_PROVIDER": "Other",
            "RCLONE_CONFIG_SIM_ACCESS_KEY_ID": S3TestKeys.full.accessKey,
            "RCLONE_CONFIG_SIM_SECRET_ACCESS_KEY": secret,
            "RCLONE_CONFIG_SIM_ENDPOINT": s3.server.baseURL, "RCLONE_CONFIG_SIM_REGION": "fr-par",
            "RCLONE_CONFIG_SIM_FORCE_PATH_STYLE": "true",
        ]
        return try HTTPTestSupport.run("rclone", ["--ca-cert", s3.tls!.caFile, "--s3-upload-cutoff", "5M",
                                                  "--s3-chunk-size", "5M", "--low-level-retries", "1",
                                                  "--retries", "1"] + arguments,
                                       environment: environment)
    }

    @Test("rclone: copyto (single and multipart), ls, download, deletefile; a wrong secret is refused")
    func rcloneRoundTrip() throws {
        let small = try file("r-small.bin", size: 200_000, seed: 71)
        let large = try file("r-large.bin", size: 12 << 20, seed: 72)
        var r = try rclone(["copyto", small.path, "sim:staging/rclone/small.bin"])
        #expect(r.status == 0, "\(r.stderr)")
        r = try rclone(["copyto", large.path, "sim:staging/rclone/large.bin"])
        #expect(r.status == 0, "\(r.stderr)")
        let stored = try #require(s3.store.object(bucket: "staging", key: "rclone/large.bin"))
        #expect(stored.etag.hasSuffix("-3\""))

        r = try rclone(["ls", "sim:staging/rclone"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.text.contains("200000 small.bin"))
        #expect(r.text.contains("\(12 << 20) large.bin"))

        r = try rclone(["copyto", "sim:staging/rclone/large.bin", work + "/r-large.out"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: work + "/r-large.out")) == large.data)
        r = try rclone(["cat", "sim:staging/rclone/small.bin", "--offset", "1000", "--count", "500"])
        #expect(r.stdout == small.data[1000..<1500])

        r = try rclone(["deletefile", "sim:staging/rclone/small.bin"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(s3.store.object(bucket: "staging", key: "rclone/small.bin") == nil)

        r = try rclone(["ls", "sim:staging"], secret: "wrong-secret")
        #expect(r.status != 0)
        #expect(r.stderr.contains("SignatureDoesNotMatch"))
    }
}
