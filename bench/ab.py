#!/usr/bin/env python3
"""A/B of plugin builds or settings: backup then restore of a 1 GiB image through refhost only
(no peers), against one simulator, each variant in turn; prints read MB/s, plugin and refhost CPU
s/GB, peak RSS, restore wall time, write CPU s/GB and peak RSS. CPU and RSS hold under load; rates
do not. Usage:
  bench/ab.py '[{"name":"old","bin":"/tmp/old-release"},{"name":"new","bin":".build/release",
               "env":{"MALLOC_MMAP_THRESHOLD_":"262144"}}]' [ROUNDS]
Each bin directory holds plakar-scaleway, refhost and scw-sim (the first variant's scw-sim serves all).
A variant may add "refhost_args" (a list) and "env" (a dict, seen by refhost and the plugin).
"""
import sys, os, tempfile, json
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as B
variants = json.loads(sys.argv[1])  # [{"name":..., "bin": dir, "env": {...}}]
args = B.argparse.Namespace(bin=variants[0]["bin"], protocol_bench=None, size=1, runs=1, workers=4, refhost_args=[],
    scaling="1", scaling_runs=1, big=False, protocol_bytes=0, orchestration_durations="0.1", only="data", tls=False,
    sink="/dev/shm", work=tempfile.mkdtemp(prefix="perf-ab-"), results="/tmp/perf-ab-res")
b = B.Bench(args)


def fetched_ratio(log_path):
    """Bytes the plugin fetched from the bucket over the image bytes (1.000: no block fetched twice)."""
    for line in open(log_path):
        if "plugin summary: " in line:
            summary = json.loads(line.split("plugin summary: ", 1)[1])
            return summary.get("bytes_read", 0) / max(1, summary.get("image_bytes", 1))
    return float("nan")


work = os.path.join(args.work, "d"); os.makedirs(work)
seed = os.path.join(work, "seed.json"); json.dump(B.seed_for(1), open(seed, "w"))
sim = B.Sim(b.bin, work, seed, "fast", False)
try:
    for rnd in range(int(sys.argv[2]) if len(sys.argv) > 2 else 1):
        for v in variants:
            os.environ.pop("MALLOC_MMAP_THRESHOLD_", None); os.environ.pop("MALLOC_ARENA_MAX", None)
            b.bin = v["bin"]
            args.refhost_args = v.get("refhost_args", [])  # e.g. ["--plugin-arg", "--log-level", "--plugin-arg", "debug"]
            old = dict(os.environ); os.environ.update(v.get("env", {}))
            r = b.backup(sim, f"{v['name']}{rnd}", 4)
            os.environ.clear(); os.environ.update(old)
            gb = r["bytes"] / 1e9
            print(v["name"], "read MB/s %.0f" % (r["bytes"] / r["read_s"] / 1e6), "plugin CPU s/GB %.2f" % (r["cpu"]["plugin_cpu_s"] / gb),
                  "refhost %.2f" % (r["cpu"]["refhost_cpu_s"] / gb), "RSS %.1f" % r["peak_rss_mib"],
                  "fetched/image %.3f" % fetched_ratio(os.path.join(args.work, f"refhost-backup-{v['name']}{rnd}.log")), flush=True)
            old = dict(os.environ); os.environ.update(v.get("env", {}))
            import time as T
            t0 = T.monotonic()
            rr, wrss = b.restore(sim, f"{v['name']}{rnd}", r["out"] if "out" in r else os.path.join(b.sink_root, f"backup-{v['name']}{rnd}"))
            wall = T.monotonic() - t0
            os.environ.clear(); os.environ.update(old)
            for line in open(os.path.join(args.work, f"refhost-restore-{v['name']}{rnd}.log")):
                if "part buffers reused" in line:
                    print(v["name"], line.strip()[-120:], flush=True)
            wcpu = b.plugin_cpu(os.path.join(b.sink_root, f"rss-restore-{v['name']}{rnd}"))
            print(v["name"], "restore wall %.1f s" % wall, "plugin CPU s/GB %.2f" % (wcpu / gb), "write RSS %.1f" % wrss, flush=True)
            import shutil; shutil.rmtree(os.path.join(b.sink_root, f"backup-{v['name']}{rnd}"), ignore_errors=True)
            b.drop_restored(sim, rr.summary)
finally:
    import shutil
    sim.stop()
    shutil.rmtree(b.sink_root, ignore_errors=True)
    if not os.environ.get("AB_KEEP"): shutil.rmtree(args.work, ignore_errors=True)
