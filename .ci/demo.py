#!/usr/bin/env python3
"""The demo's driver: start scw-sim, back up web-01 with refhost, restore it
as a new instance, prove every restored volume equals its original byte for
byte (the simulator's SHA-256 of each volume), and print a summary.

Only the standard library: this is glue around the real binaries.
"""
import argparse, json, os, shutil, signal, ssl, subprocess, sys, tempfile, time, urllib.request


def log(msg):
    print(f"demo: {msg}", file=sys.stderr, flush=True)


class Sim:
    def __init__(self, bin_dir, state, durations):
        self.proc = subprocess.Popen(
            [os.path.join(bin_dir, "scw-sim"), "--seed", "demo", "--port", "0", "--state", state,
             "--tls", "--durations", durations],
            stdout=subprocess.PIPE, stderr=open(os.path.join(state, "..", "scw-sim.log"), "w"), text=True)
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit("demo: scw-sim exited before printing its endpoints (see scw-sim.log)")
        self.info = json.loads(line)
        self.ctx = ssl.create_default_context(cafile=self.info.get("ca_file"))
        self.key = self.info["keys"][0]

    def get(self, path, auth=True):
        req = urllib.request.Request(self.info["api_url"] + path)
        if auth:
            req.add_header("X-Auth-Token", self.key["secret_key"])
        with urllib.request.urlopen(req, context=self.ctx) as r:
            return json.loads(r.read())

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def refhost(bin_dir, args, opts):
    cmd = [os.path.join(bin_dir, "refhost")] + args + ["--plugin", os.path.join(bin_dir, "plakar-scaleway")]
    for k, v in opts.items():
        cmd += ["-o", f"{k}={v}"]
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)  # stderr (progress) goes to the terminal
    elapsed = time.monotonic() - t0
    lines = [l for l in p.stdout.splitlines() if l.strip()]
    summary = json.loads(lines[-1]) if lines else {}
    if p.returncode != 0:
        raise SystemExit(f"demo: refhost {args[0]} failed (exit {p.returncode}): {json.dumps(summary)[:2000]}")
    return summary, elapsed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--durations", default=os.environ.get("DEMO_DURATIONS", "0.5"))
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--workers", default="4")
    a = ap.parse_args()

    work = a.workdir or tempfile.mkdtemp(prefix="plakar-scaleway-demo-")
    state = os.path.join(work, "state")
    os.makedirs(state, exist_ok=True)
    log(f"working in {work}; starting scw-sim (demo seed, durations {a.durations}, HTTPS)")
    t_seed = time.monotonic()
    sim = Sim(a.bin, state, a.durations)
    log(f"simulator up in {time.monotonic() - t_seed:.1f} s: api {sim.info['api_url']}, s3 {sim.info['s3_endpoint']}")
    try:
        zone = sim.info["zone"]
        servers = sim.get(f"/instance/v1/zones/{zone}/servers?name=web-01")["servers"]
        web = next(s for s in servers if s["name"] == "web-01")
        originals = {}
        for idx, v in sorted(web["volumes"].items(), key=lambda kv: int(kv[0])):
            originals[int(idx)] = sim.get(f"/_sim/volumes/{v['id']}/digest", auth=False) | {"id": v["id"], "type": v.get("volume_type")}

        opts = {
            "access_key": sim.key["access_key"], "secret_key": sim.key["secret_key"],
            "bucket": sim.info["bucket"], "zone": zone, "project_id": sim.info["project_id"],
            "api_url": sim.info["api_url"], "s3_endpoint": sim.info["s3_endpoint"],
            "ca_file": sim.info["ca_file"], "environment": "demo", "data_class": "internal",
        }
        backup_dir = os.path.join(work, "backup")
        log(f"backing up web-01 ({web['id']}) into {backup_dir} with {a.workers} read workers")
        bsum, bsec = refhost(a.bin, ["backup", "--out", backup_dir, "--workers", a.workers],
                             opts | {"location": "scaleway-instance://web-01"})
        log(f"restoring {backup_dir} as a new instance")
        rsum, rsec = refhost(a.bin, ["restore", "--from", backup_dir],
                             opts | {"location": "scaleway-instance://web-01", "name": "web-01-restored"})
        plugin = rsum.get("plugin_summary", {})
        server_id = plugin.get("server")
        restored = sim.get(f"/instance/v1/zones/{zone}/servers/{server_id}")["server"]

        ok = True
        rows = []
        for idx, orig in originals.items():
            vol = restored["volumes"].get(str(idx))
            if vol is None:
                ok = False
                rows.append((idx, orig, None, "MISSING"))
                continue
            dig = sim.get(f"/_sim/volumes/{vol['id']}/digest", auth=False)
            same = dig["sha256"] == orig["sha256"] and dig["size"] == orig["size"]
            ok &= same
            rows.append((idx, orig, vol["id"], "identical" if same else "DIFFERENT"))

        state_after = sim.get("/_sim/state", auth=False)
        objects = [o for o in state_after.get("objects", []) if "plakar-scaleway/" in o.get("key", "")]
        uploads = state_after.get("multipart_uploads", [])

        print()
        print(f"plakar-scaleway demo: web-01 ({web['commercial_type']}) backed up and restored as "
              f"{restored['name']} ({server_id}, {restored['commercial_type']})")
        print(f"{'index':>5}  {'type':<11} {'size':>14}  {'original':<36}  {'restored':<36}  sha256")
        for idx, orig, rid, verdict in rows:
            print(f"{idx:>5}  {str(orig['type']):<11} {orig['size']:>14}  {orig['id']:<36}  {str(rid):<36}  {verdict}")
        print(f"backup : {bsum.get('files')} files, {bsum.get('bytes')} bytes in {bsec:.1f} s "
              f"({bsum.get('mb_per_s')} MB/s through read)")
        print(f"restore: {rsum.get('files')} files, {rsum.get('bytes')} bytes in {rsec:.1f} s "
              f"({rsum.get('mb_per_s')} MB/s through write)")
        print(f"created: server {server_id}, volumes {[v.get('id') for v in plugin.get('volumes', [])]}")
        print(f"cleaned: backup {json.dumps(bsum.get('plugin_summary', {}).get('cleaned'))}; "
              f"restore {json.dumps(plugin.get('cleaned'))}")
        print(f"staging objects left: {len(objects)}, multipart uploads left: {len(uploads)}")
        ok &= not objects and not uploads
        print("RESULT:", "every restored volume is byte-identical to its original" if ok else "MISMATCH")
        return 0 if ok else 1
    finally:
        sim.stop()
        if not a.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
