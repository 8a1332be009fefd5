"""How long the `sevis-mock` command takes to start, as ratios against `python -c pass` measured in the same run.

    python benchmarks/cli_start.py [--rounds N]

Each round runs, interleaved (so a busy machine slows all alike): ``python -c pass`` (the floor), ``sevis-mock
--help``, ``sevis-mock --version``, a CLI upload and a CLI download against a mock started for the run
(``sevis_mock.running``), and the same upload and download with curl (the network and the server's own time),
when curl is installed. Medians are reported with

* ``help/pass`` and ``version/pass``: target <= 15 (0.3 s where ``python -c pass`` takes 0.02 s);
* ``(upload - curl upload)/pass`` and ``(download - curl download)/pass``: what the CLI adds to the exchange;
  target <= 25 (0.5 s plus the network where ``python -c pass`` takes 0.02 s).

Exit code 0 when every target is met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

TARGETS = {"help": 15.0, "version": 15.0, "upload": 25.0, "download": 25.0}


def sevis_mock_command() -> list[str]:
    script = Path(sys.executable).parent / "sevis-mock"
    return [str(script)] if script.exists() else [sys.executable, "-m", "sevis_mock"]


def timed(command: list[str], **kwargs) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kwargs)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):  # 1: the mock refused (e.g. S1004 on a repeated student), still measured
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.decode()[-500:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()

    import sevis_mock
    from sevis_mock.fixtures import read_fixture
    from sevis_mock.harness.client import replace_batch_id

    cli = sevis_mock_command()
    curl = shutil.which("curl")
    samples: dict[str, list[float]] = {k: [] for k in ("pass", "help", "version", "upload", "download")}
    if curl:
        samples |= {"curl upload": [], "curl download": []}
    document = read_fixture("fm/create-with-dependent.xml")
    with tempfile.TemporaryDirectory() as work, sevis_mock.running(processing_delay=0) as mock:
        work = Path(work)
        connection = mock.data_dir / "connection.json"
        school = mock.org("F/M")
        env_cli = [*cli]
        first = "BENCH00000000A"
        (work / "first.xml").write_bytes(replace_batch_id(document, first))
        with mock.client(school) as client:
            client.upload((work / "first.xml").read_bytes(), org_id=school.org_id, user_id=school.user_id)
        mock.process_now()
        upload_url = f"{mock.base_url}/sbtsevisbatch/action/batchUpload"
        download_url = (
            f"{mock.base_url}/sbtsevisbatch/action/batchDownload?orgid={school.org_id}&userid={school.user_id}"
            f"&batchid={first}"
        )
        tls = ["--cacert", mock.ca_cert, "--cert", school.client_cert, "--key", school.client_key, "-s", "-f"]
        for n in range(args.rounds):
            batch_id = f"BENCH{n:08d}B"
            path = work / f"{batch_id}.xml"
            path.write_bytes(replace_batch_id(document, batch_id))
            samples["pass"].append(timed([sys.executable, "-c", "pass"]))
            samples["help"].append(timed([*env_cli, "--help"]))
            samples["version"].append(timed([*env_cli, "--version"]))
            samples["upload"].append(
                timed([*env_cli, "upload", str(path), "--connection", str(connection), "--org", school.org_id])
            )
            samples["download"].append(
                timed(
                    [*env_cli, "download", "--batch-id", first, "--org", school.org_id, "--connection", str(connection)]
                    + ["--out", str(work / "out")]
                )
            )
            if curl:
                curl_id = f"CURL{n:09d}B"
                curl_doc = work / f"{curl_id}.xml"
                curl_doc.write_bytes(replace_batch_id(document, curl_id))
                fields = ["-F", f"orgid={school.org_id}", "-F", f"userid={school.user_id}", "-F", f"batchid={curl_id}"]
                samples["curl upload"].append(
                    timed([curl, *tls, *fields, "-F", f"xml=@{curl_doc}", "-o", "/dev/null", upload_url])
                )
                samples["curl download"].append(timed([curl, *tls, "-o", "/dev/null", download_url]))

    median = {k: statistics.median(v) for k, v in samples.items()}
    floor = median["pass"]
    ratios = {"help": median["help"] / floor, "version": median["version"] / floor}
    for action in ("upload", "download"):
        network = median.get(f"curl {action}", 0.0)
        ratios[action] = (median[action] - network) / floor
    for name, value in median.items():
        print(f"{name:>14}: median {value * 1000:7.1f} ms over {len(samples[name])} runs")
    ok = True
    for name, ratio in ratios.items():
        meets = ratio <= TARGETS[name]
        ok &= meets
        what = f"({name} - curl {name})/pass" if name in ("upload", "download") and curl else f"{name}/pass"
        print(f"{what:>32}: {ratio:5.1f}  (target <= {TARGETS[name]:g}) {'ok' if meets else 'OVER'}")
    if not curl:
        print("curl not found: upload and download ratios include the network and the server")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
