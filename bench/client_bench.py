#!/usr/bin/env python3
"""Client-layer benchmark (issue 4): a BYTES-byte object (default 4 GiB) uploaded through
ScalewayKit's streaming writer and downloaded as one stream, by `bench-client` (bench/client,
a process of its own), against scw-sim, then by the curl command line on the same endpoint.
Prints each phase's rate and the bench process's peak RSS (absolute, VmHWM; /usr/bin/time's
maximum over the whole process as a cross-check). Usage (bench/client-run builds first):
  bench/client_bench.py BIN_DIR BENCH_CLIENT [BYTES] [STATE_DIR] [UPLOAD_CONCURRENCY]
The simulator's state (the uploaded object) goes to STATE_DIR (default: a temporary directory
on disk, not tmpfs: 4 GiB there would crowd the shared /dev/shm).
"""
import json, os, shutil, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as B

bin_dir, client = sys.argv[1], sys.argv[2]
size = int(sys.argv[3]) if len(sys.argv) > 3 else 4 << 30
work = tempfile.mkdtemp(prefix="client-bench-", dir=(sys.argv[4] if len(sys.argv) > 4 else "") or None)
seed = {"zone": "fr-par-1", "projects": [{"name": "default"}],
        "keys": [{"name": "full", "permission_sets": ["ObjectStorageBucketsRead", "ObjectStorageBucketsWrite",
                                                      "ObjectStorageObjectsRead", "ObjectStorageObjectsWrite"]}],
        "buckets": [{"name": "bench", "region": "fr-par"}], "servers": []}
json.dump(seed, open(os.path.join(work, "seed.json"), "w"))
sim = B.Sim(bin_dir, work, os.path.join(work, "seed.json"), "fast", False)
ep, bucket = sim.info["s3_endpoint"].rstrip("/"), sim.info["bucket"]
user = f"{sim.key['access_key']}:{sim.key['secret_key']}"
sign = ["--aws-sigv4", f"aws:amz:{sim.info.get('region', 'fr-par')}:s3", "--user", user,
        "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"]
rows = []
try:
    for phase in ("upload", "download"):
        t = os.path.join(work, f"time-{phase}")
        out = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", "-o", t, client, ep, sim.key["access_key"],
                              sim.key["secret_key"], bucket, str(size), phase] + sys.argv[5:6],
                             check=True, capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        kib, user_s, sys_s = open(t).read().split()[-3:]
        r.update(process_peak_rss_mib=int(kib) / 1024, cpu_s_per_gb=(float(user_s) + float(sys_s)) / (size / 1e9))
        rows.append(r)
    # curl on the same endpoint: one PUT of a sparse file of the same size (read from the page
    # cache of zeros, no disk), unsigned payload; then one GET to /dev/null.
    src = os.path.join(work, "sparse")
    with open(src, "wb") as f:
        f.truncate(size)
    for phase, args in (("curl upload", ["-T", src, f"{ep}/{bucket}/bench-client/curl"]),
                        ("curl download", ["-o", "/dev/null", f"{ep}/{bucket}/bench-client/object"])):
        t0 = time.monotonic()
        subprocess.run(["curl", "-sS", "--fail"] + sign + args, check=True)
        dt = time.monotonic() - t0
        rows.append({"phase": phase, "bytes": size, "seconds": round(dt, 3), "mb_per_s": round(size / dt / 1e6, 1)})
finally:
    sim.proc.terminate()
    sim.proc.wait()
    shutil.rmtree(work, ignore_errors=True)
for r in rows:
    print(json.dumps(r))
by = {r["phase"]: r for r in rows}
print(f"upload {by['upload']['mb_per_s']:.0f} MB/s = {by['upload']['mb_per_s'] / by['curl upload']['mb_per_s']:.2f}x curl "
      f"({by['curl upload']['mb_per_s']:.0f}), peak RSS {by['upload']['peak_rss_mib']:.1f} MiB "
      f"(process max {by['upload']['process_peak_rss_mib']:.1f}); "
      f"download {by['download']['mb_per_s']:.0f} MB/s = {by['download']['mb_per_s'] / by['curl download']['mb_per_s']:.2f}x curl "
      f"({by['curl download']['mb_per_s']:.0f}), peak RSS {by['download']['peak_rss_mib']:.1f} MiB "
      f"(process max {by['download']['process_peak_rss_mib']:.1f})")
