import CCurl
import Foundation

/// The parts of a request URL the transport needs: the origin that keys the
/// handle pool, the host for errors and the loopback check, and a log-safe
/// form of the URL. Parsed with libcurl's own URL API.
struct RequestTarget: Sendable {
    let scheme: String
    let host: String
    let port: Int
    /// `scheme://host:port`
    var origin: String { "\(scheme)://\(host):\(port)" }
    /// The URL without its query string (queries may carry upload ids and
    /// tokens of presigned URLs; the path is enough to follow a run).
    let redactedURL: String

    init(url: String) throws {
        guard let handle = curl_url() else {
            throw TransportError(kind: .configuration, message: "curl_url failed: out of memory", requestMayHaveBeenSent: false)
        }
        defer { curl_url_cleanup(handle) }
        guard curl_url_set(handle, CURLUPART_URL, url, 0) == CURLUE_OK else {
            throw TransportError(kind: .configuration, message: "invalid URL \(url.prefix(200))", requestMayHaveBeenSent: false)
        }
        func part(_ which: CURLUPart, _ flags: UInt32 = 0) -> String? {
            var out: UnsafeMutablePointer<CChar>? = nil
            guard curl_url_get(handle, which, &out, flags) == CURLUE_OK, let out else { return nil }
            defer { curl_free(out) }
            return String(cString: out)
        }
        guard let scheme = part(CURLUPART_SCHEME)?.lowercased(), scheme == "http" || scheme == "https" else {
            throw TransportError(kind: .configuration, message: "unsupported URL scheme in \(url.prefix(200)): use http or https",
                                 requestMayHaveBeenSent: false)
        }
        guard let host = part(CURLUPART_HOST) else {
            throw TransportError(kind: .configuration, message: "URL without a host: \(url.prefix(200))", requestMayHaveBeenSent: false)
        }
        self.scheme = scheme
        self.host = host
        self.port = Int(part(CURLUPART_PORT, UInt32(CURLU_DEFAULT_PORT)) ?? "") ?? (scheme == "https" ? 443 : 80)
        let path = part(CURLUPART_PATH) ?? "/"
        redactedURL = "\(scheme)://\(host)\(port == (scheme == "https" ? 443 : 80) ? "" : ":\(port)")\(path)"
    }

    /// 127.0.0.0/8, ::1 and localhost: the only hosts where TLS verification
    /// may be skipped. Addresses are parsed, so `127.example.com` is not loopback.
    var isLoopback: Bool {
        let bare = host.trimmingCharacters(in: ["[", "]"])
        if bare.lowercased() == "localhost" { return true }
        var v4 = in_addr()
        if inet_pton(AF_INET, bare, &v4) == 1 { return UInt32(bigEndian: v4.s_addr) >> 24 == 127 }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, bare, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { bytes in bytes.prefix(15).allSatisfy { $0 == 0 } && bytes[15] == 1 }
        }
        return false
    }
}

private extension String {
    func trimmingCharacters(in set: Set<Character>) -> String {
        var s = Substring(self)
        while let first = s.first, set.contains(first) { s.removeFirst() }
        while let last = s.last, set.contains(last) { s.removeLast() }
        return String(s)
    }
}
