import CCurl
import Crypto
import Testing

/// Proves the system libraries link and answer: libcurl and OpenSSL libcrypto.
@Suite struct SystemLibrariesTests {
    @Test func curlVersionInfoReportsSSLAndVersion() throws {
        let info = try #require(ccurl_version_info())
        let version = String(cString: info.pointee.version)
        #expect(version.split(separator: ".").count == 3)
        let ssl = try #require(info.pointee.ssl_version)
        #expect(String(cString: ssl).contains("OpenSSL"))
    }

    @Test func sha256OfABCMatchesFIPS180Vector() {
        #expect(Hex.encode(Digest.sha256(Array("abc".utf8)))
            == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func md5OfEmptyInputMatchesRFC1321Vector() {
        #expect(Hex.encode(Digest.md5([UInt8]())) == "d41d8cd98f00b204e9800998ecf8427e")
    }

    @Test func hmacSHA256MatchesRFC4231Case2() {
        let mac = HMAC.sha256(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8))
        #expect(Hex.encode(mac) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test func incrementalDigestEqualsOneShot() {
        let data = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let d = Digest(.sha256)
        var i = 0
        for size in [1, 7, 4096, 65536] where i < data.count {
            let end = min(data.count, i + size)
            d.update(data[i..<end])
            i = end
        }
        d.update(data[i...])
        #expect(d.finalize() == Digest.sha256(data))
    }
}
