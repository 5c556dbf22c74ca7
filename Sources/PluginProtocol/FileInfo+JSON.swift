import JSONRPC

extension FileInfo {
    /// The wire form: Plakar's `objects.FileInfo` with snake_case names.
    public var json: JSONValue {
        [
            "name": .string(name),
            "size": .int(size),
            "mode": .int(mode),
            "mod_time": .string(modTime),
            "dev": .int(dev),
            "ino": .int(ino),
            "uid": .int(uid),
            "gid": .int(gid),
            "nlink": .int(nlink),
            "username": .string(username),
            "groupname": .string(groupname),
            "flags": .int(flags),
        ]
    }

    /// Reads a `fileinfo` object; `name`, `size`, `mode` and `mod_time` are
    /// required, the other fields default to 0 or "".
    ///
    /// - Throws: ``ResponseError`` -32602 naming the field (e.g. `fileinfo.mode`).
    public init(params p: Params) throws(ResponseError) {
        let u32 = Int64(UInt32.min)...Int64(UInt32.max)
        let u63 = Int64(0)...Int64.max
        self.init(
            name: try p.string("name"),
            size: try p.int64("size", in: -1...Int64.max),
            mode: UInt32(try p.int64("mode", in: u32)),
            modTime: try p.string("mod_time"),
            dev: UInt64(try p.optionalInt64("dev", in: u63) ?? 0),
            ino: UInt64(try p.optionalInt64("ino", in: u63) ?? 0),
            uid: UInt64(try p.optionalInt64("uid", in: u63) ?? 0),
            gid: UInt64(try p.optionalInt64("gid", in: u63) ?? 0),
            nlink: UInt32(try p.optionalInt64("nlink", in: u32) ?? 1),
            username: try p.optionalString("username") ?? "",
            groupname: try p.optionalString("groupname") ?? "",
            flags: UInt32(try p.optionalInt64("flags", in: u32) ?? 0))
        guard RFC3339.isValid(modTime) else {
            throw ResponseError.invalidParams(field: p.qualified("mod_time"),
                "must be an RFC 3339 timestamp such as 2026-12-04T10:00:00Z, got \"\(modTime)\"")
        }
    }
}

extension ListRecord {
    /// The wire form: `{"pathname", "fileinfo"}` or `{"pathname", "error"}`.
    public var json: JSONValue {
        if let fileInfo { return ["pathname": .string(pathname), "fileinfo": fileInfo.json] }
        return ["pathname": .string(pathname), "error": .string(error ?? "unknown error")]
    }
}

extension OpenResult {
    public var json: JSONValue {
        ["origin": .string(origin), "type": .string(type), "root": .string(root), "flags": .array(flags.map { .string($0) })]
    }
}

extension Progress {
    /// The `progress` notification's params; absent fields are omitted.
    public var json: JSONValue {
        var members: [(key: String, value: JSONValue)] = [("operation", .string(operation))]
        if let path { members.append(("path", .string(path))) }
        if let done { members.append(("done", .int(done))) }
        if let total { members.append(("total", .int(total))) }
        if let unit { members.append(("unit", .string(unit))) }
        members.append(("message", .string(message)))
        return .object(members)
    }
}
