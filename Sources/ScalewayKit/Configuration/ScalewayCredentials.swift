/// An IAM API key: the access key (`SCW...`, used by SigV4 for Object
/// Storage) and the secret key (the `X-Auth-Token` of the REST APIs and the
/// SigV4 secret).
///
/// The secret never leaves this value in printable form: `description`,
/// `debugDescription` and reflection (`dump`, string interpolation) show it
/// redacted, so a credential logged by mistake does not leak.
public struct ScalewayCredentials: Sendable, Hashable, CustomStringConvertible,
    CustomDebugStringConvertible, CustomReflectable
{
    /// The access key ID, e.g. `SCWXXXXXXXXXXXXXXXXX`. Appending
    /// `@<project_id>` targets another project in Object Storage.
    public let accessKey: String
    /// The secret key (a UUID). Never print it.
    public let secretKey: String

    public init(accessKey: String, secretKey: String) {
        self.accessKey = accessKey
        self.secretKey = secretKey
    }

    public var description: String { "ScalewayCredentials(accessKey: \(accessKey), secretKey: <redacted>)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror {
        Mirror(self, children: ["accessKey": accessKey, "secretKey": "<redacted>"])
    }
}
