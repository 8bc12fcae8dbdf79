#!/usr/bin/python3
"""Conformance suite for the Azure Key Vault Python SDK (Debian's python3-azure).

Runs each operation in order against a KeyVault server and writes one JSON
line per operation to $KV_RESULTS_DIR/python.jsonl. test/conformance/run.sh
starts the server inside a loopback-only network namespace and sets
KV_DATA_DIR (the server's data directory, with credentials.json and ca.pem),
KV_PORT and KV_RESULTS_DIR. Run it with /usr/bin/python3: Debian's Azure
packages are visible only to the system interpreter.

Operations share state (a secret set by one is read by the next), so they run
in the order they are defined. A failed operation is recorded and the run goes
on; the exit status is 1 if any operation failed.
"""

import base64
import datetime
import hashlib
import json
import os
import secrets as pyrandom
import ssl
import sys
import time
import traceback
import urllib.request

from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.identity import ClientSecretCredential
from azure.keyvault.certificates import (
    CertificateClient,
    CertificateContentType,
    CertificatePolicy,
    CertificateContact,
)
from azure.keyvault.keys import (
    JsonWebKey,
    KeyClient,
    KeyRotationLifetimeAction,
    KeyRotationPolicy,
    KeyRotationPolicyAction,
)
from azure.keyvault.keys.crypto import (
    CryptographyClient,
    EncryptionAlgorithm,
    KeyWrapAlgorithm,
    SignatureAlgorithm,
)
from azure.keyvault.secrets import SecretClient
from azure.mgmt.keyvault import KeyVaultManagementClient
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

CLIENT = "python"
MANAGEMENT_RESOURCE = "https://management.localhost"
# The vault that the management operations create; run.sh lists its host
# name in the namespace's /etc/hosts.
NEW_VAULT = "conf-vault"


class CheckFailed(Exception):
    """A check of a returned value failed."""


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


def check_equal(got, want, field):
    if got != want:
        raise CheckFailed(f"{field}: got {got!r}, want {want!r}")


def check_raises(exc_type, fn, status=None):
    """Call fn and check that it raises exc_type (with an HTTP status, if given)."""
    try:
        fn()
    except exc_type as e:
        if status is not None:
            check_equal(getattr(e, "status_code", None), status, "HTTP status")
        return e
    raise CheckFailed(f"no {exc_type.__name__} was raised")


OPERATIONS = []


def operation(area, name):
    """Register a function as one operation of the suite, in definition order."""

    def register(fn):
        OPERATIONS.append((area, name, fn))
        return fn

    return register


class Context:
    """Server coordinates, clients, and values that operations pass on."""

    def __init__(self):
        data_dir = os.environ["KV_DATA_DIR"]
        self.port = os.environ["KV_PORT"]
        with open(os.path.join(data_dir, "credentials.json")) as f:
            self.creds = json.load(f)
        self.ca_file = os.path.join(data_dir, "ca.pem")
        self.authority = f"https://localhost:{self.port}"
        self.management_url = f"https://localhost:{self.port}"
        self.vault_url = f"https://default.vault.localhost:{self.port}"
        self.suffix = pyrandom.token_hex(3)
        self.credential = self.make_credential(self.creds["clientId"], self.creds["clientSecret"])
        # One retry keeps failures quick; a single request never needs more
        # against a local server.
        opts = {"retry_total": 1, "connection_verify": self.ca_file}
        self.client_options = opts
        self.secrets = SecretClient(self.vault_url, self.credential, **opts)
        self.keys = KeyClient(self.vault_url, self.credential, **opts)
        self.certificates = CertificateClient(self.vault_url, self.credential, **opts)
        self.state = {}

    def make_credential(self, client_id, client_secret):
        # instance_discovery=False is the spelling of azure-identity
        # 1.13.0b2 (GA 1.13.0 renamed it disable_instance_discovery=True).
        # Without it MSAL sends an instance discovery request to
        # login.microsoftonline.com.
        return ClientSecretCredential(
            self.creds["tenantId"],
            client_id,
            client_secret,
            authority=self.authority,
            instance_discovery=False,
            connection_verify=self.ca_file,
        )

    def name(self, base):
        return f"{base}-{self.suffix}"

    def management_request(self, method, path, body=None):
        """Send a management request with the administrator's token."""
        token = self.credential.get_token(MANAGEMENT_RESOURCE + "/.default").token
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.management_url + path, data=data, method=method)
        req.add_header("Authorization", "Bearer " + token)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        ctx = ssl.create_default_context(cafile=self.ca_file)
        with urllib.request.urlopen(req, context=ctx, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"null")


def self_signed(common_name, key=None):
    """Return a private key and a self-signed certificate made locally."""
    key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return key, cert


def common_name(cert):
    return cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


# ---------------------------------------------------------------- identity


