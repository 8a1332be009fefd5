"""A bounded fuzz of hostile uploads against a real ``serve`` over mutual TLS: a few hundred per run (CI's
profile is derandomized; 200 here), each checked for no 5xx and a schema-valid TransactionLog (or a clean HTTP 400/
408/413 for a broken request frame); at the end, no traceback in the server's log.

``benchmarks/fuzz.py --n 10000`` runs the same uploads (``sevis_mock.harness.hostile``) for a long run.
"""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sevis_mock.harness.hostile import KINDS, Fuzzer, judge
from tests.support.server import UNHANDLED, official_translog_schema, start_server

SEEN: Counter = Counter()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("fuzz"), "--processing-delay", "3600")
    yield server
    server.stop(wait=False)


@pytest.fixture(scope="module")
def fuzz(server):
    org = server.org("F/M")
    fuzzer = Fuzzer(org["org_id"], org["user_id"])
    fuzzer.mutations  # noqa: B018  (computed once, outside the examples)
    session = server.session((org["client_cert"], org["client_key"]))
    yield fuzzer, session
    session.close()


@pytest.mark.slow
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1))
def test_hostile_uploads_get_a_sevis_code_or_a_clean_http_error(server, fuzz, seed):
    fuzzer, session = fuzz
    upload = fuzzer.upload(random.Random(seed))
    response = upload.send(session, server.base_url)
    SEEN[(upload.kind, judge(upload, response, official_translog_schema()))] += 1


def test_the_fuzz_covered_every_kind_and_left_no_traceback(server):
    kinds = {kind for kind, _ in SEEN}
    if not SEEN:
        pytest.skip("the fuzz test did not run in this session")
    assert kinds == set(KINDS), set(KINDS) - kinds
    codes = Counter(code for (_, code), n in SEEN.items() for _ in range(n))
    assert {"S0012", "S0013", "S0001"} <= set(codes), codes
    assert UNHANDLED not in (server.data_dir / "serve.log").read_text(errors="replace")
