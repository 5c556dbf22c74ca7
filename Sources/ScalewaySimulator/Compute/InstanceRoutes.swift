/// Dispatch of `/instance/v1/zones/{zone}/...`.
extension ScalewayAPI {
    func instanceRoute(_ r: APIRequest) throws -> HTTPResponse {
        let s = r.segments
        switch (r.method, s.count, s.first ?? "") {
        case ("GET", 1, "servers"): return try listServers(r)
        case ("POST", 1, "servers"): return try createServer(r)
        case ("GET", 2, "servers"): return try getServer(r, s[1])
        case ("PATCH", 2, "servers"): return try updateServer(r, s[1])
        case ("DELETE", 2, "servers"): return try deleteServer(r, s[1])
        case ("GET", 3, "servers") where s[2] == "action": return try listServerActions(r, s[1])
        case ("POST", 3, "servers") where s[2] == "action": return try serverAction(r, s[1])
        case ("POST", 3, "servers") where s[2] == "attach-volume": return try attachVolume(r, s[1])
        case ("POST", 3, "servers") where s[2] == "detach-volume": return try detachVolume(r, s[1])
        case ("GET", 1, "volumes"): return try listInstanceVolumes(r)
        case ("POST", 1, "volumes"): return try createInstanceVolume(r)
        case ("GET", 2, "volumes"): return try getInstanceVolume(r, s[1])
        case ("PATCH", 2, "volumes"): return try updateInstanceVolume(r, s[1])
        case ("DELETE", 2, "volumes"): return try deleteInstanceVolume(r, s[1])
        case ("GET", 1, "snapshots"): return try listInstanceSnapshots(r)
        case ("POST", 1, "snapshots"): return try createInstanceSnapshot(r)
        case ("GET", 2, "snapshots"): return try getInstanceSnapshot(r, s[1])
        case ("PATCH", 2, "snapshots"): return try updateInstanceSnapshot(r, s[1])
        case ("DELETE", 2, "snapshots"): return try deleteInstanceSnapshot(r, s[1])
        case ("POST", 3, "snapshots") where s[2] == "export": return try exportInstanceSnapshot(r, s[1])
        default:
            if ["servers", "volumes", "snapshots"].contains(s.first ?? ""), s.count <= 3 { throw APIError.methodNotAllowed() }
            throw APIError.unknownRoute(r.http.path)
        }
    }

    /// Instance lists: `{"<name>": [...]}` with `X-Total-Count` and `Link`.
    func instanceList(_ r: APIRequest, name: String, items: [JSONObject]) throws -> HTTPResponse {
        let perPage = try r.intQuery("per_page", default: 50, max: 100)
        let page = try r.intQuery("page", default: 1)
        let paged = Page(items, page: page, perPage: perPage)
        var headers = HTTPHeaders()
        headers.set("X-Total-Count", String(paged.total))
        let other = r.http.queryItems.filter { $0.name != "page" && $0.name != "per_page" }.map { ($0.name, $0.value) }
        if let link = paged.linkHeader(path: r.http.path, otherQuery: other) { headers.set("Link", link) }
        return json(200, [name: paged.items], headers: headers)
    }
}
