#!/usr/bin/env bash
# The binary's `export` against Python's csv.reader merely reading the same two reports.
#
#   benches/vs_python.sh [users] [runs]      # default: 1000000 users, 3 runs each
#
# Generates the reports once (examples/write_reports.rs, the parse_and_plan bench's
# world: users/10 organizations) into target/vs-python/<users>/, builds the release
# binary, prints the bench's calibration line, then runs export and Python alternately
# (E P E P ...), `runs` times each, and prints each run, the medians, the ratio and the
# peak RSS (from /usr/bin/time -v when installed, else the child's getrusage).
#
# Environment:
#   PZS_BIN          binary to measure (default: target/release/pages-zendesk-sync, built)
#   PZS_EXPORT_ARGS  extra export arguments, used verbatim instead of the detection below
#
# Detection (the export command is being extended elsewhere): `--format data-importer`
# is passed when `export --help` lists it; a report-size option (a long option whose
# name has "max", "limit" or "size" in it) gets PZS_REPORT_LIMIT (default 1073741824).
# A binary with neither reads at most its fixed cap (64 MiB): export then fails on the
# 1M report, and the script says so instead of printing a time.
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
cargo bench --quiet --locked --bench parse_and_plan -- --calibrate-only 2>&1 | grep calibration || true

help=$("$bin" export --help)
if [[ -n ${PZS_EXPORT_ARGS+set} ]]; then
    extra=$PZS_EXPORT_ARGS
    echo "export arguments (PZS_EXPORT_ARGS): $extra"
else
    extra=""
    if grep -q -- '--format' <<<"$help" && grep -q 'data-importer' <<<"$help"; then
        extra="--format data-importer"
    fi
    limit_opt=$(grep -oE -- '--[a-z-]*(max|limit|size)[a-z-]*' <<<"$help" | head -n1 || true)
    if [[ -n $limit_opt ]]; then
        extra="$extra $limit_opt ${PZS_REPORT_LIMIT:-1073741824}"
    else
        echo "note: export --help lists no report-size option: the binary's own cap applies"
    fi
    echo "export arguments detected: ${extra:-(none)}"
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

python3 - "$bin" "$dir" "$out" "$runs" "$extra" <<'PY'
import os, shlex, shutil, statistics, subprocess, sys, time

bin_, dir_, out, runs, extra = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
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
commands = {
    "export": [bin_, "export", "--organizations", orgs, "--users", users, "--out", out]
    + shlex.split(extra),
    "python": [sys.executable, "-c", read_py, orgs, users],
}
gnu_time = shutil.which("time") if os.path.exists("/usr/bin/time") else None

def run(cmd):
    """Wall seconds and peak RSS (MiB) of one run of cmd."""
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
    for line in err.splitlines():
        if "Maximum resident set size" in line:
            peak_kib = int(line.split(":")[1])
    return wall, peak_kib / 1024

results = {name: [] for name in commands}
for i in range(runs):
    for name, cmd in commands.items():  # alternately: export, python, export, ...
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        wall, peak = run(cmd)
        results[name].append((wall, peak))
        print(f"run {i + 1} {name:6}: {wall * 1000:8.0f} ms wall, peak {peak:6.0f} MiB", flush=True)
med = {name: statistics.median(w for w, _ in r) for name, r in results.items()}
peak = {name: max(p for _, p in r) for name, r in results.items()}
for name in commands:
    print(f"median {name:6}: {med[name] * 1000:8.0f} ms, peak {peak[name]:6.0f} MiB")
print(f"ratio export / python: {med['export'] / med['python']:.2f} "
      f"({'export is faster' if med['export'] <= med['python'] else 'python is faster'})")
PY
