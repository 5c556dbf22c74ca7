#!/usr/bin/env python3
"""plakar-scaleway benchmark driver (issue 8). Standard library only.

Started by bench/run after the release build. Measures, against one scw-sim
endpoint, with incompressible image content and every byte landing in the
same sink (a tmpfs directory, /dev/shm by default: refhost has no discard
output, so every tool writes its copy to tmpfs and the copy is deleted after
each run):

  1. read path   refhost backup (plugin `read`) vs curl, aws s3 cp, rclone copyto
  2. write path  refhost restore (plugin `write` -> multipart) vs aws s3 cp, rclone copyto
  3. protocol    base64 + JSON-RPC framing per core (bench/protocol/main.swift)
  4. scaling     backup + restore of 1, 4 (and 16 with --big) GiB images: time, plugin peak RSS
  5. orchestration  the demo's web-01 backup + restore with realistic (scaled) durations:
                 timeline of exports/reads and uploads/imports from timestamped progress

Each figure is the median of --runs runs; each ratio is computed inside one
round (same simulator, same object, back to back) and the median ratio reported.

How the plugin's rates are timed: refhost's own mb_per_s covers the whole
backup (snapshot + export + cleanup), so the driver times the data path from
outside: read = from the `ready` progress line of the image (object exported,
reads may start) to the moment the copy in the sink reaches its final size
(polled every 10 ms); write = from the `upload ... 0` progress line to the
`uploaded` line (after CompleteMultipartUpload). The peers are timed as whole
processes (start-up included, as a user would see them).
"""
import argparse, datetime, json, os, shutil, signal, ssl, statistics, subprocess, sys, tempfile
import threading, time, urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
GiB = 1 << 30


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def seed_for(gib, name="bench-01"):
    """A seed with one stopped instance whose SBS root holds `gib` GiB of
    pseudo-random (incompressible) bytes from offset 0."""
    content = gib * GiB
    size = ((content + 10**9 - 1) // 10**9 + 1) * 10**9  # logical size in GB, above the content
    return {
        "zone": "fr-par-1",
        "projects": [{"name": "default"}],
        "keys": [{"name": "full", "permission_sets": [
            "InstancesFullAccess", "BlockStorageFullAccess", "ObjectStorageBucketsRead",
            "ObjectStorageBucketsWrite", "ObjectStorageObjectsRead", "ObjectStorageObjectsWrite"]}],
        "buckets": [{"name": "bench", "region": "fr-par"}],
        "servers": [{"name": name, "state": "stopped", "commercial_type": "DEV1-S", "tags": ["bench"],
                     "volumes": {"0": {"name": "data", "type": "sbs_5k", "size": size,
                                       "content": [{"offset": 0, "length": content, "seed": 8}]}}}],
        "quotas": {"servers": 100, "volumes": 400, "snapshots": 400},
    }


class Sim:
    def __init__(self, bin_dir, work, seed, durations, tls):
        self.state = os.path.join(work, "state")
        os.makedirs(self.state, exist_ok=True)
        cmd = [os.path.join(bin_dir, "scw-sim"), "--seed", seed, "--port", "0", "--state", self.state,
               "--durations", durations] + (["--tls"] if tls else [])
        self.log_path = os.path.join(work, "scw-sim.log")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=open(self.log_path, "w"), text=True)
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"bench: scw-sim exited before printing its endpoints (see {self.log_path})")
        self.info = json.loads(line)
        self.ctx = ssl.create_default_context(cafile=self.info["ca_file"]) if self.info.get("ca_file") else None
        self.key = self.info["keys"][0]
        self.pid = self.proc.pid

    def get(self, path, auth=True):
        req = urllib.request.Request(self.info["api_url"] + path)
        if auth:
            req.add_header("X-Auth-Token", self.key["secret_key"])
        with urllib.request.urlopen(req, context=self.ctx) as r:
            return json.loads(r.read())

    def request(self, method, path, body=None, auth=True):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.info["api_url"] + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if auth:
            req.add_header("X-Auth-Token", self.key["secret_key"])
        with urllib.request.urlopen(req, context=self.ctx) as r:
            raw = r.read()
            return json.loads(raw) if raw else None

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class SizeWatcher(threading.Thread):
    """Polls the sizes of the files under a directory: first non-empty time
    and the time each file reached its size (for the read-path window)."""

    def __init__(self, root, period=0.01, cpu_pid=None):
        super().__init__(daemon=True)
        self.root, self.period, self.cpu_pid = root, period, cpu_pid
        self.first_nonzero, self.last_change, self.sizes = {}, {}, {}
        self.cpu_at_change = {}  # CPU seconds of cpu_pid when each file last grew
        self.stop_flag = threading.Event()

    def run(self):
        while not self.stop_flag.is_set():
            self.sample()
            time.sleep(self.period)
        self.sample()

    def sample(self):
        now = time.monotonic()
        for dirpath, _, files in os.walk(self.root):
            for f in files:
                p = os.path.join(dirpath, f)
                try:
                    s = os.stat(p).st_size
                except FileNotFoundError:
                    continue
                if s > 0 and p not in self.first_nonzero:
                    self.first_nonzero[p] = now
                if self.sizes.get(p) != s:
                    self.sizes[p] = s
                    self.last_change[p] = now
                    if self.cpu_pid:
                        self.cpu_at_change[p] = process_cpu(self.cpu_pid)