@operation("identity", "token for the vault resource")
def op_token(c):
    token = c.credential.get_token(c.creds["resource"] + "/.default")
    check(token.token.count(".") == 2, "the access token is not a JWT")
    check(token.expires_on > time.time() + 3000, f"expires_on {token.expires_on} is less than 50 minutes away")


@operation("identity", "token for the management resource")
def op_token_management(c):
    token = c.credential.get_token(MANAGEMENT_RESOURCE + "/.default")
    check(token.token.count(".") == 2, "the access token is not a JWT")


# ---------------------------------------------------------------- secrets


@operation("secrets", "set")
def op_secret_set(c):
    name = c.name("py-secret")
    s = c.secrets.set_secret(name, "value-1", content_type="text/plain", tags={"env": "conformance"})
    check_equal(s.value, "value-1", "value")
    check_equal(s.properties.content_type, "text/plain", "content type")
    check_equal(s.properties.tags, {"env": "conformance"}, "tags")
    check_equal(len(s.properties.version or ""), 32, "version length")
    check_equal(s.id, f"{c.vault_url}/secrets/{name}/{s.properties.version}", "id")
    check_equal(s.properties.recovery_level, "Recoverable+Purgeable", "recovery level")
    check(s.properties.enabled, "the new secret is not enabled")
    c.state["secret"] = name
    c.state["secret_v1"] = s.properties.version


@operation("secrets", "get latest")
def op_secret_get(c):
    s = c.secrets.get_secret(c.state["secret"])
    check_equal(s.value, "value-1", "value")
    check_equal(s.properties.version, c.state["secret_v1"], "version")


@operation("secrets", "set new version")
def op_secret_set_version(c):
    s = c.secrets.set_secret(c.state["secret"], "value-2")
    check(s.properties.version != c.state["secret_v1"], "the second version has the first version's id")
    c.state["secret_v2"] = s.properties.version
    check_equal(c.secrets.get_secret(c.state["secret"]).value, "value-2", "latest value")


@operation("secrets", "get version")
def op_secret_get_version(c):
    s = c.secrets.get_secret(c.state["secret"], c.state["secret_v1"])
    check_equal(s.value, "value-1", "value of the first version")


@operation("secrets", "list")
def op_secret_list(c):
    found = [p for p in c.secrets.list_properties_of_secrets() if p.name == c.state["secret"]]
    check_equal(len(found), 1, "listed entries for the secret")
    check_equal(found[0].content_type, None, "content type of the latest version")


@operation("secrets", "list paged")
def op_secret_list_paged(c):
    prefix = c.name("py-page")
    for i in range(12):
        c.secrets.set_secret(f"{prefix}-{i:02d}", str(i))
    pages = list(c.secrets.list_properties_of_secrets(max_page_size=5).by_page())
    names = [p.name for page in pages for p in page if p.name.startswith(prefix)]
    check_equal(sorted(names), [f"{prefix}-{i:02d}" for i in range(12)], "paged names")
    check(len(pages) >= 3, f"got {len(pages)} pages of at most 5, want at least 3")


@operation("secrets", "list versions")
def op_secret_versions(c):
    versions = {p.version for p in c.secrets.list_properties_of_secret_versions(c.state["secret"])}
    check_equal(versions, {c.state["secret_v1"], c.state["secret_v2"]}, "versions")


@operation("secrets", "update properties")
def op_secret_update(c):
    p = c.secrets.update_secret_properties(c.state["secret"], content_type="application/json", tags={"a": "b"})
    check_equal(p.content_type, "application/json", "content type")
    check_equal(p.tags, {"a": "b"}, "tags")
    check_equal(p.version, c.state["secret_v2"], "version")


@operation("secrets", "get disabled (403)")
def op_secret_disabled(c):
    name = c.state["secret"]
    c.secrets.update_secret_properties(name, enabled=False)
    e = check_raises(HttpResponseError, lambda: c.secrets.get_secret(name), status=403)
    check_equal(e.error.code if e.error else None, "Forbidden", "error code")
    c.secrets.update_secret_properties(name, enabled=True)
    check_equal(c.secrets.get_secret(name).value, "value-2", "value after enabling again")


@operation("secrets", "get missing (404)")
def op_secret_missing(c):
    e = check_raises(ResourceNotFoundError, lambda: c.secrets.get_secret(c.name("py-missing")), status=404)
    check_equal(e.error.code if e.error else None, "SecretNotFound", "error code")


@operation("secrets", "delete (poll)")
def op_secret_delete(c):
    d = c.secrets.begin_delete_secret(c.state["secret"], _polling_interval=0.2).result()
    check_equal(d.name, c.state["secret"], "name")
    check(d.recovery_id and d.recovery_id.endswith("/deletedsecrets/" + c.state["secret"]), f"recovery id {d.recovery_id}")
    check(d.deleted_date is not None, "no deleted date")
    check(d.scheduled_purge_date is not None and d.scheduled_purge_date > d.deleted_date, "scheduled purge date")


