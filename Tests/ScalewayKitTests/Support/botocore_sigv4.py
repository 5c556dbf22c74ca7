#!/usr/bin/env python3
"""Signs S3 requests with botocore, an implementation independent of ours.

Reads a JSON array of cases on stdin:
  {"method", "host", "path" (raw, unencoded), "query": [[name, value], ...],
   "headers": [[name, value], ...], "body" (utf-8 text), "unsigned_payload" (bool),
   "access_key", "secret_key", "region", "timestamp" ("YYYYMMDDTHHMMSSZ")}
and writes a JSON array of {"canonical_request", "string_to_sign", "authorization"}.

Encoding of the path and query is botocore's own: the key is percent-encoded
by botocore.utils.percent_encode with safe '/~' (what its S3 serializer does),
and the query goes through request.params, so botocore encodes and sorts it.
"""
import datetime
import json
import sys
from unittest import mock

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.utils import percent_encode


class CapturingS3SigV4Auth(botocore.auth.S3SigV4Auth):
    """Keeps the intermediate stages computed during add_auth."""

    def canonical_request(self, request):
        self.captured_canonical = super().canonical_request(request)
        return self.captured_canonical

    def string_to_sign(self, request, canonical_request):
        self.captured_string_to_sign = super().string_to_sign(request, canonical_request)
        return self.captured_string_to_sign


def sign(case):
    fixed = datetime.datetime.strptime(case["timestamp"], "%Y%m%dT%H%M%SZ")
    path = percent_encode(case["path"], safe="/~")
    scheme = "https" if case.get("unsigned_payload") else "http"
    request = AWSRequest(
        method=case["method"],
        url=f"{scheme}://{case['host']}{path}",
        params=[(k, v) for k, v in case["query"]],
        data=case.get("body", "").encode("utf-8"),
        headers=dict(case["headers"]),
    )
    if case.get("unsigned_payload"):
        # What botocore does for streamed uploads over TLS: no body hash.
        request.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    credentials = Credentials(case["access_key"], case["secret_key"])
    signer = CapturingS3SigV4Auth(credentials, "s3", case["region"])
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=fixed):
        signer.add_auth(request)
    return {
        "canonical_request": signer.captured_canonical,
        "string_to_sign": signer.captured_string_to_sign,
        "authorization": request.headers["Authorization"],
        "content_sha256": request.headers["X-Amz-Content-SHA256"],
    }


if __name__ == "__main__":
    cases = json.load(sys.stdin)
    json.dump([sign(c) for c in cases], sys.stdout)