CEILING_PATHS = (
    ("plugin read", ("read_plugin_cpu_s_per_gb", "read_refhost_cpu_s_per_gb", "read_sim_cpu_read_s_per_gb")),
    ("curl read", ("curl_read_cpu_s_per_gb", "curl_read_sim_cpu_s_per_gb")),
    ("aws read", ("aws_read_cpu_s_per_gb", "aws_read_sim_cpu_s_per_gb")),
    ("rclone read", ("rclone_read_cpu_s_per_gb", "rclone_read_sim_cpu_s_per_gb")),
    ("plugin write", ("write_plugin_cpu_s_per_gb", "write_refhost_cpu_s_per_gb", "write_sim_cpu_s_per_gb")),
    ("aws write", ("aws_write_cpu_s_per_gb", "aws_write_sim_cpu_s_per_gb")),
    ("rclone write", ("rclone_write_cpu_s_per_gb", "rclone_write_sim_cpu_s_per_gb")),
)


def ceiling_line(m):
    """What each path could reach if the machine's cores were busy with it all the time: cores
    divided by all the CPU seconds it spends per GB (client processes and simulator). A path far
    below its ceiling waits (hand-offs, latency); one near it is CPU-bound."""
    cores = os.cpu_count() or 1
    parts = []
    for name, keys in CEILING_PATHS:
        if all(m.get(k) is not None for k in keys):
            total = sum(m[k] for k in keys)
            parts.append(f"{name} {cores / total:.2f} GB/s ({total:.2f} CPU s/GB)")
    return f"{cores}-core ceiling (cores / all CPU seconds per GB, client + simulator): " + ", ".join(parts)