@operation("secrets", "get deleted")
def op_secret_get_deleted(c):
    d = c.secrets.get_deleted_secret(c.state["secret"])
    check_equal(d.properties.version, c.state["secret_v2"], "version")


@operation("secrets", "list deleted")
def op_secret_list_deleted(c):
    names = [d.name for d in c.secrets.list_deleted_secrets()]
    check(c.state["secret"] in names, f"{c.state['secret']} is not among the deleted secrets")


@operation("secrets", "set deleted name (409)")
def op_secret_set_deleted(c):
    e = check_raises(ResourceExistsError, lambda: c.secrets.set_secret(c.state["secret"], "x"), status=409)
    check_equal(e.error.code if e.error else None, "Conflict", "error code")


@operation("secrets", "recover (poll)")
def op_secret_recover(c):
    s = c.secrets.begin_recover_deleted_secret(c.state["secret"], _polling_interval=0.2).result()
    check_equal(s.name, c.state["secret"], "name")
    check_equal(c.secrets.get_secret(c.state["secret"]).value, "value-2", "value after recovery")


@operation("secrets", "purge")
def op_secret_purge(c):
    name = c.name("py-purge")
    c.secrets.set_secret(name, "gone")
    c.secrets.begin_delete_secret(name, _polling_interval=0.2).result()
    c.secrets.purge_deleted_secret(name)
    check_raises(ResourceNotFoundError, lambda: c.secrets.get_deleted_secret(name), status=404)
    s = c.secrets.set_secret(name, "again")
    check_equal(s.value, "again", "value set after purge")


@operation("secrets", "backup")
def op_secret_backup(c):
    blob = c.secrets.backup_secret(c.state["secret"])
    check(isinstance(blob, bytes) and len(blob) > 32, f"backup is {len(blob)} bytes")
    c.state["secret_backup"] = blob


@operation("secrets", "restore")
def op_secret_restore(c):
    name = c.state["secret"]
    c.secrets.begin_delete_secret(name, _polling_interval=0.2).result()
    c.secrets.purge_deleted_secret(name)
    p = c.secrets.restore_secret_backup(c.state["secret_backup"])
    check_equal(p.name, name, "restored name")
    check_equal(c.secrets.get_secret(name).value, "value-2", "restored value")
    versions = {v.version for v in c.secrets.list_properties_of_secret_versions(name)}
    check_equal(versions, {c.state["secret_v1"], c.state["secret_v2"]}, "restored versions")


# ---------------------------------------------------------------- keys


@operation("keys", "create RSA")
def op_key_rsa(c):
    k = c.keys.create_rsa_key(c.name("py-rsa"), size=2048)
    check_equal(k.key_type, "RSA", "key type")
    check_equal(len(k.key.n), 256, "modulus bytes")
    check(k.key.d is None, "the private exponent was returned")
    check_equal(k.id, f"{c.vault_url}/keys/{k.name}/{k.properties.version}", "id")
    c.state["rsa"] = k


@operation("keys", "create EC")
def op_key_ec(c):
    k = c.keys.create_ec_key(c.name("py-ec"), curve="P-256")
    check_equal(k.key_type, "EC", "key type")
    check_equal(k.key.crv, "P-256", "curve")
    check_equal((len(k.key.x), len(k.key.y)), (32, 32), "coordinate bytes")
    c.state["ec"] = k


@operation("keys", "create oct")
def op_key_oct(c):
    k = c.keys.create_oct_key(c.name("py-oct"), size=256)
    check_equal(k.key_type, "oct", "key type")
    check(k.key.k is None, "the symmetric key material was returned")
    c.state["oct"] = k


