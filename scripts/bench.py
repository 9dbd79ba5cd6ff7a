#!/usr/bin/env python3
"""Start-up time, memory and installer size of Latchkey against a blank Tauri window.

Run by `make bench-startup` (which builds both in release and provides Xvfb and a D-Bus session).
For each app, alternating, after one warm-up each: the time from asking tauri-driver for a session
(which launches the app) until the first screen is displayed, and 3 s later the proportional set
size (PSS) of the app's process tree. Medians of RUNS runs. Prints the ratios and exits non-zero
when a target is missed.
"""
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

RUNS = int(os.environ.get("RUNS", "7"))
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APPS = {
    "latchkey": {"binary": f"{ROOT}/target/release/latchkey", "first": "signup-screen"},
    "blank": {"binary": f"{ROOT}/target/release/latchkey-blank", "first": "ready"},
}
BREAKDOWN = {}
PAGE = {}
TARGETS = {"time": 1.15, "memory": 1.10, "deb": 1.6}
DEB_CAP = 6 * 1024 * 1024


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(port, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    # tauri-driver keeps its connection to WebKitWebDriver alive between requests, and now and then
    # that connection is closed under it ("client error (SendRequest)"): ask again once. Never for
    # a new session, which would launch a second app.
    attempts = 1 if path == "/session" else 2
    for attempt in range(attempts):
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return json.loads(r.read() or b"{}")
        except (http.client.RemoteDisconnected, ConnectionResetError):
            if attempt + 1 == attempts:
                raise


def pss_kib(pid):
    total = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
    except OSError:
        pass
    return total


def tree(pid):
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout
    children = {}
    pairs = [tuple(map(int, l.split())) for l in out.strip().splitlines()]
    for p, pp in pairs:
        children.setdefault(pp, []).append(p)
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p, []))
    return found


def app_pid(name):
    out = subprocess.run(["pgrep", "-x", name[:15]], capture_output=True, text=True).stdout.split()
    return int(out[-1]) if out else None


def measure(port, name):
    app = APPS[name]
    caps = {"capabilities": {"alwaysMatch": {"browserName": "wry",
                                             "tauri:options": {"application": app["binary"]}}}}
    start = time.monotonic()
    deadline = start + 30
    while True:
        try:
            session = call(port, "POST", "/session", caps)["value"]["sessionId"]
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    while True:
        try:
            el = call(port, "POST", f"/session/{session}/element", {"using": "css selector", "value": "#" + app["first"]})
            eid = list(el["value"].values())[0]
            if call(port, "GET", f"/session/{session}/element/{eid}/displayed")["value"]:
                break
        except Exception:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name}: first screen never showed")
        time.sleep(0.01)
    elapsed = time.monotonic() - start
    script = ("const n = performance.getEntriesByType('navigation')[0];"
              "const m = performance.getEntriesByName('latchkey:first-screen')[0];"
              "const a = performance.getEntriesByName('latchkey:app-js')[0];"
              "return [Math.round(n.responseEnd), Math.round(n.domInteractive), a ? Math.round(a.startTime) : null,"
              " Math.round(n.domContentLoadedEventEnd), m ? Math.round(m.startTime) : null];")
    PAGE.setdefault(name, []).append(call(port, "POST", f"/session/{session}/execute/sync",
                                          {"script": script, "args": []})["value"])
    time.sleep(3)
    pid = app_pid(os.path.basename(app["binary"]))
    procs = tree(pid) if pid else []
    memory = sum(pss_kib(p) for p in procs)
    BREAKDOWN[name] = {}
    for p in procs:
        try:
            comm = open(f"/proc/{p}/comm").read().strip()
        except OSError:
            continue
        BREAKDOWN[name][comm] = BREAKDOWN[name].get(comm, 0) + pss_kib(p)
    call(port, "DELETE", f"/session/{session}")
    time.sleep(0.5)
    return elapsed, memory


def deb_size(pattern):
    import glob
    files = sorted(glob.glob(f"{ROOT}/target/release/bundle/deb/{pattern}"), key=os.path.getmtime)
    return os.path.getsize(files[-1]), os.path.basename(files[-1])


def main():
    data = tempfile.mkdtemp(prefix="latchkey-bench-")
    port, native = free_port(), free_port()
    env = dict(os.environ, LATCHKEY_DATA_DIR=data, SMTP_HOST="", RUST_LOG="warn")
    driver_bin = shutil.which("tauri-driver") or os.path.expanduser("~/.cargo/bin/tauri-driver")
    driver = subprocess.Popen([driver_bin, "--port", str(port), "--native-port", str(native)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        results = {name: {"time": [], "memory": []} for name in APPS}
        for name in APPS:  # warm-up
            measure(port, name)
        for _ in range(RUNS):
            for name in APPS:
                t, m = measure(port, name)
                results[name]["time"].append(t)
                results[name]["memory"].append(m)
    finally:
        os.killpg(driver.pid, 15)
        shutil.rmtree(data, ignore_errors=True)

    med = {n: {k: statistics.median(v) for k, v in r.items()} for n, r in results.items()}
    app_deb, app_deb_name = deb_size("Latchkey_*.deb")
    blank_deb, blank_deb_name = deb_size("latchkey-blank_*.deb")
    ratios = {
        "time": med["latchkey"]["time"] / med["blank"]["time"],
        "memory": med["latchkey"]["memory"] / med["blank"]["memory"],
        "deb": app_deb / blank_deb,
    }
    with open("/proc/cpuinfo") as f:
        cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "unknown CPU")
    print(f"machine: {os.cpu_count()} cores, {cpu}; {RUNS} runs each after a warm-up, alternating")
    print(f"{'':10} {'latchkey':>12} {'blank':>12} {'ratio':>7} {'target':>7}")
    print(f"{'time':10} {med['latchkey']['time']*1000:>10.0f}ms {med['blank']['time']*1000:>10.0f}ms "
          f"{ratios['time']:>7.3f} {TARGETS['time']:>7}")
    print(f"{'memory':10} {med['latchkey']['memory']/1024:>10.1f}MB {med['blank']['memory']/1024:>10.1f}MB "
          f"{ratios['memory']:>7.3f} {TARGETS['memory']:>7}")
    print(f"{'.deb':10} {app_deb/1048576:>10.2f}MB {blank_deb/1048576:>10.2f}MB {ratios['deb']:>7.3f} {TARGETS['deb']:>7}")
    print("raw times (s):", {n: [round(t, 3) for t in r["time"]] for n, r in results.items()})
    print("raw PSS (MiB):", {n: [round(m / 1024, 1) for m in r["memory"]] for n, r in results.items()})
    print("in-page ms [html received, DOM interactive, app.js runs, DOMContentLoaded, first screen]:", PAGE)
    print("PSS by process, last run (MiB):",
          {n: {c: round(k / 1024, 1) for c, k in b.items()} for n, b in BREAKDOWN.items()})
    missed = [k for k in TARGETS if ratios[k] > TARGETS[k]]
    if app_deb > DEB_CAP:
        missed.append("deb over 6 MiB")
    print("all targets met" if not missed else f"missed: {', '.join(missed)}")
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