def children_cpu():
    """CPU seconds (user + system) of the reaped children of this process."""
    import resource
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def process_cpu(pid):
    """CPU seconds (user + system) of a running process, from /proc."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except Exception:
        return None


class Refhost:
    """Runs refhost with the plugin wrapped for peak RSS; timestamps every stderr line."""

    def __init__(self, args, env, stderr_log, sim_pid=None):
        self.sim_pid = sim_pid
        self.sim_cpu_at_ready = None
        # Simulator CPU at the first `upload ... 0/` and the last `uploaded` progress line (restore).
        self.sim_cpu_upload_start = None
        self.sim_cpu_upload_end = None
        self.children_cpu0 = children_cpu()
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
        self.lines = []  # (monotonic time, text)
        self.log = open(stderr_log, "a", buffering=1)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stderr:
            now = time.monotonic()
            if self.sim_pid and self.sim_cpu_at_ready is None and "progress [ready]" in line:
                self.sim_cpu_at_ready = process_cpu(self.sim_pid)
            if self.sim_pid and "progress [upload]" in line:
                if self.sim_cpu_upload_start is None and " 0/" in line:
                    self.sim_cpu_upload_start = process_cpu(self.sim_pid)
                elif "uploaded" in line:
                    self.sim_cpu_upload_end = process_cpu(self.sim_pid)
            self.lines.append((now, line.rstrip("\n")))
            self.log.write(f"{now - self.t0:9.3f} {line}")

    def wait(self):
        out = self.proc.stdout.read()
        self.proc.wait()
        self.reader.join()
        self.t1 = time.monotonic()
        self.cpu = children_cpu() - self.children_cpu0  # refhost + the plugin (reaped through it)
        self.log.close()
        lines = [l for l in out.splitlines() if l.strip()]
        self.summary = json.loads(lines[-1]) if lines else {}
        return self.proc.returncode

    def find(self, *needles, last=False):
        hits = [t for t, l in self.lines if all(n in l for n in needles)]
        if not hits:
            return None
        return hits[-1] if last else hits[0]


class GuestMemory:
    """Gives every tool the same memory to write its copy into.

    On a VM whose balloon device does free page reporting (virtio-balloon
    VIRTIO_BALLOON_F_REPORTING, as on this machine), the guest hands freed
    blocks of >= 2^page_reporting_order pages to the host, which discards
    them; the next guest write to such a page takes a host fault. Measured
    here: writing 2 GiB into tmpfs costs 1.4 s of system time on pages the
    host still backs and 7.5 s on discarded ones, and which pages a tool gets
    depends on what ran before it (a simulator that deletes its part files
    at completion frees backed pages just before the GET that follows; one
    that does not leaves that GET discarded pages: curl then ran at 212-571
    MB/s instead of 720-890 for the same bytes). So, for the bench's
    duration, reporting is paused (page_reporting_order above the largest
    buddy order: no block qualifies) and the free memory touched once, then
    the original order is put back. Needs root; without it the run goes on
    and the results say the sink's cost varied.
    """
    PARAM = "/sys/module/page_reporting/parameters/page_reporting_order"

    def __init__(self, sink, mode):
        self.sink, self.mode, self.original = sink, mode, None

    def prepare(self):
        if not os.path.exists(self.PARAM):
            return "no free page reporting"
        if self.mode == "leave":
            return "free page reporting left on (--guest-memory leave): sink costs vary with what ran before"
        try:
            with open("/proc/buddyinfo") as f:
                orders = max(len(l.split()) - 4 for l in f if l.strip())
            self.original = open(self.PARAM).read().strip()
            with open(self.PARAM, "w") as f:
                f.write(str(orders))
        except OSError as e:
            self.original = None
            log(f"cannot pause free page reporting ({e}); sink costs will vary with the guest's memory state")
            return f"free page reporting on (could not pause it: {e.strerror}): sink costs vary"
        touched = self.touch()
        return f"free page reporting paused, {touched / GiB:.1f} GiB of free memory touched first"

    def touch(self):
        """Writes the available memory but 2 GiB into a tmpfs file, then deletes it."""
        avail = next(int(l.split()[1]) * 1024 for l in open("/proc/meminfo") if l.startswith("MemAvailable:"))
        target = max(0, avail - 2 * GiB)
        block = b"\0" * (64 << 20)
        path = os.path.join(self.sink, "plakar-bench-touch")
        done = 0
        log(f"touching {target / GiB:.1f} GiB of free memory (once per run)")
        try:
            with open(path, "wb") as f:
                while done < target:
                    f.write(block)
                    done += len(block)
        except OSError as e:
            log(f"memory touch stopped at {done / GiB:.1f} GiB: {e}")
        finally:
            if os.path.exists(path):
                os.unlink(path)
        return done

    def restore(self):
        if self.original is not None:
            with open(self.PARAM, "w") as f:
                f.write(self.original)
            self.original = None


class Bench:
    def __init__(self, a):
        self.a = a
        self.bin = a.bin
        self.sink_root = tempfile.mkdtemp(prefix="plakar-bench-", dir=a.sink)
        self.results = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                        "nproc": os.cpu_count(), "sink": f"tmpfs ({a.sink})", "tls": a.tls, "sections": {}}
        try:
            self.results["commit"] = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE,
                                                    text=True).stdout.strip()
        except Exception:
            pass
        try:
            self.results["cpu"] = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
        except Exception:
            pass

    # ---- environment for the tools ---------------------------------------
    def opts(self, sim, location):
        o = {"access_key": sim.key["access_key"], "secret_key": sim.key["secret_key"],
             "bucket": sim.info["bucket"], "zone": sim.info["zone"], "project_id": sim.info["project_id"],
             "api_url": sim.info["api_url"], "s3_endpoint": sim.info["s3_endpoint"],
             "location": location}
        if sim.info.get("ca_file"):
            o["ca_file"] = sim.info["ca_file"]
        return o

    def refhost(self, sim, command, extra, opts, rss_file, stderr_log):
        env = dict(os.environ, BENCH_RSS_FILE=rss_file, BENCH_PLUGIN_BIN=os.path.join(self.bin, "plakar-scaleway"))
        cmd = [os.path.join(self.bin, "refhost"), command, "--plugin", os.path.join(HERE, "plugin-rss")] + extra
        for k, v in opts.items():
            cmd += ["-o", f"{k}={v}"]
        return Refhost(cmd, env, stderr_log, sim_pid=sim.pid)

    @staticmethod
    def peak_rss_mib(path):
        try:
            lines = [l.strip() for l in open(path) if l.strip()]
            return int(lines[-1].split()[0]) / 1024.0
        except Exception:
            return None

    @staticmethod
    def plugin_cpu(path):
        try:
            lines = [l.strip() for l in open(path) if l.strip()]
            f = lines[-1].split()
            return float(f[1]) + float(f[2])
        except Exception:
            return None

    @staticmethod
    def plugin_faults(path):
        """Minor page faults of the plugin (from bench/plugin-rss), or None."""
        try:
            lines = [l.strip() for l in open(path) if l.strip()]
            return int(lines[-1].split()[3])
        except Exception:
            return None

    def peer_env(self, sim):
        ep = sim.info["s3_endpoint"]
        env = dict(os.environ,
                   AWS_ACCESS_KEY_ID=sim.key["access_key"], AWS_SECRET_ACCESS_KEY=sim.key["secret_key"],
                   AWS_DEFAULT_REGION=sim.info.get("region", "fr-par"), AWS_EC2_METADATA_DISABLED="true",
                   RCLONE_CONFIG_SIM_TYPE="s3", RCLONE_CONFIG_SIM_PROVIDER="Other",
                   RCLONE_CONFIG_SIM_ACCESS_KEY_ID=sim.key["access_key"],
                   RCLONE_CONFIG_SIM_SECRET_ACCESS_KEY=sim.key["secret_key"],
                   RCLONE_CONFIG_SIM_ENDPOINT=ep, RCLONE_CONFIG_SIM_REGION=sim.info.get("region", "fr-par"),
                   RCLONE_CONFIG_SIM_FORCE_PATH_STYLE="true", RCLONE_CONFIG="/dev/null")
        if sim.info.get("ca_file"):
            env["AWS_CA_BUNDLE"] = sim.info["ca_file"]
            env["RCLONE_CA_CERT"] = sim.info["ca_file"]
        return env

    def timed(self, cmd, env, what):
        t0 = time.monotonic()
        c0 = children_cpu()
        p = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        dt = time.monotonic() - t0
        self.last_cpu = children_cpu() - c0
        if p.returncode != 0:
            raise RuntimeError(f"{what} failed (exit {p.returncode}): {p.stderr.strip()[-800:]}")
        return dt

    def peer_get(self, tool, sim, key, dest):
        env = self.peer_env(sim)
        bucket, ep = sim.info["bucket"], sim.info["s3_endpoint"]
        if tool == "curl":
            cmd = ["curl", "-sS", "--fail", "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", "--aws-sigv4", f"aws:amz:{sim.info.get('region', 'fr-par')}:s3",
                   "--user", f"{sim.key['access_key']}:{sim.key['secret_key']}", "-o", dest,
                   f"{ep.rstrip('/')}/{bucket}/{key}"]
            if sim.info.get("ca_file"):
                cmd[1:1] = ["--cacert", sim.info["ca_file"]]
        elif tool == "aws":
            cmd = ["aws", "--endpoint-url", ep, "s3", "cp", "--only-show-errors", f"s3://{bucket}/{key}", dest]
        else:
            cmd = ["rclone", "copyto", f"sim:{bucket}/{key}", dest]
        return self.timed(cmd, env, f"{tool} download")

    def peer_put(self, tool, sim, src, key):
        env = self.peer_env(sim)
        bucket, ep = sim.info["bucket"], sim.info["s3_endpoint"]
        if tool == "aws":
            cmd = ["aws", "--endpoint-url", ep, "s3", "cp", "--only-show-errors", src, f"s3://{bucket}/{key}"]
        else:
            cmd = ["rclone", "copyto", src, f"sim:{bucket}/{key}"]
        return self.timed(cmd, env, f"{tool} upload")

    # ---- one backup + restore of the bench instance ----------------------
    def backup(self, sim, tag, workers, instance="bench-01"):
        out = os.path.join(self.sink_root, f"backup-{tag}")
        rss = os.path.join(self.sink_root, f"rss-backup-{tag}")
        # The simulator's CPU is sampled when the image copy last grew, so the
        # read window leaves out the cleanup that follows (deleting the staged
        # objects and snapshots), which the peers' downloads do not pay.
        watcher = SizeWatcher(out, cpu_pid=sim.pid)
        os.makedirs(out, exist_ok=True)
        watcher.start()
        r = self.refhost(sim, "backup", ["--out", out, "--workers", str(workers)] + self.a.refhost_args,
                         self.opts(sim, f"scaleway-instance://{instance}"), rss,
                         os.path.join(self.a.work, f"refhost-backup-{tag}.log"))
        rc = r.wait()
        watcher.stop_flag.set()
        watcher.join()
        if rc != 0:
            raise RuntimeError(f"refhost backup failed: {json.dumps(r.summary)[:1500]} (see refhost-backup-{tag}.log)")
        images = {p: s for p, s in watcher.sizes.items() if p.endswith(".qcow2")}
        big = max(images, key=images.get)
        rel = "/" + os.path.relpath(big, out)
        t_ready = r.find("progress [ready]", rel)
        t_done = watcher.last_change[big]
        sim_cpu_end = watcher.cpu_at_change.get(big) or process_cpu(sim.pid)
        plugin_cpu = self.plugin_cpu(rss)
        faults = self.plugin_faults(rss)
        cpu = {"plugin_cpu_s": plugin_cpu,
               "refhost_cpu_s": (r.cpu - plugin_cpu) if plugin_cpu is not None else None,
               "sim_cpu_read_s": (sim_cpu_end - r.sim_cpu_at_ready) if r.sim_cpu_at_ready is not None and sim_cpu_end else None}
        return {"cpu": cpu, "plugin_minor_faults": faults, "dir": out, "image": big, "bytes": images[big], "read_s": t_done - t_ready,
                "first_byte_after_ready_s": watcher.first_nonzero[big] - t_ready,
                "wall_s": r.t1 - r.t0, "peak_rss_mib": self.peak_rss_mib(rss), "refhost": r, "watcher": watcher}

    def restore(self, sim, tag, src, instance="bench-01", name=None):
        rss = os.path.join(self.sink_root, f"rss-restore-{tag}")
        r = self.refhost(sim, "restore", ["--from", src] + self.a.refhost_args,
                         self.opts(sim, f"scaleway-instance://{instance}") | {"name": name or f"{instance}-r{tag}"}, rss,
                         os.path.join(self.a.work, f"refhost-restore-{tag}.log"))
        rc = r.wait()
        if rc != 0:
            raise RuntimeError(f"refhost restore failed: {json.dumps(r.summary)[:1500]} (see refhost-restore-{tag}.log)")
        return r, self.peak_rss_mib(rss)

    def restore_upload_window(self, r, path):
        t0 = r.find("progress [upload]", path, " 0/")
        t1 = r.find("progress [upload]", path, "uploaded")
        return t1 - t0

    def drop_restored(self, sim, plugin_summary):
        """Deletes the server and volumes a restore created, so state does not grow across runs."""
        zone = sim.info["zone"]
        sid = (plugin_summary or {}).get("server")
        if not sid:
            return
        try:
            srv = sim.get(f"/instance/v1/zones/{zone}/servers/{sid}")["server"]
            if srv.get("state") != "stopped":
                sim.request("POST", f"/instance/v1/zones/{zone}/servers/{sid}/action", {"action": "poweroff"})
                for _ in range(600):
                    if sim.get(f"/instance/v1/zones/{zone}/servers/{sid}")["server"]["state"] == "stopped":
                        break
                    time.sleep(0.05)
            vols = srv.get("volumes", {})
            sim.request("DELETE", f"/instance/v1/zones/{zone}/servers/{sid}")
            for v in vols.values():
                if v.get("volume_type", "").startswith("sbs"):
                    for _ in range(200):
                        try:
                            sim.request("DELETE", f"/block/v1/zones/{zone}/volumes/{v['id']}")
                            break
                        except urllib.error.HTTPError as e:
                            if e.code == 404:
                                break
                            time.sleep(0.05)
                else:
                    try:
                        sim.request("DELETE", f"/instance/v1/zones/{zone}/volumes/{v['id']}")
                    except urllib.error.HTTPError:
                        pass
        except Exception as e:  # cleanup is best effort: only disk space is at stake
            log(f"could not delete restored server {sid}: {e}")

    # ---- sections --------------------------------------------------------
    def data_paths(self):
        gib = self.a.size
        work = os.path.join(self.a.work, f"data-{gib}g")
        os.makedirs(work, exist_ok=True)
        seed = os.path.join(work, "seed.json")
        json.dump(seed_for(gib), open(seed, "w"), indent=1)
        t = time.monotonic()
        sim = Sim(self.bin, work, seed, "fast", self.a.tls)
        log(f"scw-sim up with a {gib} GiB incompressible volume in {time.monotonic() - t:.1f} s; s3 {sim.info['s3_endpoint']}")
        rounds = []
        try:
            for i in range(self.a.runs):
                log(f"data paths: round {i + 1}/{self.a.runs}")
                row = {}
                b = self.backup(sim, f"d{i}", self.a.workers)
                n = b["bytes"]
                row["bytes"] = n
                row["plugin_read_mb_s"] = n / b["read_s"] / 1e6
                row["plugin_read_rss_mib"] = b["peak_rss_mib"]
                row["plugin_first_byte_s"] = b["first_byte_after_ready_s"]
                gb = n / 1e9
                if b["plugin_minor_faults"] is not None:
                    row["plugin_read_minor_faults_per_gb"] = b["plugin_minor_faults"] / gb
                for k, v in b["cpu"].items():
                    if v is not None:
                        row[f"read_{k.replace('_s', '')}_s_per_gb"] = v / gb
                # Peers upload the same image (this is the write-path comparison),
                # then download the aws-uploaded copy (the read-path comparison).
                key = f"bench/peer-{i}.qcow2"
                for tool in ("aws", "rclone"):
                    c0 = process_cpu(sim.pid)
                    row[f"{tool}_write_mb_s"] = n / self.peer_put(tool, sim, b["image"], key if tool == "aws" else key + ".rclone") / 1e6
                    row[f"{tool}_write_cpu_s_per_gb"] = self.last_cpu / gb
                    row[f"{tool}_write_sim_cpu_s_per_gb"] = (process_cpu(sim.pid) - c0) / gb
                for tool in ("curl", "aws", "rclone"):
                    dest = os.path.join(self.sink_root, f"peer-{tool}.qcow2")
                    c0 = process_cpu(sim.pid)
                    row[f"{tool}_read_mb_s"] = n / self.peer_get(tool, sim, key, dest) / 1e6
                    row[f"{tool}_read_cpu_s_per_gb"] = self.last_cpu / gb
                    row[f"{tool}_read_sim_cpu_s_per_gb"] = (process_cpu(sim.pid) - c0) / gb
                    if os.path.getsize(dest) != n:
                        raise RuntimeError(f"{tool} downloaded {os.path.getsize(dest)} bytes, expected {n}")
                    os.unlink(dest)
                # Plugin write path: restore the backup folder.
                r, rss = self.restore(sim, f"d{i}", b["dir"])
                rel = "/" + os.path.relpath(b["image"], b["dir"])
                row["plugin_write_mb_s"] = n / self.restore_upload_window(r, rel) / 1e6
                row["plugin_write_rss_mib"] = rss
                wcpu = self.plugin_cpu(os.path.join(self.sink_root, f"rss-restore-d{i}"))
                if wcpu is not None:
                    row["write_plugin_cpu_s_per_gb"] = wcpu / gb
                    row["write_refhost_cpu_s_per_gb"] = (r.cpu - wcpu) / gb
                if r.sim_cpu_upload_start is not None and r.sim_cpu_upload_end is not None:
                    row["write_sim_cpu_s_per_gb"] = (r.sim_cpu_upload_end - r.sim_cpu_upload_start) / gb
                self.drop_restored(sim, r.summary.get("plugin_summary"))
                shutil.rmtree(b["dir"], ignore_errors=True)
                for k in (key, key + ".rclone"):
                    subprocess.run(["aws", "--endpoint-url", sim.info["s3_endpoint"], "s3", "rm", "--only-show-errors",
                                    f"s3://{sim.info['bucket']}/{k}"], env=self.peer_env(sim), stdout=subprocess.DEVNULL)
                row["read_vs_curl"] = row["plugin_read_mb_s"] / row["curl_read_mb_s"]
                row["read_vs_best_peer"] = row["plugin_read_mb_s"] / max(row["aws_read_mb_s"], row["rclone_read_mb_s"])
                row["write_vs_aws"] = row["plugin_write_mb_s"] / row["aws_write_mb_s"]
                row["write_vs_rclone"] = row["plugin_write_mb_s"] / row["rclone_write_mb_s"]
                log("  " + ", ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
                rounds.append(row)
        finally:
            sim.stop()
        med = {k: statistics.median(r[k] for r in rounds if r.get(k) is not None)
               for k in rounds[0] if all(r.get(k) is not None for r in rounds)}
        self.results["sections"]["data_paths"] = {"image_gib": gib, "runs": rounds, "median": med}

    def protocol(self):
        exe = self.a.protocol_bench
        if not exe or not os.path.exists(exe):
            self.results["sections"]["protocol"] = {"error": "bench-protocol binary not built"}
            return
        rows = []
        for i in range(self.a.runs):
            p = subprocess.run([exe, str(1 << 20), str(self.a.protocol_bytes)], stdout=subprocess.PIPE, text=True, check=True)
            rows.append(json.loads(p.stdout.strip().splitlines()[-1]))
            log(f"protocol run {i + 1}: encode {rows[-1]['encode_gb_per_s']:.2f} GB/s, decode {rows[-1]['decode_gb_per_s']:.2f} GB/s")
        self.results["sections"]["protocol"] = {
            "runs": rows,
            "median": {"encode_gb_per_s": statistics.median(r["encode_gb_per_s"] for r in rows),
                       "decode_gb_per_s": statistics.median(r["decode_gb_per_s"] for r in rows),
                       "parse_only_gb_per_s": statistics.median(r["parse_only_gb_per_s"] for r in rows),
                       "base64_decode_only_gb_per_s": statistics.median(r["base64_decode_only_gb_per_s"] for r in rows),
                       "base64_encode_only_gb_per_s": statistics.median(r["base64_encode_only_gb_per_s"] for r in rows),
                       "round_trip_ok": all(r["round_trip_ok"] for r in rows)}}

    def scaling(self):
        sizes = [int(s) for s in self.a.scaling.split(",") if s]
        if self.a.big and 16 not in sizes:
            sizes.append(16)
        out = []
        for gib in sizes:
            work = os.path.join(self.a.work, f"scale-{gib}g")
            os.makedirs(work, exist_ok=True)
            seed = os.path.join(work, "seed.json")
            json.dump(seed_for(gib), open(seed, "w"), indent=1)
            sim = Sim(self.bin, work, seed, "fast", self.a.tls)
            try:
                reads, writes, rrss, wrss = [], [], [], []
                for i in range(self.a.scaling_runs):
                    log(f"scaling {gib} GiB: run {i + 1}/{self.a.scaling_runs}")
                    b = self.backup(sim, f"s{gib}-{i}", self.a.workers)
                    reads.append(b["read_s"])
                    rrss.append(b["peak_rss_mib"])
                    r, rss = self.restore(sim, f"s{gib}-{i}", b["dir"])
                    writes.append(self.restore_upload_window(r, "/" + os.path.relpath(b["image"], b["dir"])))
                    wrss.append(rss)
                    self.drop_restored(sim, r.summary.get("plugin_summary"))
                    shutil.rmtree(b["dir"], ignore_errors=True)
                    n = b["bytes"]
                out.append({"gib": gib, "bytes": n, "read_s": statistics.median(reads), "write_s": statistics.median(writes),
                            "read_rss_mib": max(rrss), "write_rss_mib": max(wrss), "runs": len(reads)})
                log(f"  {out[-1]}")
                self.results["sections"]["scaling"] = out
                save(self.a, self)  # each size as it completes
            finally:
                sim.stop()
                shutil.rmtree(os.path.join(work, "state"), ignore_errors=True)
        self.results["sections"]["scaling"] = out

    def orchestration(self):
        work = os.path.join(self.a.work, "orchestration")
        os.makedirs(work, exist_ok=True)
        dur = self.a.orchestration_durations
        sim = Sim(self.bin, work, "demo", dur, self.a.tls)
        try:
            durations = sim.get("/_sim/durations", auth=False)
            b = self.backup(sim, "orch", self.a.workers, instance="web-01")
            r = b["refhost"]
            w = b["watcher"]
            t0 = r.t0
            timeline = []
            images = sorted(p for p in w.sizes if p.endswith(".qcow2"))
            for p in images:
                rel = "/" + os.path.relpath(p, b["dir"])
                timeline.append({"path": rel, "bytes": w.sizes[p],
                                 "export_start": r.find("progress [export]", rel) - t0,
                                 "ready": r.find("progress [ready]", rel) - t0,
                                 "first_byte": w.first_nonzero.get(p, t0) - t0,
                                 "read_done": w.last_change[p] - t0})
            last_ready = max(e["ready"] for e in timeline)
            first_byte = min(e["first_byte"] for e in timeline)
            # Exports run in parallel when their [start, ready] intervals overlap: the most running at
            # one instant. (Not all of them need overlap: an export starts when its snapshot is ready,
            # and an l_ssd snapshot takes far longer than an SBS one.)
            events = sorted([(e["export_start"], 1) for e in timeline] + [(e["ready"], -1) for e in timeline])
            running, most_at_once = 0, 0
            for _, step in events:
                running += step
                most_at_once = max(most_at_once, running)
            backup = {"wall_s": b["wall_s"], "timeline": timeline, "exports_in_parallel": most_at_once >= 2,
                      "most_exports_at_once": most_at_once,
                      "first_byte_s": first_byte, "last_export_ready_s": last_ready,
                      "first_byte_before_last_export": first_byte < last_ready, "peak_rss_mib": b["peak_rss_mib"]}
            log(f"orchestration backup: {backup['wall_s']:.1f} s, first byte {first_byte:.1f} s, last export ready {last_ready:.1f} s")
            rr, rss = self.restore(sim, "orch", b["dir"], instance="web-01", name="web-01-bench")
            t0 = rr.t0
            rtl = []
            for e in timeline:
                rel = e["path"]
                rtl.append({"path": rel,
                            "upload_start": (rr.find("progress [upload]", rel, " 0/") or t0) - t0,
                            "uploaded": (rr.find("progress [upload]", rel, "uploaded") or t0) - t0,
                            "import_start": (rr.find("progress [import]", rel) or t0) - t0,
                            "imported": (rr.find("progress [import]", rel, "imported") or t0) - t0})
            rtl.sort(key=lambda e: e["upload_start"])
            overlap = any(rtl[j]["upload_start"] < rtl[i]["imported"] and rtl[j]["uploaded"] > rtl[i]["import_start"]
                          for i in range(len(rtl)) for j in range(i + 1, len(rtl)))
            restore = {"wall_s": rr.t1 - rr.t0, "timeline": rtl, "imports_overlap_uploads": overlap, "peak_rss_mib": rss,
                       "last_upload_done_s": max(e["uploaded"] for e in rtl),
                       "first_import_start_s": min(e["import_start"] for e in rtl)}
            log(f"orchestration restore: {restore['wall_s']:.1f} s, imports overlap uploads: {overlap}")
            self.results["sections"]["orchestration"] = {"durations": dur, "sim_durations_s": durations,
                                                         "backup": backup, "restore": restore}
            shutil.rmtree(b["dir"], ignore_errors=True)
        finally:
            sim.stop()

    # ---- report ----------------------------------------------------------
    def report(self):
        R = self.results
        S = R["sections"]
        L = [f"# plakar-scaleway benchmark", "",
             f"{R['date']} · commit {R.get('commit', '?')} · nproc {R['nproc']} · {R.get('cpu', '?')} · sink: {R['sink']} for every tool ({R.get('guest_memory', '?')}) · "
             f"{'HTTPS' if R['tls'] else 'plain HTTP'} to scw-sim on 127.0.0.1", ""]
        if "data_paths" in S:
            d = S["data_paths"]
            m = d["median"]
            L += [f"## 1-2. Data paths: {d['image_gib']} GiB incompressible QCOW2 ({m['bytes'] / 1e9:.2f} GB), median of {len(d['runs'])} rounds", "",
                  "| path | plugin (refhost) | curl | aws s3 cp | rclone copyto | ratios (median of per-round ratios) | target |",
                  "|---|---|---|---|---|---|---|",
                  f"| read (backup) MB/s | {m['plugin_read_mb_s']:.0f} | {m['curl_read_mb_s']:.0f} | {m['aws_read_mb_s']:.0f} | {m['rclone_read_mb_s']:.0f} | "
                  f"{m['read_vs_curl']:.2f}x curl, {m['read_vs_best_peer']:.2f}x best peer | >= 0.8x curl, >= 1.5x best "
                  f"{'MET' if m['read_vs_curl'] >= 0.8 and m['read_vs_best_peer'] >= 1.5 else 'MISSED'} |",
                  f"| write (restore) MB/s | {m['plugin_write_mb_s']:.0f} | – | {m['aws_write_mb_s']:.0f} | {m['rclone_write_mb_s']:.0f} | "
                  f"{m['write_vs_aws']:.2f}x aws, {m['write_vs_rclone']:.2f}x rclone | >= 1.0x aws, >= 1.5x rclone "
                  f"{'MET' if m['write_vs_aws'] >= 1.0 and m['write_vs_rclone'] >= 1.5 else 'MISSED'} |",
                  f"| plugin peak RSS MiB | read {m['plugin_read_rss_mib']:.1f}, write {m['plugin_write_rss_mib']:.1f} | | | | | <= 64 |", "",
                  "CPU seconds per GB read (median), client side / simulator side: plugin " +
                  (f"{m.get('read_plugin_cpu_s_per_gb', float('nan')):.2f} + refhost {m.get('read_refhost_cpu_s_per_gb', float('nan')):.2f} "
                   f"/ sim {m.get('read_sim_cpu_read_s_per_gb', float('nan')):.2f} (plugin CPU and its "
                   f"{m.get('plugin_read_minor_faults_per_gb', float('nan')):.0f} minor faults per GB cover the whole backup; "
                   "sim CPU from the `ready` line to the copy's last byte); ") +
                  "; ".join(f"{t} {m.get(t + '_read_cpu_s_per_gb', float('nan')):.2f} / sim {m.get(t + '_read_sim_cpu_s_per_gb', float('nan')):.2f}"
                            for t in ("curl", "aws", "rclone")), "",
                  "CPU seconds per GB written (median), client side / simulator side: plugin " +
                  (f"{m.get('write_plugin_cpu_s_per_gb', float('nan')):.2f} + refhost {m.get('write_refhost_cpu_s_per_gb', float('nan')):.2f} "
                   f"/ sim {m.get('write_sim_cpu_s_per_gb', float('nan')):.2f} (plugin and refhost CPU cover the whole restore; "
                   "sim CPU from the `upload 0/` line to the `uploaded` line); ") +
                  "; ".join(f"{t} {m.get(t + '_write_cpu_s_per_gb', float('nan')):.2f} / sim {m.get(t + '_write_sim_cpu_s_per_gb', float('nan')):.2f}"
                            for t in ("aws", "rclone")), "",
                  ceiling_line(m), "",
                  "Per round:", "", "| round | read MB/s plugin/curl/aws/rclone | write MB/s plugin/aws/rclone |", "|---|---|---|"]
            for i, r in enumerate(d["runs"]):
                L.append(f"| {i + 1} | {r['plugin_read_mb_s']:.0f} / {r['curl_read_mb_s']:.0f} / {r['aws_read_mb_s']:.0f} / {r['rclone_read_mb_s']:.0f} | "
                         f"{r['plugin_write_mb_s']:.0f} / {r['aws_write_mb_s']:.0f} / {r['rclone_write_mb_s']:.0f} |")
            L.append("")
        if "protocol" in S and "median" in S["protocol"]:
            p = S["protocol"]["median"]
            ok = min(p["encode_gb_per_s"], p["decode_gb_per_s"]) >= 1.5
            L += ["## 3. Protocol overhead (one core, CPU time, 1 MiB chunks, raw bytes/s)", "",
                  "| direction | GB/s | target |", "|---|---|---|",
                  f"| encode (`read` answer: base64 + response line) | {p['encode_gb_per_s']:.2f} | >= 1.5 {'MET' if p['encode_gb_per_s'] >= 1.5 else 'MISSED'} |",
                  f"| decode (`write` request: parse + detached base64 decode) | {p['decode_gb_per_s']:.2f} | >= 1.5 {'MET' if p['decode_gb_per_s'] >= 1.5 else 'MISSED'} |",
                  f"| ↳ decode breakdown: JSON parse of the 1.4 MB line alone | {p['parse_only_gb_per_s']:.2f} | |",
                  f"| ↳ decode breakdown: base64 decode alone | {p['base64_decode_only_gb_per_s']:.2f} | |",
                  f"| ↳ encode breakdown: base64 encode alone | {p['base64_encode_only_gb_per_s']:.2f} | |",
                  f"round trip verified: {p['round_trip_ok']}", ""]
        if "scaling" in S:
            L += ["## 4. Scaling (plugin data path time, plugin peak RSS)", "",
                  "| image | bytes | read s | read s/GiB | write s | write s/GiB | RSS read MiB | RSS write MiB | runs |", "|---|---|---|---|---|---|---|---|---|"]
            for s in S["scaling"]:
                L.append(f"| {s['gib']} GiB | {s['bytes']} | {s['read_s']:.2f} | {s['read_s'] / s['gib']:.2f} | {s['write_s']:.2f} | "
                         f"{s['write_s'] / s['gib']:.2f} | {s['read_rss_mib']:.1f} | {s['write_rss_mib']:.1f} | {s['runs']} |")
            L.append("")
        if "orchestration" in S:
            o = S["orchestration"]
            b, r = o["backup"], o["restore"]
            L += [f"## 5. Orchestration: demo web-01, simulator durations `{o['durations']}`", "",
                  f"durations (s): {json.dumps(o['sim_durations_s'])}", "",
                  f"Backup wall {b['wall_s']:.1f} s; exports in parallel: {b['exports_in_parallel']} "
                  f"({b.get('most_exports_at_once', '?')} of {len(b['timeline'])} running at once); first byte read at {b['first_byte_s']:.1f} s, "
                  f"last export ready at {b['last_export_ready_s']:.1f} s (first byte before last export: {b['first_byte_before_last_export']}); "
                  f"plugin peak RSS {b['peak_rss_mib']:.1f} MiB", "",
                  "| image | bytes | export start | ready | first byte | read done |", "|---|---|---|---|---|---|"]
            for e in b["timeline"]:
                L.append(f"| {e['path']} | {e['bytes']} | {e['export_start']:.1f} | {e['ready']:.1f} | {e['first_byte']:.1f} | {e['read_done']:.1f} |")
            L += ["", f"Restore wall {r['wall_s']:.1f} s; imports overlap uploads: {r['imports_overlap_uploads']}; "
                      f"plugin peak RSS {r['peak_rss_mib']:.1f} MiB", "",
                  "| image | upload start | uploaded | import start | imported |", "|---|---|---|---|---|"]
            for e in r["timeline"]:
                L.append(f"| {e['path']} | {e['upload_start']:.1f} | {e['uploaded']:.1f} | {e['import_start']:.1f} | {e['imported']:.1f} |")
            L.append("")
        L += ["Method: plugin read = `ready` progress line -> sink copy complete; plugin write = `upload 0` -> `uploaded` "
              "progress lines (CompleteMultipartUpload included); peers timed as whole processes with default settings. "
              "Times in section 5 are seconds since refhost started.", ""]
        return "\n".join(L)


def save(a, b):
    """Writes results/latest.md and latest.json; returns the markdown."""
    md = b.report()
    if "errors" in b.results["sections"]:
        md += "\nErrors:\n" + "\n".join(f"- {k}: {v}" for k, v in b.results["sections"]["errors"].items()) + "\n"
    os.makedirs(a.results, exist_ok=True)
    with open(os.path.join(a.results, "latest.md"), "w") as f:
        f.write(md + "\n")
    with open(os.path.join(a.results, "latest.json"), "w") as f:
        json.dump(b.results, f, indent=1, default=lambda o: None)
    return md


def main():
    ap = argparse.ArgumentParser(description="plakar-scaleway benchmark (issue 8)")
    ap.add_argument("--bin", required=True, help="release build directory (plakar-scaleway, refhost, scw-sim)")
    ap.add_argument("--protocol-bench", default=None)
    ap.add_argument("--size", type=int, default=2, help="GiB of the data-path image (default 2)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--refhost-arg", dest="refhost_args", action="append", default=[],
                    help="extra refhost argument (repeatable), e.g. --refhost-arg=--window --refhost-arg=8")
    ap.add_argument("--scaling", default="1,4", help="GiB sizes for section 4 (default 1,4)")
    ap.add_argument("--scaling-runs", type=int, default=1)
    ap.add_argument("--big", action="store_true", help="add the 16 GiB image to section 4 (needs ~40 GB disk, 17 GB tmpfs)")
    ap.add_argument("--protocol-bytes", type=int, default=2 << 30)
    ap.add_argument("--orchestration-durations", default="0.1",
                    help="scw-sim --durations for section 5: realistic, or a factor of it (default 0.1)")
    ap.add_argument("--only", default="data,protocol,scaling,orchestration")
    ap.add_argument("--tls", action="store_true", help="HTTPS endpoints (default plain HTTP)")
    ap.add_argument("--sink", default="/dev/shm", help="tmpfs directory every tool writes into")
    ap.add_argument("--guest-memory", choices=("pause-reporting", "leave"), default="pause-reporting",
                    help="on a VM with free page reporting: pause it for the run and touch free memory first (default; needs root)")
    ap.add_argument("--work", default=None, help="work directory for simulator state and logs")
    ap.add_argument("--results", default=os.path.join(HERE, "results"))
    a = ap.parse_args()
    a.work = a.work or tempfile.mkdtemp(prefix="plakar-bench-work-")
    os.makedirs(a.work, exist_ok=True)
    log(f"work directory {a.work}; sink {a.sink}")
    b = Bench(a)
    sections = a.only.split(",")
    memory = GuestMemory(a.sink, a.guest_memory)
    # SIGTERM unwinds like Ctrl-C, so the finally below puts the reporting order back.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        b.results["guest_memory"] = memory.prepare()
        log(f"guest memory: {b.results['guest_memory']}")
        for name, fn in (("protocol", b.protocol), ("data", b.data_paths), ("orchestration", b.orchestration),
                         ("scaling", b.scaling)):
            if name in sections:
                try:
                    fn()
                except Exception as e:
                    log(f"section {name} failed: {e}")
                    b.results["sections"].setdefault("errors", {})[name] = str(e)
                save(a, b)  # after each section, so a cut-short run still leaves its figures
    finally:
        memory.restore()
        shutil.rmtree(b.sink_root, ignore_errors=True)
    md = save(a, b)
    print(md)
    return 1 if "errors" in b.results["sections"] else 0


if __name__ == "__main__":
    sys.exit(main())
