#!/usr/bin/env bash
# The binary's `export` against Python's csv.reader merely reading the same two reports.
#
#   benches/vs_python.sh [users] [runs]      # default: 1000000 users, 3 runs each
#
# Generates the reports once (examples/write_reports.rs, the parse_and_plan bench's
# world: users/10 organizations) into target/vs-python/<users>/, builds the release
# binary, prints the bench's calibration line and the load average, then runs export in
# each format and Python alternately (E1 E2 P E1 E2 P ...), `runs` times each, and prints
# each run, the medians (wall and CPU), the ratio of each format to Python, and the
# peak RSS. CPU time is user + system of the child (all its threads): on a shared machine
# it moves less with the load than the wall time does. Peak RSS and CPU come from
# /usr/bin/time -v when installed, else from the child's getrusage. The calibration and
# load are printed again at the end, so a reader can tell whether the load changed.
#
# Environment:
#   PZS_BIN          binary to measure (default: target/release/pages-zendesk-sync, built)
#   PZS_FORMATS      export formats to run, space-separated (default: every format
#                    `export --help` lists of data-importer and bulk-actions; none listed:
#                    one export run with no --format)
#   PZS_EXPORT_ARGS  extra export arguments, used verbatim instead of the detection below
#
# Detection (older binaries): a report-size option (a long option whose name has "max",
# "limit" or "size" in it) gets PZS_REPORT_LIMIT (default 1073741824). A binary with
# neither that option nor the `reports.max_bytes` setting (default 1 GiB) reads at most
# its fixed cap (64 MiB): export then fails on the 1M report, and the script says so.
set -euo pipefail
cd "$(dirname "$0")/.."

users=${1:-1000000}
runs=${2:-3}
dir=target/vs-python/$users
bin=${PZS_BIN:-target/release/pages-zendesk-sync}

if [[ ! -s $dir/users.csv ]]; then
    cargo run --quiet --release --locked --example write_reports -- "$dir" "$users"
fi
if [[ -z ${PZS_BIN:-} ]]; then
    cargo build --quiet --release --locked
fi
ls -l "$dir"/organizations.csv "$dir"/users.csv | awk '{print $5, $9}'

# The same calibration as the parse_and_plan bench: how slow this machine is right now.
calibrate() {
    cargo bench --quiet --locked --bench parse_and_plan -- --calibrate-only 2>&1 | grep calibration || true
    echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
}
calibrate

help=$("$bin" export --help)
if [[ -n ${PZS_FORMATS+set} ]]; then
    formats=$PZS_FORMATS
else
    formats=""
    if grep -q -- '--format' <<<"$help"; then
        for f in data-importer bulk-actions; do
            if grep -q "$f" <<<"$help"; then formats="$formats $f"; fi
        done
    fi
fi
echo "export formats: ${formats:-(no --format)}"
if [[ -n ${PZS_EXPORT_ARGS+set} ]]; then
    extra=$PZS_EXPORT_ARGS
    echo "export arguments (PZS_EXPORT_ARGS): $extra"
else
    extra=""
    limit_opt=$(grep -oE -- '--[a-z-]*(max|limit|size)[a-z-]*' <<<"$help" | head -n1 || true)
    if [[ -n $limit_opt ]]; then
        extra="$limit_opt ${PZS_REPORT_LIMIT:-1073741824}"
    fi
    echo "export arguments detected: ${extra:-(none)}"
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

python3 - "$bin" "$dir" "$out" "$runs" "$extra" "$formats" <<'PY'
import os, shlex, shutil, statistics, subprocess, sys, time

bin_, dir_, out, runs, extra = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
formats = sys.argv[6].split()
orgs, users = os.path.join(dir_, "organizations.csv"), os.path.join(dir_, "users.csv")
read_py = (
    "import csv, sys\n"
    "n = 0\n"
    "for p in sys.argv[1:]:\n"
    "    with open(p, newline='', encoding='utf-8') as f:\n"
    "        for row in csv.reader(f):\n"
    "            n += 1\n"
    "print(n, 'rows')\n"
)
export = [bin_, "export", "--organizations", orgs, "--users", users, "--out", out]
commands = {}
for f in formats or [None]:
    name = f"export {f}" if f else "export"
    commands[name] = export + (["--format", f] if f else []) + shlex.split(extra)
commands["python"] = [sys.executable, "-c", read_py, orgs, users]
width = max(len(n) for n in commands)
gnu_time = shutil.which("time") if os.path.exists("/usr/bin/time") else None

def run(cmd):
    """Wall seconds, CPU seconds (user + system) and peak RSS (MiB) of one run of cmd."""
    if gnu_time:
        cmd = ["/usr/bin/time", "-v"] + cmd
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=dict(os.environ, PAGES_ZENDESK_SYNC_LOG="warn"))
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{cmd[0:4]} failed:\n{err[-2000:]}")
    peak_kib = usage.ru_maxrss  # the child's getrusage (KiB on Linux)
    cpu = usage.ru_utime + usage.ru_stime
    times = {}
    for line in err.splitlines():
        if "Maximum resident set size" in line:
            peak_kib = int(line.split(":")[1])
        elif "User time (seconds)" in line or "System time (seconds)" in line:
            times[line.split("(")[0].strip()] = float(line.split(":")[1])
    if len(times) == 2:
        cpu = sum(times.values())
    return wall, cpu, peak_kib / 1024

results = {name: [] for name in commands}
for i in range(runs):
    for name, cmd in commands.items():  # alternately: export (each format), python, ...
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        wall, cpu, peak = run(cmd)
        results[name].append((wall, cpu, peak))
        print(f"run {i + 1} {name:{width}}: {wall * 1000:8.0f} ms wall, {cpu * 1000:8.0f} ms CPU, "
              f"peak {peak:6.0f} MiB", flush=True)
med = {name: statistics.median(w for w, _, _ in r) for name, r in results.items()}
cpu = {name: statistics.median(c for _, c, _ in r) for name, r in results.items()}
peak = {name: max(p for _, _, p in r) for name, r in results.items()}
for name in commands:
    print(f"median {name:{width}}: {med[name] * 1000:8.0f} ms wall, {cpu[name] * 1000:8.0f} ms CPU, "
          f"peak {peak[name]:6.0f} MiB")
for name in commands:
    if name == "python":
        continue
    r = med[name] / med["python"]
    print(f"ratio {name} / python: {r:.2f} wall, {cpu[name] / cpu['python']:.2f} CPU "
          f"({'export is not slower' if r <= 1 else 'python is faster'})")
PY
calibrate