@operation("keys", "import RSA")
def op_key_import(c):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = private.private_numbers()

    def b(n):
        return n.to_bytes((n.bit_length() + 7) // 8, "big")

    jwk = JsonWebKey(
        kty="RSA",
        n=b(numbers.public_numbers.n),
        e=b(numbers.public_numbers.e),
        d=b(numbers.d),
        p=b(numbers.p),
        q=b(numbers.q),
        dp=b(numbers.dmp1),
        dq=b(numbers.dmq1),
        qi=b(numbers.iqmp),
        key_ops=["sign", "verify"],
    )
    k = c.keys.import_key(c.name("py-imported"), jwk)
    check_equal(k.key.n, b(numbers.public_numbers.n), "modulus")
    digest = hashlib.sha256(b"imported").digest()
    sig = CryptographyClient(k, c.credential, **c.client_options).sign(SignatureAlgorithm.rs256, digest).signature
    private.public_key().verify(sig, b"imported", padding.PKCS1v15(), hashes.SHA256())


@operation("keys", "get latest")
def op_key_get(c):
    k = c.keys.get_key(c.state["rsa"].name)
    check_equal(k.id, c.state["rsa"].id, "id")
    check_equal(k.key.n, c.state["rsa"].key.n, "modulus")


@operation("keys", "get version")
def op_key_get_version(c):
    k = c.keys.get_key(c.state["ec"].name, c.state["ec"].properties.version)
    check_equal(k.key.x, c.state["ec"].key.x, "x coordinate")


@operation("keys", "list")
def op_key_list(c):
    names = {p.name for p in c.keys.list_properties_of_keys()}
    for k in ("rsa", "ec", "oct"):
        check(c.state[k].name in names, f"{c.state[k].name} is not listed")


@operation("keys", "list versions")
def op_key_versions(c):
    name = c.state["ec"].name
    second = c.keys.create_ec_key(name, curve="P-256")
    versions = {p.version for p in c.keys.list_properties_of_key_versions(name)}
    check_equal(versions, {c.state["ec"].properties.version, second.properties.version}, "versions")
    c.state["ec"] = second


@operation("keys", "update properties")
def op_key_update(c):
    k = c.keys.update_key_properties(c.state["oct"].name, tags={"team": "conformance"}, key_operations=["wrapKey", "unwrapKey", "encrypt", "decrypt"])
    check_equal(k.properties.tags, {"team": "conformance"}, "tags")
    check_equal(sorted(c.keys.get_key(c.state["oct"].name).key_operations), ["decrypt", "encrypt", "unwrapKey", "wrapKey"], "key operations")


@operation("keys", "rotate")
def op_key_rotate(c):
    name = c.name("py-rotate")
    first = c.keys.create_rsa_key(name, size=2048)
    rotated = c.keys.rotate_key(name)
    check(rotated.properties.version != first.properties.version, "rotation kept the version")
    check_equal(rotated.key_type, "RSA", "key type")


@operation("keys", "rotation policy")
def op_key_rotation_policy(c):
    name = c.name("py-rotate")
    actions = [KeyRotationLifetimeAction(KeyRotationPolicyAction.rotate, time_after_create="P90D")]
    p = c.keys.update_key_rotation_policy(name, KeyRotationPolicy(lifetime_actions=actions, expires_in="P1Y"))
    check_equal(p.expires_in, "P1Y", "expires_in")
    got = c.keys.get_key_rotation_policy(name)
    rotate = [a for a in got.lifetime_actions if a.action == KeyRotationPolicyAction.rotate]
    check_equal([a.time_after_create for a in rotate], ["P90D"], "rotate actions")


@operation("keys", "create principal with crypto-only access")
def op_crypto_principal(c):
    status, p = c.management_request("POST", "/keyvault/principals", {"displayName": c.name("py-crypto")})
    check_equal(status, 201, "status")
    sub = c.creds["subscriptionId"]
    permissions = {"keys": ["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"]}
    body = {"properties": {"accessPolicies": [{"tenantId": c.creds["tenantId"], "objectId": p["objectId"], "permissions": permissions}]}}
    path = f"/subscriptions/{sub}/resourceGroups/default/providers/Microsoft.KeyVault/vaults/default/accessPolicies/add?api-version=2022-07-01"
    status, _ = c.management_request("PUT", path, body)
    check_equal(status, 200, "access policy status")
    c.state["crypto_cred"] = c.make_credential(p["clientId"], p["clientSecret"])


@operation("keys", "get without permission (403)")
def op_key_get_forbidden(c):
    keys = KeyClient(c.vault_url, c.state["crypto_cred"], **c.client_options)
    e = check_raises(HttpResponseError, lambda: keys.get_key(c.state["rsa"].name), status=403)
    check_equal(e.error.code if e.error else None, "Forbidden", "error code")


def server_crypto(c, kind):
    """Return a CryptographyClient that runs every operation on the server.

    Its principal may not read the key (keys/get), so the client finds no
    key material for local cryptography and sends each operation to the vault.
    """
    return CryptographyClient(c.state[kind].id, c.state["crypto_cred"], **c.client_options)


@operation("keys", "sign RS256 (server)")
def op_sign_rs256(c):
    digest = hashlib.sha256(b"conformance").digest()
    r = server_crypto(c, "rsa").sign(SignatureAlgorithm.rs256, digest)
    check_equal(len(r.signature), 256, "signature bytes")
    check_equal(r.key_id, c.state["rsa"].id, "key id")
    c.state["rs256_signature"] = r.signature


@operation("keys", "verify RS256 (server)")
def op_verify_rs256(c):
    digest = hashlib.sha256(b"conformance").digest()
    crypto = server_crypto(c, "rsa")
    check(crypto.verify(SignatureAlgorithm.rs256, digest, c.state["rs256_signature"]).is_valid, "valid signature rejected")
    bad = bytearray(c.state["rs256_signature"])
    bad[0] ^= 1
    check(not crypto.verify(SignatureAlgorithm.rs256, digest, bytes(bad)).is_valid, "tampered signature accepted")


@operation("keys", "encrypt RSA-OAEP (server)")
def op_encrypt_rsa(c):
    r = server_crypto(c, "rsa").encrypt(EncryptionAlgorithm.rsa_oaep, b"plaintext")
    check_equal(len(r.ciphertext), 256, "ciphertext bytes")
    c.state["rsa_ciphertext"] = r.ciphertext


@operation("keys", "decrypt RSA-OAEP (server)")
def op_decrypt_rsa(c):
    r = server_crypto(c, "rsa").decrypt(EncryptionAlgorithm.rsa_oaep, c.state["rsa_ciphertext"])
    check_equal(r.plaintext, b"plaintext", "plaintext")


@operation("keys", "wrap RSA-OAEP-256 (server)")
def op_wrap_rsa(c):
    c.state["cek"] = os.urandom(32)
    r = server_crypto(c, "rsa").wrap_key(KeyWrapAlgorithm.rsa_oaep_256, c.state["cek"])
    c.state["wrapped"] = r.encrypted_key


@operation("keys", "unwrap RSA-OAEP-256 (server)")
def op_unwrap_rsa(c):
    r = server_crypto(c, "rsa").unwrap_key(KeyWrapAlgorithm.rsa_oaep_256, c.state["wrapped"])
    check_equal(r.key, c.state["cek"], "unwrapped key")


@operation("keys", "sign and verify ES256 (server)")
def op_sign_es256(c):
    digest = hashlib.sha256(b"ec").digest()
    crypto = server_crypto(c, "ec")
    r = crypto.sign(SignatureAlgorithm.es256, digest)
    check_equal(len(r.signature), 64, "signature bytes (r || s)")
    check(crypto.verify(SignatureAlgorithm.es256, digest, r.signature).is_valid, "valid signature rejected")
    c.state["es256_signature"] = r.signature


@operation("keys", "wrap and unwrap A256KW (server)")
def op_wrap_oct(c):
    crypto = server_crypto(c, "oct")
    cek = os.urandom(32)
    wrapped = crypto.wrap_key(KeyWrapAlgorithm.aes_256, cek).encrypted_key
    check_equal(len(wrapped), 40, "wrapped key bytes")
    check_equal(crypto.unwrap_key(KeyWrapAlgorithm.aes_256, wrapped).key, cek, "unwrapped key")


@operation("keys", "encrypt and decrypt A256GCM (server)")
def op_encrypt_oct(c):
    crypto = server_crypto(c, "oct")
    r = crypto.encrypt(EncryptionAlgorithm.a256_gcm, b"symmetric", additional_authenticated_data=b"aad")
    check(r.iv and len(r.iv) == 12, f"iv {r.iv!r}")
    check(r.tag and len(r.tag) == 16, f"authentication tag {r.tag!r}")
    d = crypto.decrypt(
        EncryptionAlgorithm.a256_gcm,
        r.ciphertext,
        iv=r.iv,
        authentication_tag=r.tag,
        additional_authenticated_data=b"aad",
    )
    check_equal(d.plaintext, b"symmetric", "plaintext")


@operation("keys", "verify RS256 locally")
def op_local_verify_rsa(c):
    local = CryptographyClient.from_jwk(c.state["rsa"].key)
    digest = hashlib.sha256(b"conformance").digest()
    check(local.verify(SignatureAlgorithm.rs256, digest, c.state["rs256_signature"]).is_valid, "server signature rejected locally")
    bad = bytearray(c.state["rs256_signature"])
    bad[-1] ^= 1
    check(not local.verify(SignatureAlgorithm.rs256, digest, bytes(bad)).is_valid, "tampered signature accepted locally")


@operation("keys", "verify ES256 locally")
def op_local_verify_ec(c):
    local = CryptographyClient.from_jwk(c.state["ec"].key)
    digest = hashlib.sha256(b"ec").digest()
    check(local.verify(SignatureAlgorithm.es256, digest, c.state["es256_signature"]).is_valid, "server signature rejected locally")


@operation("keys", "encrypt locally, decrypt on server")
def op_local_encrypt(c):
    local = CryptographyClient.from_jwk(c.state["rsa"].key)
    r = local.encrypt(EncryptionAlgorithm.rsa_oaep_256, b"from the client")
    d = server_crypto(c, "rsa").decrypt(EncryptionAlgorithm.rsa_oaep_256, r.ciphertext)
    check_equal(d.plaintext, b"from the client", "plaintext")


@operation("keys", "wrap locally, unwrap on server")
def op_local_wrap(c):
    local = CryptographyClient.from_jwk(c.state["rsa"].key)
    cek = os.urandom(32)
    wrapped = local.wrap_key(KeyWrapAlgorithm.rsa_oaep, cek).encrypted_key
    check_equal(server_crypto(c, "rsa").unwrap_key(KeyWrapAlgorithm.rsa_oaep, wrapped).key, cek, "unwrapped key")


@operation("keys", "delete, get deleted, recover")
def op_key_delete_recover(c):
    name = c.state["rsa"].name
    d = c.keys.begin_delete_key(name, _polling_interval=0.2).result()
    check(d.recovery_id and d.recovery_id.endswith("/deletedkeys/" + name), f"recovery id {d.recovery_id}")
    check_equal(c.keys.get_deleted_key(name).id, c.state["rsa"].id, "deleted key id")
    check(name in {k.name for k in c.keys.list_deleted_keys()}, "the key is not among the deleted keys")
    k = c.keys.begin_recover_deleted_key(name, _polling_interval=0.2).result()
    check_equal(k.id, c.state["rsa"].id, "recovered key id")


@operation("keys", "purge")
def op_key_purge(c):
    name = c.state["oct"].name
    c.keys.begin_delete_key(name, _polling_interval=0.2).result()
    c.keys.purge_deleted_key(name)
    check_raises(ResourceNotFoundError, lambda: c.keys.get_deleted_key(name), status=404)
    check_raises(ResourceNotFoundError, lambda: c.keys.get_key(name), status=404)


@operation("keys", "backup and restore")
def op_key_backup(c):
    name = c.state["ec"].name
    blob = c.keys.backup_key(name)
    c.keys.begin_delete_key(name, _polling_interval=0.2).result()
    c.keys.purge_deleted_key(name)
    k = c.keys.restore_key_backup(blob)
    check_equal(k.id, c.state["ec"].id, "restored key id")
    check_equal(k.key.x, c.state["ec"].key.x, "restored x coordinate")


# ---------------------------------------------------------------- certificates


@operation("certificates", "create self-signed (poll)")
def op_cert_create(c):
    name = c.name("py-cert")
    policy = CertificatePolicy(
        issuer_name="Self",
        subject="CN=conformance.example",
        san_dns_names=["conformance.example"],
        validity_in_months=12,
        key_type="RSA",
        key_size=2048,
        content_type=CertificateContentType.pkcs12,
        exportable=True,
    )
    cert = c.certificates.begin_create_certificate(name, policy, _polling_interval=0.5).result()
    check(cert is not None and cert.cer, f"the poller returned {cert!r}")
    parsed = x509.load_der_x509_certificate(bytes(cert.cer))
    check_equal(common_name(parsed), "conformance.example", "subject common name")
    check_equal(cert.properties.x509_thumbprint, hashlib.sha1(bytes(cert.cer)).digest(), "thumbprint")
    c.state["cert"] = cert


@operation("certificates", "get")
def op_cert_get(c):
    cert = c.certificates.get_certificate(c.state["cert"].name)
    check_equal(cert.id, c.state["cert"].id, "id")
    check_equal(cert.policy.subject, "CN=conformance.example", "policy subject")
    check_equal(cert.key_id, f"{c.vault_url}/keys/{cert.name}/{cert.properties.version}", "key id")
    check_equal(cert.secret_id, f"{c.vault_url}/secrets/{cert.name}/{cert.properties.version}", "secret id")


@operation("certificates", "get version")
def op_cert_get_version(c):
    cert = c.certificates.get_certificate_version(c.state["cert"].name, c.state["cert"].properties.version)
    check_equal(bytes(cert.cer), bytes(c.state["cert"].cer), "DER")


@operation("certificates", "get policy")
def op_cert_policy(c):
    p = c.certificates.get_certificate_policy(c.state["cert"].name)
    check_equal(p.issuer_name, "Self", "issuer")
    check_equal(p.key_size, 2048, "key size")
    check_equal(p.content_type, CertificateContentType.pkcs12, "content type")


@operation("certificates", "get operation")
def op_cert_operation(c):
    op = c.certificates.get_certificate_operation(c.state["cert"].name)
    check_equal(op.status, "completed", "status")


@operation("certificates", "list and list versions")
def op_cert_list(c):
    name = c.state["cert"].name
    check(name in {p.name for p in c.certificates.list_properties_of_certificates()}, f"{name} is not listed")
    versions = [p.version for p in c.certificates.list_properties_of_certificate_versions(name)]
    check_equal(versions, [c.state["cert"].properties.version], "versions")


@operation("certificates", "update properties")
def op_cert_update(c):
    cert = c.certificates.update_certificate_properties(c.state["cert"].name, tags={"owner": "conformance"})
    check_equal(cert.properties.tags, {"owner": "conformance"}, "tags")


@operation("certificates", "download PFX (secret)")
def op_cert_download(c):
    s = c.secrets.get_secret(c.state["cert"].name)
    check_equal(s.properties.content_type, "application/x-pkcs12", "content type")
    key, cert, _ = pkcs12.load_key_and_certificates(base64.b64decode(s.value), None)
    check(key is not None, "the PFX has no private key")
    check_equal(cert.public_bytes(serialization.Encoding.DER), bytes(c.state["cert"].cer), "certificate in the PFX")
    check_equal(s.properties.managed, True, "managed flag")


@operation("certificates", "sign with certificate key")
def op_cert_key_sign(c):
    cert = x509.load_der_x509_certificate(bytes(c.state["cert"].cer))
    digest = hashlib.sha256(b"cert-signed").digest()
    crypto = CryptographyClient(c.state["cert"].key_id, c.credential, **c.client_options)
    sig = crypto.sign(SignatureAlgorithm.rs256, digest).signature
    cert.public_key().verify(sig, b"cert-signed", padding.PKCS1v15(), hashes.SHA256())


@operation("certificates", "import PFX")
def op_cert_import_pfx(c):
    key, cert = self_signed("imported.example")
    pfx = pkcs12.serialize_key_and_certificates(b"imported", key, cert, None, serialization.NoEncryption())
    name = c.name("py-import")
    got = c.certificates.import_certificate(name, pfx, policy=CertificatePolicy(issuer_name="Unknown", content_type=CertificateContentType.pkcs12))
    check_equal(bytes(got.cer), cert.public_bytes(serialization.Encoding.DER), "certificate")
    check_equal(got.properties.x509_thumbprint, cert.fingerprint(hashes.SHA1()), "thumbprint")
    c.state["imported"] = name


@operation("certificates", "import PFX with password")
def op_cert_import_password(c):
    key, cert = self_signed("password.example", ec.generate_private_key(ec.SECP256R1()))
    pfx = pkcs12.serialize_key_and_certificates(b"pw", key, cert, None, serialization.BestAvailableEncryption(b"s3cret"))
    got = c.certificates.import_certificate(c.name("py-import-pw"), pfx, password="s3cret")
    check_equal(bytes(got.cer), cert.public_bytes(serialization.Encoding.DER), "certificate")
    check_equal(got.policy.key_type, "EC", "key type")


@operation("certificates", "import PEM")
def op_cert_import_pem(c):
    key, cert = self_signed("pem.example")
    pem = cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    policy = CertificatePolicy(issuer_name="Unknown", content_type=CertificateContentType.pem)
    name = c.name("py-pem")
    got = c.certificates.import_certificate(name, pem, policy=policy)
    check_equal(bytes(got.cer), cert.public_bytes(serialization.Encoding.DER), "certificate")
    s = c.secrets.get_secret(name)
    check_equal(s.properties.content_type, "application/x-pem-file", "secret content type")
    check("BEGIN PRIVATE KEY" in s.value, "the PEM secret has no private key")
    check("BEGIN CERTIFICATE" in s.value, "the PEM secret has no certificate")


@operation("certificates", "contacts")
def op_cert_contacts(c):
    contacts = [CertificateContact(email="ops@example.com", name="Ops", phone="0100")]
    set_ = c.certificates.set_contacts(contacts)
    check_equal([x.email for x in set_], ["ops@example.com"], "contacts set")
    got = c.certificates.get_contacts()
    check_equal([(x.email, x.name, x.phone) for x in got], [("ops@example.com", "Ops", "0100")], "contacts read")


@operation("certificates", "delete, get deleted, recover")
def op_cert_delete_recover(c):
    name = c.state["imported"]
    d = c.certificates.begin_delete_certificate(name, _polling_interval=0.2).result()
    check(d.recovery_id and d.recovery_id.endswith("/deletedcertificates/" + name), f"recovery id {d.recovery_id}")
    check_equal(c.certificates.get_deleted_certificate(name).name, name, "deleted certificate name")
    check(name in {x.name for x in c.certificates.list_deleted_certificates()}, "not among the deleted certificates")
    check_raises(ResourceNotFoundError, lambda: c.secrets.get_secret(name), status=404)
    cert = c.certificates.begin_recover_deleted_certificate(name, _polling_interval=0.2).result()
    check_equal(cert.name, name, "recovered name")
    check_equal(c.secrets.get_secret(name).properties.content_type, "application/x-pkcs12", "recovered secret")


@operation("certificates", "backup, purge and restore")
def op_cert_backup(c):
    name = c.state["cert"].name
    blob = c.certificates.backup_certificate(name)
    c.certificates.begin_delete_certificate(name, _polling_interval=0.2).result()
    c.certificates.purge_deleted_certificate(name)
    check_raises(ResourceNotFoundError, lambda: c.certificates.get_deleted_certificate(name), status=404)
    cert = c.certificates.restore_certificate_backup(blob)
    check_equal(bytes(cert.cer), bytes(c.state["cert"].cer), "restored certificate")


# ---------------------------------------------------------------- management


def management_client(c):
    return KeyVaultManagementClient(
        c.credential,
        c.creds["subscriptionId"],
        base_url=c.management_url,
        credential_scopes=[MANAGEMENT_RESOURCE + "/.default"],
        **c.client_options,
    )


@operation("management", "create vault (poll)")
def op_mgmt_create(c):
    from azure.mgmt.keyvault.models import Sku, VaultCreateOrUpdateParameters, VaultProperties

    props = VaultProperties(tenant_id=c.creds["tenantId"], sku=Sku(family="A", name="standard"), access_policies=[], soft_delete_retention_in_days=7)
    params = VaultCreateOrUpdateParameters(location="local", properties=props, tags={"suite": "python"})
    v = management_client(c).vaults.begin_create_or_update("conformance", NEW_VAULT, params, polling_interval=0.2).result()
    check_equal(v.name, NEW_VAULT, "name")
    check_equal(v.properties.vault_uri, f"https://{NEW_VAULT}.vault.localhost:{c.port}/", "vault URI")
    check_equal(v.properties.soft_delete_retention_in_days, 7, "retention days")


@operation("management", "get vault")
def op_mgmt_get(c):
    v = management_client(c).vaults.get("conformance", NEW_VAULT)
    check_equal(v.tags, {"suite": "python"}, "tags")
    check_equal(v.id, f"/subscriptions/{c.creds['subscriptionId']}/resourceGroups/conformance/providers/Microsoft.KeyVault/vaults/{NEW_VAULT}", "id")


@operation("management", "list vaults")
def op_mgmt_list(c):
    client = management_client(c)
    check(NEW_VAULT in {v.name for v in client.vaults.list_by_resource_group("conformance")}, "not in the resource group list")
    check(NEW_VAULT in {v.name for v in client.vaults.list_by_subscription()}, "not in the subscription list")


@operation("management", "set access policy")
def op_mgmt_policy(c):
    from azure.mgmt.keyvault.models import AccessPolicyEntry, Permissions, VaultAccessPolicyParameters, VaultAccessPolicyProperties

    status, p = c.management_request("POST", "/keyvault/principals", {"displayName": c.name("py-reader")})
    check_equal(status, 201, "principal status")
    entry = AccessPolicyEntry(tenant_id=c.creds["tenantId"], object_id=p["objectId"], permissions=Permissions(secrets=["get", "list"]))
    params = VaultAccessPolicyParameters(properties=VaultAccessPolicyProperties(access_policies=[entry]))
    got = management_client(c).vaults.update_access_policy("conformance", NEW_VAULT, "add", params)
    check_equal([e.object_id for e in got.properties.access_policies], [p["objectId"]], "policy object ids")
    c.state["reader"] = p


@operation("management", "data plane on the new vault")
def op_mgmt_data_plane(c):
    url = f"https://{NEW_VAULT}.vault.localhost:{c.port}"
    SecretClient(url, c.credential, **c.client_options).set_secret("greeting", "hello")
    reader = SecretClient(url, c.make_credential(c.state["reader"]["clientId"], c.state["reader"]["clientSecret"]), **c.client_options)
    check_equal(reader.get_secret("greeting").value, "hello", "value read with the granted policy")
    check_raises(HttpResponseError, lambda: reader.set_secret("greeting", "x"), status=403)


def write_versions(results_dir):
    """Write the versions of the packages under test to python.versions.json."""
    import platform

    import azure.core
    import azure.identity
    import azure.keyvault.certificates
    import azure.keyvault.keys
    import azure.keyvault.secrets
    import azure.mgmt.keyvault
    import msal

    versions = {
        "Python": platform.python_version(),
        "azure-keyvault-secrets": azure.keyvault.secrets.__version__,
        "azure-keyvault-keys": azure.keyvault.keys.__version__,
        "azure-keyvault-certificates": azure.keyvault.certificates.__version__,
        "azure-mgmt-keyvault": azure.mgmt.keyvault._version.VERSION,
        "azure-identity": azure.identity._version.VERSION,
        "azure-core": azure.core.__version__,
        "msal": msal.__version__,
    }
    with open(os.path.join(results_dir, f"{CLIENT}.versions.json"), "w") as f:
        json.dump(versions, f, indent=2)


def main():
    results_dir = os.environ.get("KV_RESULTS_DIR", ".")
    out_path = os.path.join(results_dir, f"{CLIENT}.jsonl")
    write_versions(results_dir)
    c = Context()
    passed = failed = 0
    with open(out_path, "w") as out:
        for area, name, fn in OPERATIONS:
            start = time.monotonic()
            try:
                fn(c)
                result, detail = "pass", ""
                passed += 1
            except Exception as e:  # every failure is recorded, the run goes on
                result = "fail"
                detail = f"{type(e).__name__}: {e}".replace("\n", " ")[:600]
                failed += 1
                if os.environ.get("KV_CONFORMANCE_VERBOSE"):
                    traceback.print_exc()
            ms = int((time.monotonic() - start) * 1000)
            print(f"{result.upper():4} {area}: {name} ({ms} ms){' - ' + detail if detail else ''}", flush=True)
            out.write(json.dumps({"client": CLIENT, "area": area, "operation": name, "result": result, "detail": detail}) + "\n")
    print(f"python: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
