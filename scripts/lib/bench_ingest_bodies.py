"""Request bodies for scripts/bench-ingest: one SigV4-signed awsJson1_0 PutMetricData and the
same samples as VictoriaMetrics /api/v1/import JSON lines, each with a wrk lua script.

    python bench_ingest_bodies.py OUT_DIR STRATUS_ENDPOINT CREDENTIALS_FILE VM_ENDPOINT

Writes OUT_DIR/{stratus.body,stratus.lua,vm.body,vm.lua}. The signed request is replayed
as is: the server checks the signature and its 15-minute date window, not uniqueness.
"""

import json
import random
import sys
import time
from configparser import ConfigParser
from pathlib import Path

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

NAMESPACE = "CWAgent"
HOSTS = 100
# (metric, unit, extra dimensions, value generator): CloudWatch-agent style host metrics
# with full-precision doubles, like real agents send (97.49373433583960, not 97.5).
METRICS = [
    ("cpu_usage_idle", "Percent", {"cpu": "cpu-total"}, lambda r: r.uniform(60, 100)),
    ("cpu_usage_user", "Percent", {"cpu": "cpu-total"}, lambda r: r.uniform(0, 30)),
    ("cpu_usage_system", "Percent", {"cpu": "cpu-total"}, lambda r: r.uniform(0, 10)),
    ("cpu_usage_iowait", "Percent", {"cpu": "cpu-total"}, lambda r: r.uniform(0, 5)),
    ("mem_used_percent", "Percent", {}, lambda r: r.uniform(20, 90)),
    ("swap_used_percent", "Percent", {}, lambda r: r.uniform(0, 3)),
    ("disk_used_percent", "Percent", {"path": "/", "device": "nvme0n1p1", "fstype": "ext4"},
     lambda r: r.uniform(10, 95)),
    ("diskio_io_time", "Milliseconds", {"name": "nvme0n1"}, lambda r: r.uniform(0, 1000)),
    ("net_bytes_recv", "Bytes", {"interface": "eth0"}, lambda r: r.uniform(1e5, 1e9)),
    ("processes_total", "Count", {}, lambda r: float(r.randint(150, 600))),
]


def samples(now_s):
    """1,000 distinct series (100 hosts x 10 metrics), one sample each."""
    rng = random.Random(17)
    out = []
    for h in range(HOSTS):
        host = f"ip-10-0-{h // 250}-{h % 250 + 1}.ec2.internal"
        for name, unit, extra, gen in METRICS:
            dims = {"host": host, "InstanceId": f"i-0{h:016x}", **extra}
            out.append((name, unit, dims, gen(rng), now_s))
    return out


def lua(headers, body_file):
    """A wrk script sending BODY_FILE with HEADERS, printing a JSON summary at the end."""
    hs = "\n".join(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items())
    return f"""wrk.method = "POST"
local f = assert(io.open({json.dumps(str(body_file))}, "rb"))
wrk.body = f:read("*a")
f:close()
{hs}
done = function(summary, latency, requests)
  io.write(string.format(
    'BENCH {{"requests":%d,"duration_us":%d,"bytes":%d,"status_errors":%d,'
    .. '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,'
    .. '"p50_us":%d,"p99_us":%d,"max_us":%d}}\\n',
    summary.requests, summary.duration, summary.bytes, summary.errors.status,
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def main():
    out_dir, stratus, cred_file, vm = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    now_s = int(time.time()) - 60
    data = samples(now_s)

    body = json.dumps({
        "Namespace": NAMESPACE,
        "MetricData": [
            {
                "MetricName": name,
                "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
                "Timestamp": ts,
                "Value": value,
                "Unit": unit,
            }
            for name, unit, dims, value, ts in data
        ],
    }).encode()
    cfg = ConfigParser()
    cfg.read(cred_file)
    section = cfg[cfg.sections()[0]]
    creds = Credentials(section["aws_access_key_id"], section["aws_secret_access_key"])
    req = AWSRequest(method="POST", url=stratus + "/", data=body, headers={
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": "GraniteServiceVersion20100801.PutMetricData",
    })
    SigV4Auth(creds, "monitoring", "us-east-1").add_auth(req)
    headers = {k: v for k, v in req.headers.items()}
    headers["Host"] = stratus.split("://", 1)[1]
    (out_dir / "stratus.body").write_bytes(body)
    (out_dir / "stratus.lua").write_text(lua(headers, out_dir / "stratus.body"))

    lines = []
    for name, _unit, dims, value, ts in data:
        metric = {"__name__": f"{NAMESPACE}_{name}", **dims}
        lines.append(json.dumps({"metric": metric, "values": [value],
                                 "timestamps": [ts * 1000]}))
    vm_body = ("\n".join(lines) + "\n").encode()
    (out_dir / "vm.body").write_bytes(vm_body)
    (out_dir / "vm.lua").write_text(lua({"Content-Type": "application/json"}, out_dir / "vm.body"))
    print(json.dumps({"datums": len(data), "stratus_body_bytes": len(body),
                      "vm_body_bytes": len(vm_body)}))


if __name__ == "__main__":
    main()
