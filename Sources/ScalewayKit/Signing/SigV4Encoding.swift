/// The URI encoding rules of AWS Signature Version 4, as S3 applies them.
///
/// One encoder serves both the signer and the URL builder, so the path and
/// query on the wire are byte for byte the ones that were signed.
public enum SigV4Encoding {
    private static let hexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)

    /// Percent-encodes every byte of the UTF-8 form of `text` except the
    /// unreserved characters `A-Z a-z 0-9 - _ . ~` (and `/` when
    /// `keepSlash`), with uppercase hex digits.
    public static func uriEncode(_ text: String, keepSlash: Bool = false) -> String {
        var out = [UInt8]()
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.append(byte)
            case UInt8(ascii: "/") where keepSlash:
                out.append(byte)
            default:
                out.append(UInt8(ascii: "%"))
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0x0f)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The canonical URI of an S3 request: the raw path with each segment
    /// encoded exactly once (S3 does not normalise `.`, `..` or `//`).
    public static func canonicalURI(_ rawPath: String) -> String {
        let path = rawPath.hasPrefix("/") ? rawPath : "/" + rawPath
        return uriEncode(path, keepSlash: true)
    }

    /// The canonical query string: each name and value encoded, pairs sorted
    /// by encoded name then encoded value, joined with `&`; a parameter
    /// without a value is written `name=`.
    public static func canonicalQueryString(_ query: [(name: String, value: String)]) -> String {
        query.map { (uriEncode($0.name), uriEncode($0.value)) }
            .sorted { $0.0 != $1.0 ? $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) : $0.1.utf8.lexicographicallyPrecedes($1.1.utf8) }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }
}
