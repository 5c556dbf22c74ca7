import CCurl
import Crypto

/// Owns one libcurl easy handle, and with it that handle's connection cache.
///
/// `@unchecked Sendable` invariant: a handle is used by exactly one transfer
/// thread at a time. ``CurlHandlePool`` hands it out exclusively and takes it
/// back after `curl_easy_perform` returned; nothing else touches `raw`.
final class CurlEasyHandle: @unchecked Sendable {
    let raw: UnsafeMutableRawPointer

    init() {
        CurlGlobal.ensureInitialized()
        guard let handle = curl_easy_init() else { fatalError("curl_easy_init failed: out of memory") }
        raw = handle
    }

    deinit { curl_easy_cleanup(raw) }
}

/// libcurl's process-wide initialisation, done once before the first handle.
///
/// OpenSSL is initialised first, by ``OpenSSLLibrary``, so that libcurl's own
/// `OPENSSL_init_ssl` finds it initialised without an atexit cleanup (which
/// would free OpenSSL's state under transfer threads still running at exit).
/// `curl_global_cleanup` is never called, for the same reason.
enum CurlGlobal {
    private static let initialized: Bool = {
        OpenSSLLibrary.initialize()
        return curl_global_init(ccurl_global_default()) == CURLE_OK
    }()

    static func ensureInitialized() {
        precondition(initialized, "curl_global_init failed")
    }

    /// The CA directory libcurl was built with (Debian: /etc/ssl/certs), so
    /// an extra CA file can be added without losing the system store.
    static let systemCAPath: String? = {
        ensureInitialized()
        guard let handle = curl_easy_init() else { return nil }
        defer { curl_easy_cleanup(handle) }
        var path: UnsafeMutablePointer<CChar>? = nil
        if ccurl_easy_getinfo_string(handle, CURLINFO_CAPATH, &path) == CURLE_OK, let path {
            return String(cString: path)
        }
        return nil
    }()

    /// The CA bundle file libcurl was built with (Debian: /etc/ssl/certs/ca-certificates.crt).
    static let systemCAInfo: String? = {
        ensureInitialized()
        guard let handle = curl_easy_init() else { return nil }
        defer { curl_easy_cleanup(handle) }
        var path: UnsafeMutablePointer<CChar>? = nil
        if ccurl_easy_getinfo_string(handle, CURLINFO_CAINFO, &path) == CURLE_OK, let path {
            return String(cString: path)
        }
        return nil
    }()
}
