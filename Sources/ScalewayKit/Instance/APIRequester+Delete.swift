extension APIRequester {
    /// `DELETE path`, retried as idempotent; a resource already gone counts
    /// as deleted (the Instance and Block clients' delete discipline).
    func deleteIgnoringAbsence(_ path: String) async throws {
        do {
            try await callWithoutResult(.delete, path, retry: .idempotent)
        } catch let error as ScalewayAPIError where error.isNotFound {}
    }
}
