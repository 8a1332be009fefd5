"""The certificate a college brings to the rehearsal: PEM or PKCS#12, usable for client auth, trusted by the mock."""

from __future__ import annotations

import datetime

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import given, strategies as st
from lxml import etree

from sevis_mock.harness.rehearsal.certs import CertificateError, from_p12, from_pem, trust_anchors
from sevis_mock.harness.rehearsal.readdress import readdress
from sevis_mock.harness.rehearsal.sample import sample_batch


def _self_signed(tmp_path, usage=ExtendedKeyUsageOID.CLIENT_AUTH):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "registrar@college.example.edu")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "c.pem", tmp_path / "k.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert, cert_file, key_file


def leaf_subject(path) -> str:
    return x509.load_pem_x509_certificates(path.read_bytes())[0].subject.rfc4514_string()


def test_pem_certificate_with_its_chain_makes_the_chain_the_trust_anchor(tmp_path):
    ca = trustme.CA()
    leaf = ca.issue_cert("batch.college.example.edu")
    chain_file, key_file = tmp_path / "chain.pem", tmp_path / "key.pem"
    leaf.cert_chain_pems[0].write_to_path(str(chain_file))
    ca.cert_pem.write_to_path(str(chain_file), append=True)
    leaf.private_key_pem.write_to_path(str(key_file))
    cert = from_pem(chain_file, key_file)
    assert cert.source == "college" and cert.subject == leaf_subject(chain_file)
    assert cert.pem.count("BEGIN CERTIFICATE") == 1  # only the leaf is registered
    anchors = trust_anchors(cert, tmp_path)
    assert [a.read_bytes() for a in anchors] == [ca.cert_pem.bytes()]


def test_self_signed_certificate_trusts_itself_and_a_bare_leaf_trusts_nothing(tmp_path):
    cert, cert_file, key_file = _self_signed(tmp_path)
    assert trust_anchors(from_pem(cert_file, key_file), tmp_path)[0].read_bytes() == cert.public_bytes(
        serialization.Encoding.PEM
    )
    leaf = trustme.CA().issue_cert("x.example.edu")
    leaf.cert_chain_pems[0].write_to_path(str(tmp_path / "leaf.pem"))
    leaf.private_key_pem.write_to_path(str(tmp_path / "leaf.key"))
    assert trust_anchors(from_pem(tmp_path / "leaf.pem", tmp_path / "leaf.key"), tmp_path) == []


def test_a_certificate_without_client_auth_is_refused(tmp_path):
    _, cert_file, key_file = _self_signed(tmp_path, ExtendedKeyUsageOID.SERVER_AUTH)
    with pytest.raises(CertificateError, match="clientAuth"):
        from_pem(cert_file, key_file)


def test_unreadable_files_say_what_to_give(tmp_path):
    (tmp_path / "junk.pem").write_text("not a certificate")
    _, cert_file, _ = _self_signed(tmp_path)
    with pytest.raises(CertificateError, match="holds no PEM certificate"):
        from_pem(tmp_path / "junk.pem", tmp_path / "junk.pem")
    with pytest.raises(CertificateError, match="not an unencrypted PEM private key"):
        from_pem(cert_file, tmp_path / "junk.pem")


def test_pkcs12_needs_its_password_and_becomes_pem(tmp_path):
    cert, cert_file, key_file = _self_signed(tmp_path)
    key = serialization.load_pem_private_key(key_file.read_bytes(), None)
    p12 = tmp_path / "c.p12"
    p12.write_bytes(
        pkcs12.serialize_key_and_certificates(b"c", key, cert, None, serialization.BestAvailableEncryption(b"pw"))
    )
    with pytest.raises(CertificateError, match="needs --p12-password"):
        from_p12(p12, None, tmp_path / "out")
    with pytest.raises(CertificateError, match="wrong --p12-password"):
        from_p12(p12, "nope", tmp_path / "out")
    got = from_p12(p12, "pw", tmp_path / "out")
    assert got.leaf == cert and (got.key_path.stat().st_mode & 0o777) == 0o600


ORG_IDS = st.from_regex(r"\A[A-Z]{3}214F\d{8}\Z")
USER_IDS = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=10, max_size=10)
BATCH_IDS = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=14, max_size=14)


@given(org_id=ORG_IDS, user_id=USER_IDS, batch_id=BATCH_IDS)
def test_readdressing_changes_only_the_address(org_id, user_id, batch_id):
    original = sample_batch()
    out, changes = readdress(original, org_id=org_id, user_id=user_id, batch_id=batch_id)
    before, after = etree.fromstring(original), etree.fromstring(out)
    assert (after.findtext("BatchHeader/OrgID"), after.findtext("BatchHeader/BatchID")) == (org_id, batch_id)
    assert {e.get("userID") for e in after.iter() if e.get("userID")} == {user_id}
    for old, new in zip(before.iter(), after.iter()):
        assert old.tag == new.tag
        if old.tag not in ("OrgID", "BatchID"):
            assert (old.text or "").strip() == (new.text or "").strip()
        assert {k: v for k, v in old.attrib.items() if k != "userID"} == {
            k: v for k, v in new.attrib.items() if k != "userID"
        }
    expected = (
        [f"BatchHeader/BatchID SAMPLEBATCH001 -> {batch_id}"] * (batch_id != "SAMPLEBATCH001")
        + [f"BatchHeader/OrgID AAA214F00000000 -> {org_id}"] * (org_id != "AAA214F00000000")
        + [f"userID SAMPLEUSER -> {user_id} (3 attributes)"] * (user_id != "SAMPLEUSER")
    )
    assert changes == expected
