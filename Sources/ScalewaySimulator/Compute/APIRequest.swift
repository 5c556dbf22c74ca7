import Foundation

/// One authenticated call to the Instance or Block API.
struct APIRequest {
    let http: HTTPRequest
    let key: APIKey
    let zone: String
    /// Path segments after `/zones/{zone}/`.
    let segments: [String]
    /// The path up to and including the zone, e.g. `/instance/v1/zones/fr-par-1`.
    let basePath: String
    private let bodyBytes: [UInt8]

    init(http: HTTPRequest, key: APIKey, zone: String, segments: [String], basePath: String) throws {
        self.http = http
        self.key = key
        self.zone = zone
        self.segments = segments
        self.basePath = basePath
        bodyBytes = try http.body.readAll()
    }

    var method: String { http.method }
    var region: String { Zone.region(of: zone) }

    /// The JSON body; a malformed body is a 400 `invalid_arguments`.
    func body() throws -> JSONObject {
        do { return try JSONBody.decodeObject(bodyBytes) } catch {
            throw APIError.invalidArgument("body", reason: "invalid_json", help: "the request body must be a JSON object")
        }
    }

    func query(_ name: String) -> String? {
        guard let value = http.query(name), !value.isEmpty else { return nil }
        return value
    }

    /// A positive integer query parameter (page, per_page, page_size).
    func intQuery(_ name: String, default value: Int, max: Int? = nil) throws -> Int {
        guard let text = query(name) else { return value }
        guard let n = Int(text), n >= 1 else {
            throw APIError.invalidArgument(name, reason: "constraint", help: "\(name) must be a positive integer")
        }
        if let max, n > max {
            throw APIError.invalidArgument(name, reason: "constraint", help: "\(name) must be lower or equal to \(max)")
        }
        return n
    }

    /// The project a new resource goes to: the body's, or the key's default.
    func project(from body: JSONObject, field: String, in state: AccountState) throws -> String {
        let id = body.string(field) ?? key.projectID
        guard state.project(id) != nil else {
            throw APIError.permissionsDenied(resource: "project", action: "read")
        }
        return id
    }
}

/// A page of a list, as the Instance (X-Total-Count, Link) and Block
/// (`total_count`) APIs present them.
struct Page<T> {
    var items: [T]
    var total: Int
    var page: Int
    var perPage: Int

    init(_ all: [T], page: Int, perPage: Int) {
        total = all.count
        self.page = page
        self.perPage = perPage
        let start = min((page - 1) * perPage, all.count)
        items = Array(all[start..<min(start + perPage, all.count)])
    }

    var lastPage: Int { max(1, (total + perPage - 1) / perPage) }

    /// RFC 5988 `Link` header for an Instance list.
    func linkHeader(path: String, otherQuery: [(String, String)]) -> String? {
        func url(_ page: Int) -> String {
            var items = otherQuery.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? $0.1)" }
            items.append("page=\(page)")
            items.append("per_page=\(perPage)")
            return "<\(path)?\(items.joined(separator: "&"))>"
        }
        var links: [String] = []
        if page > 1 { links.append("\(url(1)); rel=\"first\"") }
        if page > 1 { links.append("\(url(page - 1)); rel=\"previous\"") }
        if page < lastPage { links.append("\(url(page + 1)); rel=\"next\"") }
        if page < lastPage { links.append("\(url(lastPage)); rel=\"last\"") }
        return links.isEmpty ? nil : links.joined(separator: ", ")
    }
}
