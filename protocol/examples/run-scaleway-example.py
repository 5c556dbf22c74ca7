#!/usr/bin/env python3
"""Runs a scaleway-instance session (backup-*.jsonl / restore-*.jsonl) by hand.

Starts `scw-sim` (tiny seed, fast durations) in a temporary directory, fills
the session's ${PLACEHOLDERS} from the simulator's startup line and state
(keys, endpoints, bucket, web-01's root volume id, a qemu-img-made image),
sends the session to `plakar-scaleway` one request at a time (waiting for
each answer, as the Plakar host does), prints every line the plugin writes, then prints what the account holds afterwards (nothing temporary
should remain) and stops the simulator.

    swift build
    python3 protocol/examples/run-scaleway-example.py protocol/examples/backup-web-01.jsonl
"""
import base64, json, os, pathlib, string, subprocess, sys, tempfile, urllib.request

root = pathlib.Path(__file__).resolve().parents[2]
bins = root / ".build" / "debug"
session = pathlib.Path(sys.argv[1]).read_text()

with tempfile.TemporaryDirectory(prefix="scw-example-") as tmp:
    sim = subprocess.Popen([str(bins / "scw-sim"), "--state", tmp + "/state", "--seed", "tiny", "--durations", "fast"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        endpoints = json.loads(sim.stdout.readline())
        keys = {k["name"]: k for k in endpoints["keys"]}
        state = json.load(urllib.request.urlopen(endpoints["api_url"] + "/_sim/state"))
        web = next(s for s in state["servers"] if s["name"] == "web-01")
        image = tmp + "/image.qcow2"
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", image, "1G"], check=True)
        data = pathlib.Path(image).read_bytes()
        values = {
            "ACCESS_KEY": keys["full-access"]["access_key"], "SECRET_KEY": keys["full-access"]["secret_key"],
            "NO_BLOCK_ACCESS_KEY": keys["no-block-storage"]["access_key"],
            "NO_BLOCK_SECRET_KEY": keys["no-block-storage"]["secret_key"],
            "API_URL": endpoints["api_url"], "S3_ENDPOINT": endpoints["s3_endpoint"], "BUCKET": endpoints["bucket"],
            "PROJECT_ID": endpoints["project_id"], "ROOT_VOLUME": web["volumes"]["0"]["id"],
            "IMAGE_B64": base64.b64encode(data).decode(), "IMAGE_SIZE": str(len(data)),
        }
        text = string.Template(session).substitute(values)
        plugin = subprocess.Popen([str(bins / "plakar-scaleway")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for request in text.splitlines():
            plugin.stdin.write(request + "\n")
            plugin.stdin.flush()
            wanted = json.loads(request).get("id")
            while wanted is not None:
                line = plugin.stdout.readline()
                if not line:
                    break
                print(line.rstrip() if len(line) < 2000 else line[:2000] + "...")
                if json.loads(line).get("id") == wanted:
                    break
        plugin.stdin.close()
        for line in plugin.stdout:
            print(line.rstrip())
        plugin.wait(timeout=300)
        after = json.load(urllib.request.urlopen(endpoints["api_url"] + "/_sim/state"))
        print(f"# after: {len(after['snapshots'])} snapshot(s), {len(after['objects'])} object(s), "
              f"{len(after['multipart_uploads'])} multipart upload(s), {len(after['volumes'])} volume(s)", file=sys.stderr)
    finally:
        sim.terminate()
        sim.wait()
