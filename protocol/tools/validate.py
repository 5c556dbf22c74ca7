#!/usr/bin/env python3
"""Checks protocol traffic against protocol/schema (JSON Schema 2020-12).

Input: a JSONL file whose lines are {"dir": "in"|"out", "line": "<raw line>"}
("in" = host to plugin, "out" = plugin to host), or --requests/--responses
with two plain JSONL files. Every line the plugin writes must match
message.json; results match <method>.result.json of the request with the
same id, and that request's params match <method>.params.json; error
responses match error.json; notifications match progress/log params.
Requests the plugin refused are not checked (tests send invalid ones).

    python3 protocol/tools/validate.py traffic.jsonl
    python3 protocol/tools/validate.py --requests in.jsonl --responses out.jsonl

Exit 0 when everything matches; otherwise prints each violation and exits 1.
"""
import json
import pathlib
import sys

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

SCHEMA_DIR = pathlib.Path(__file__).resolve().parents[1] / "schema"
BASE = "https://plakar-scaleway.invalid/protocol/schema/"
NOTIFICATIONS = {"progress": "progress.params.json", "log": "log.params.json", "$/cancelRequest": "cancel.params.json"}


def load():
    schemas = {p.name: json.loads(p.read_text()) for p in SCHEMA_DIR.glob("*.json")}
    registry = Registry().with_resources(
        (s["$id"], Resource.from_contents(s)) for s in schemas.values())
    for s in schemas.values():
        Draft202012Validator.check_schema(s)
    return {name: Draft202012Validator(s, registry=registry) for name, s in schemas.items()}


def check(traffic):
    validators = load()
    problems = []
    methods = {}

    def validate(name, value, where):
        v = validators.get(name)
        if v is None:
            return
        for e in v.iter_errors(value):
            problems.append(f"{where}: {name}: {e.message} at {list(e.absolute_path)}")

    for n, (direction, line) in enumerate(traffic, 1):
        where = f"#{n} {direction}"
        try:
            msg = json.loads(line)
        except ValueError:
            if direction == "out":
                problems.append(f"{where}: plugin wrote a line that is not JSON: {line[:120]}")
            continue  # deliberate garbage sent to the plugin
        if direction == "in":
            if isinstance(msg, dict) and isinstance(msg.get("method"), str) and msg.get("jsonrpc") == "2.0":
                if "id" in msg and isinstance(msg["id"], (str, int, float)) and not isinstance(msg["id"], bool):
                    methods[json.dumps(msg["id"])] = (msg["method"], msg.get("params", {}), n)
            continue  # requests may be deliberately invalid; the plugin's answers are what we check
        validate("message.json", msg, where)
        if "method" in msg:
            schema = NOTIFICATIONS.get(msg["method"])
            if schema is None:
                problems.append(f"{where}: unknown notification {msg['method']}")
            else:
                validate(schema, msg.get("params"), where)
        elif "error" in msg:
            validate("error.json", msg, where)
        elif "result" in msg:
            request = methods.get(json.dumps(msg.get("id")))
            if request is None:
                problems.append(f"{where}: result for unknown id {msg.get('id')}")
            else:
                method, params, request_line = request
                validate(f"{method}.result.json", msg["result"], where)
                # A request the plugin accepted must match its params schema.
                validate(f"{method}.params.json", params, f"#{request_line} in")
    return problems


def main(argv):
    if len(argv) >= 2 and argv[1] == "--requests":
        traffic = [("in", l) for l in pathlib.Path(argv[2]).read_text().splitlines() if l.strip()]
        traffic += [("out", l) for l in pathlib.Path(argv[4]).read_text().splitlines() if l.strip()]
    elif len(argv) == 2:
        traffic = []
        for l in pathlib.Path(argv[1]).read_text().splitlines():
            if l.strip():
                r = json.loads(l)
                traffic.append((r["dir"], r["line"]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    problems = check(traffic)
    for p in problems:
        print(p)
    print(f"checked {len(traffic)} lines: {len(problems)} problem(s)", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
