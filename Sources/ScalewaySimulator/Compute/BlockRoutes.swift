/// Dispatch of `/block/{v1,v1alpha1}/zones/{zone}/...`.
extension ScalewayAPI {
    func blockRoute(_ r: APIRequest) throws -> HTTPResponse {
        let s = r.segments
        switch (r.method, s.count, s.first ?? "") {
        case ("GET", 1, "volumes"): return try listBlockVolumes(r)
        case ("POST", 1, "volumes"): return try createBlockVolume(r)
        case ("GET", 2, "volumes"): return try getBlockVolume(r, s[1])
        case ("PATCH", 2, "volumes"): return try updateBlockVolume(r, s[1])
        case ("DELETE", 2, "volumes"): return try deleteBlockVolume(r, s[1])
        case ("GET", 1, "snapshots"): return try listBlockSnapshots(r)
        case ("POST", 1, "snapshots"): return try createBlockSnapshot(r)
        case ("POST", 2, "snapshots") where s[1] == "import-from-object-storage": return try importBlockSnapshot(r)
        case ("GET", 2, "snapshots"): return try getBlockSnapshot(r, s[1])
        case ("PATCH", 2, "snapshots"): return try updateBlockSnapshot(r, s[1])
        case ("DELETE", 2, "snapshots"): return try deleteBlockSnapshot(r, s[1])
        case ("POST", 3, "snapshots") where s[2] == "export-to-object-storage": return try exportBlockSnapshot(r, s[1])
        default:
            if ["volumes", "snapshots"].contains(s.first ?? ""), s.count <= 3 { throw APIError.methodNotAllowed() }
            throw APIError.unknownRoute(r.http.path)
        }
    }

    /// Block lists: `{"<name>": [...], "total_count": N}`, `page` + `page_size`.
    func blockList(_ r: APIRequest, name: String, items: [JSONObject]) throws -> HTTPResponse {
        let pageSize = try r.intQuery("page_size", default: 50, max: 100)
        let page = try r.intQuery("page", default: 1)
        let paged = Page(items, page: page, perPage: pageSize)
        return json(200, [name: paged.items, "total_count": paged.total])
    }

    /// Block errors for an argument: `invalid_arguments`.
    func blockArgumentError(_ argument: String, _ message: String) -> APIError {
        APIError.invalidArgument(argument, reason: "constraint", help: message)
    }
}
