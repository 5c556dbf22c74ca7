import Foundation

/// The certificate and key an HTTPS simulator serves, and the CA that signed
/// them.
///
/// Clients trust ``caFile`` (e.g. `curl --cacert`, `CURLOPT_CAINFO`,
/// `AWS_CA_BUNDLE`) and verify the server normally: the certificate names
/// `127.0.0.1`, `::1`, `localhost`, `*.localhost` and the virtual-host
/// names `*.s3.{region}.localhost` of every Scaleway region.
public struct TLSMaterial: Sendable {
    /// PEM file of the certificate authority to trust.
    public var caFile: String
    /// PEM file of the server certificate.
    public var certificateFile: String
    /// PEM file of the server's private key (never logged).
    public var privateKeyFile: String
    public var certificatePEM: String
    public var privateKeyPEM: String

    public init(caFile: String, certificateFile: String, privateKeyFile: String,
                certificatePEM: String, privateKeyPEM: String) {
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.privateKeyFile = privateKeyFile
        self.certificatePEM = certificatePEM
        self.privateKeyPEM = privateKeyPEM
    }

    /// Loads the CA and server certificate from `directory`, generating them
    /// with the `openssl` command-line tool on first use.
    ///
    /// The material persists in the directory so that a restarted simulator
    /// keeps the CA its clients already trust.
    ///
    /// - Parameters:
    ///   - directory: where `ca.pem`, `ca.key`, `server.pem`, `server.key` live
    ///     (created if missing, typically `{state}/tls`).
    ///   - openssl: path of the `openssl` executable.
    public static func loadOrGenerate(in directory: String, openssl: String = "/usr/bin/openssl") throws -> TLSMaterial {
        let fm = FileManager.default
        do {
            try fm.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                   attributes: [.posixPermissions: 0o700])
        } catch {
            throw HTTPServerError(.stateDirectory, "cannot create the TLS directory \(directory)", underlying: error)
        }
        let caFile = directory + "/ca.pem"
        let caKey = directory + "/ca.key"
        let certFile = directory + "/server.pem"
        let keyFile = directory + "/server.key"
        if ![caFile, caKey, certFile, keyFile].allSatisfy(fm.fileExists(atPath:)) {
            try generate(directory: directory, openssl: openssl, caFile: caFile, caKey: caKey,
                         certFile: certFile, keyFile: keyFile)
        }
        do {
            return TLSMaterial(caFile: caFile, certificateFile: certFile, privateKeyFile: keyFile,
                               certificatePEM: try String(contentsOfFile: certFile, encoding: .utf8),
                               privateKeyPEM: try String(contentsOfFile: keyFile, encoding: .utf8))
        } catch {
            throw HTTPServerError(.certificateGeneration, "cannot read the generated certificate in \(directory)",
                                  underlying: error)
        }
    }

    private static func generate(directory: String, openssl: String, caFile: String, caKey: String,
                                 certFile: String, keyFile: String) throws {
        let csr = directory + "/server.csr"
        let ext = directory + "/server.ext"
        var names = ["IP:127.0.0.1", "IP:::1", "DNS:localhost", "DNS:*.localhost"]
        for region in ["fr-par", "nl-ams", "pl-waw"] {
            names += ["DNS:s3.\(region).localhost", "DNS:*.s3.\(region).localhost"]
        }
        let extText = """
            basicConstraints=critical,CA:FALSE
            keyUsage=critical,digitalSignature,keyEncipherment
            extendedKeyUsage=serverAuth
            subjectAltName=\(names.joined(separator: ","))

            """
        do {
            try extText.write(toFile: ext, atomically: true, encoding: .utf8)
        } catch {
            throw HTTPServerError(.certificateGeneration, "cannot write \(ext)", underlying: error)
        }
        try run(openssl, ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                          "-keyout", caKey, "-out", caFile, "-days", "3650", "-sha256",
                          "-subj", "/O=scw-sim/CN=scw-sim local CA",
                          "-addext", "basicConstraints=critical,CA:TRUE",
                          "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        try run(openssl, ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                          "-keyout", keyFile, "-out", csr, "-subj", "/O=scw-sim/CN=localhost"])
        try run(openssl, ["x509", "-req", "-in", csr, "-CA", caFile, "-CAkey", caKey, "-CAcreateserial",
                          "-out", certFile, "-days", "825", "-sha256", "-extfile", ext])
        for file in [caKey, keyFile] {
            try? FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)
        }
        try? FileManager.default.removeItem(atPath: csr)
    }

    private static func run(_ executable: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw HTTPServerError(.certificateGeneration, "cannot run \(executable): install openssl", underlying: error)
        }
        let output = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw HTTPServerError(.certificateGeneration,
                                  "openssl \(arguments.first ?? "") failed: "
                                  + String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }
}
