"""curl as the old SEVIS tutorials use it (``-E cert --key key -F orgid=... -F xml=@file``), against a real `serve`.

The `curl` binary is required in CI (`.ci/run` installs Debian's package); elsewhere these tests are skipped,
with the reason, when it is missing.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from sevis_mock.fixtures import read_fixture
from tests.clients.conftest import control, read_log
from tests.support.server import new_batch_id, with_batch_id

CURL = shutil.which("curl")
if CURL is None:
    if os.environ.get("CI"):
        raise RuntimeError("curl is missing: .ci/run installs Debian's curl package; install it to run these tests")
    pytest.skip("the curl binary is not installed (CI installs it)", allow_module_level=True)


def curl(serve, org: dict, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """curl with the school's certificate (-E/--key) and the mock's CA, nothing from the environment."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd)}  # no proxy, no CURL_CA_BUNDLE
    cmd = [CURL, "-sS", "--cacert", serve.ca, "-E", org["client_cert"], "--key", org["client_key"], *args]
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    return done


@pytest.mark.parametrize("file_type", ["", ";type=text/xml"])
def test_upload_and_download_as_the_tutorials_do(serve, tmp_path, file_type):
    org = serve.org("F/M")
    batch_id = new_batch_id("U")
    (tmp_path / "students.xml").write_bytes(with_batch_id(read_fixture("fm/create-three-students.xml"), batch_id))
    form = ["-F", f"orgid={org['org_id']}", "-F", f"userid={org['user_id']}", "-F", f"batchid={batch_id}"]
    url = f"{serve.base_url}/sbtsevisbatch/action/batchUpload"
    up = curl(serve, org, *form, "-F", f"xml=@students.xml{file_type}", url, cwd=tmp_path)
    log = read_log(up.stdout)
    assert log.find("BatchDetail/Upload").get("resultCode") == "S0000"
    assert log.findtext("BatchDetail/Upload/FileName") == "students.xml"
    again = read_log(curl(serve, org, *form, "-F", f"xml=@students.xml{file_type}", url, cwd=tmp_path).stdout)
    assert again.find("BatchDetail/Upload").get("resultCode") == "S0010"

    control(serve, "POST", "process-now")
    query = f"orgid={org['org_id']}&userid={org['user_id']}&batchid={batch_id}"
    curl(serve, org, "-o", "batch.zip", f"{serve.base_url}/sbtsevisbatch/action/batchDownload?{query}", cwd=tmp_path)
    with zipfile.ZipFile(io.BytesIO((tmp_path / "batch.zip").read_bytes())) as zf:
        done = read_log(zf.read("sevis_transaction_log.xml"))
        names = zf.namelist()
    assert done.find("BatchDetail/Download").get("resultCode") == "S0000"
    assert done.find("BatchDetail/Process").get("resultCode") == "S0000"
    assert done.findtext("BatchDetail/Process/RecordCount/Total") == "3"
    printed = [r.get("sevisID") for r in done.iterfind("BatchDetail/Process/Record")]
    assert sum(f"{sevis_id}.pdf" in names for sevis_id in printed) == 2  # one of the three is printForm="false"


def test_a_download_by_form_post_without_a_certificate_is_403_s0001(serve, tmp_path):
    org = serve.org("F/M")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)}
    done = subprocess.run(
        [CURL, "-sS", "-w", "\n%{http_code}", "--cacert", serve.ca, "-d", f"orgid={org['org_id']}", "-d",
         f"userid={org['user_id']}", "-d", "batchid=NOCERTIFICATE1", f"{serve.base_url}/sbtsevisbatch/action/batchDownload"],
        env=env, capture_output=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    body, _, status = done.stdout.rpartition(b"\n")
    assert status == b"403"
    log = read_log(body)
    assert log.find("BatchDetail/Download").get("resultCode") == "S0001"
