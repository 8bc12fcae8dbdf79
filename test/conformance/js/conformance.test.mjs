// Conformance suite for the Azure Key Vault JavaScript SDK.
//
// Runs each operation in order against a KeyVault server with node's test
// runner and writes one JSON line per operation to
// $KV_RESULTS_DIR/js.jsonl. test/conformance/run.sh starts the server inside
// a loopback-only network namespace and sets KV_DATA_DIR (the server's data
// directory, with credentials.json and ca.pem), KV_PORT, KV_RESULTS_DIR and
// NODE_EXTRA_CA_CERTS (the server's CA, which node reads at start).
//
// Operations share state (a secret set by one is read by the next), so they
// run in the order they are defined, one at a time.

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  createHash,
  createPublicKey,
  randomBytes,
  verify as cryptoVerify,
  X509Certificate,
} from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSecureContext } from "node:tls";

import { ClientSecretCredential } from "@azure/identity";
import { SecretClient } from "@azure/keyvault-secrets";
import { CryptographyClient, KeyClient } from "@azure/keyvault-keys";
import { CertificateClient } from "@azure/keyvault-certificates";

const CLIENT = "js";
const MANAGEMENT_RESOURCE = "https://management.localhost";

const dataDir = process.env.KV_DATA_DIR;
const port = process.env.KV_PORT;
if (!dataDir || !port) {
  throw new Error("KV_DATA_DIR and KV_PORT must be set: run test/conformance/run.sh");
}
const creds = JSON.parse(readFileSync(join(dataDir, "credentials.json"), "utf8"));
const authorityHost = `https://localhost:${port}`;
const managementUrl = `https://localhost:${port}`;
const vaultUrl = `https://default.vault.localhost:${port}`;
const suffix = randomBytes(3).toString("hex");
const scratch = mkdtempSync(join(tmpdir(), "kv-conformance-js-"));

// One retry keeps failures quick; a single request never needs more against
// a local server.
const clientOptions = { retryOptions: { maxRetries: 1 } };
const pollOptions = { updateIntervalInMs: 200 };

// disableInstanceDiscovery keeps MSAL from asking login.microsoftonline.com
// about the authority.
function makeCredential(clientId, clientSecret) {
  return new ClientSecretCredential(creds.tenantId, clientId, clientSecret, {
    authorityHost,
    disableInstanceDiscovery: true,
    ...clientOptions,
  });
}

const credential = makeCredential(creds.clientId, creds.clientSecret);
const secrets = new SecretClient(vaultUrl, credential, clientOptions);
const keys = new KeyClient(vaultUrl, credential, clientOptions);
const certificates = new CertificateClient(vaultUrl, credential, clientOptions);
const state = {};

const results = [];

// operation registers one test and records its outcome for the results file.
function operation(area, name, fn) {
  test(`${area}: ${name}`, async () => {
    try {
      await fn();
      results.push({ client: CLIENT, area, operation: name, result: "pass", detail: "" });
    } catch (e) {
      const detail = `${e?.name ?? "Error"}: ${e?.message ?? e}`.replace(/\s+/g, " ").slice(0, 600);
      results.push({ client: CLIENT, area, operation: name, result: "fail", detail });
      throw e;
    }
  });
}

// packageVersion reads the installed version of an npm package.
function packageVersion(pkg) {
  const path = new URL(`./node_modules/${pkg}/package.json`, import.meta.url);
  return JSON.parse(readFileSync(path, "utf8")).version;
}

after(() => {
  const dir = process.env.KV_RESULTS_DIR ?? ".";
  writeFileSync(join(dir, `${CLIENT}.jsonl`), results.map((r) => JSON.stringify(r) + "\n").join(""));
  const versions = { Node: process.versions.node };
  for (const pkg of [
    "@azure/keyvault-secrets",
    "@azure/keyvault-keys",
    "@azure/keyvault-certificates",
    "@azure/identity",
    "@azure/msal-node",
    "@azure/core-rest-pipeline",
  ]) {
    versions[pkg] = packageVersion(pkg);
  }
  writeFileSync(join(dir, `${CLIENT}.versions.json`), JSON.stringify(versions, null, 2) + "\n");
  rmSync(scratch, { recursive: true, force: true });
});

function name(base) {
  return `${base}-${suffix}`;
}

async function collect(iterable) {
  const out = [];
  for await (const item of iterable) {
    out.push(item);
  }
  return out;
}

// rejects checks that fn fails with a RestError of the given status and,
// if given, error code.
async function rejects(fn, status, code) {
  let err;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  assert.ok(err, `no error was raised, want status ${status}`);
  assert.equal(err.statusCode, status, `status of ${err.message}`);
  if (code !== undefined) {
    assert.equal(err.code, code, "error code");
  }
  return err;
}

async function managementRequest(method, path, body) {
  const token = (await credential.getToken(`${MANAGEMENT_RESOURCE}/.default`)).token;
  const resp = await fetch(managementUrl + path, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await resp.text();
  return { status: resp.status, body: text ? JSON.parse(text) : null };
}

// openssl runs the openssl command line tool in the scratch directory.
function openssl(...args) {
  return execFileSync("openssl", args, { cwd: scratch, stdio: ["ignore", "pipe", "pipe"] });
}

// selfSigned makes a key and a self-signed certificate with openssl and
// returns the paths of their PEM files.
function selfSigned(cn, keyArgs = ["-newkey", "rsa:2048"]) {
  const key = join(scratch, `${cn}.key`);
  const cert = join(scratch, `${cn}.crt`);
  openssl("req", "-x509", ...keyArgs, "-nodes", "-keyout", key, "-out", cert, "-days", "30", "-subj", `/CN=${cn}`);
  return { key, cert };
}

function derOfPem(path) {
  return new X509Certificate(readFileSync(path)).raw;
}

function b64url(bytes) {
  return Buffer.from(bytes).toString("base64url");
}

// ---------------------------------------------------------------- identity

operation("identity", "token for the vault resource", async () => {
  const token = await credential.getToken(`${creds.resource}/.default`);
  assert.equal(token.token.split(".").length, 3, "the access token is not a JWT");
  assert.ok(token.expiresOnTimestamp > Date.now() + 50 * 60 * 1000, "the token expires within 50 minutes");
});

operation("identity", "token for the management resource", async () => {
  const token = await credential.getToken(`${MANAGEMENT_RESOURCE}/.default`);
  assert.equal(token.token.split(".").length, 3, "the access token is not a JWT");
});

// ---------------------------------------------------------------- secrets

operation("secrets", "set", async () => {
  const secretName = name("js-secret");
  const s = await secrets.setSecret(secretName, "value-1", { contentType: "text/plain", tags: { env: "conformance" } });
  assert.equal(s.value, "value-1");
  assert.equal(s.properties.contentType, "text/plain");
  assert.deepEqual(s.properties.tags, { env: "conformance" });
  assert.equal(s.properties.version.length, 32, "version length");
  assert.equal(s.properties.id, `${vaultUrl}/secrets/${secretName}/${s.properties.version}`);
  assert.equal(s.properties.recoveryLevel, "Recoverable+Purgeable");
  assert.equal(s.properties.enabled, true);
  assert.ok(s.properties.createdOn instanceof Date, "createdOn is not a Date");
  state.secret = secretName;
  state.secretV1 = s.properties.version;
});

operation("secrets", "get latest", async () => {
  const s = await secrets.getSecret(state.secret);
  assert.equal(s.value, "value-1");
  assert.equal(s.properties.version, state.secretV1);
});

operation("secrets", "set new version", async () => {
  const s = await secrets.setSecret(state.secret, "value-2");
  assert.notEqual(s.properties.version, state.secretV1);
  state.secretV2 = s.properties.version;
  assert.equal((await secrets.getSecret(state.secret)).value, "value-2");
});

operation("secrets", "get version", async () => {
  const s = await secrets.getSecret(state.secret, { version: state.secretV1 });
  assert.equal(s.value, "value-1");
});

operation("secrets", "list", async () => {
  const found = (await collect(secrets.listPropertiesOfSecrets())).filter((p) => p.name === state.secret);
  assert.equal(found.length, 1, "listed entries for the secret");
  assert.equal(found[0].contentType, undefined, "content type of the latest version");
});

operation("secrets", "list paged", async () => {
  const prefix = name("js-page");
  for (let i = 0; i < 12; i++) {
    await secrets.setSecret(`${prefix}-${String(i).padStart(2, "0")}`, String(i));
  }
  const pages = await collect(secrets.listPropertiesOfSecrets().byPage({ maxPageSize: 5 }));
  const names = pages.flat().map((p) => p.name).filter((n) => n.startsWith(prefix)).sort();
  assert.deepEqual(names, Array.from({ length: 12 }, (_, i) => `${prefix}-${String(i).padStart(2, "0")}`));
  assert.ok(pages.length >= 3, `got ${pages.length} pages of at most 5, want at least 3`);
  for (const page of pages) {
    assert.ok(page.length <= 5, `a page has ${page.length} items, want at most 5`);
  }
});

operation("secrets", "list versions", async () => {
  const versions = (await collect(secrets.listPropertiesOfSecretVersions(state.secret))).map((p) => p.version).sort();
  assert.deepEqual(versions, [state.secretV1, state.secretV2].sort());
});

operation("secrets", "update properties", async () => {
  const p = await secrets.updateSecretProperties(state.secret, state.secretV2, {
    contentType: "application/json",
    tags: { a: "b" },
  });
  assert.equal(p.contentType, "application/json");
  assert.deepEqual(p.tags, { a: "b" });
  assert.equal(p.version, state.secretV2);
});

operation("secrets", "get disabled (403)", async () => {
  await secrets.updateSecretProperties(state.secret, state.secretV2, { enabled: false });
  await rejects(() => secrets.getSecret(state.secret), 403, "Forbidden");
  await secrets.updateSecretProperties(state.secret, state.secretV2, { enabled: true });
  assert.equal((await secrets.getSecret(state.secret)).value, "value-2");
});

operation("secrets", "get missing (404)", async () => {
  await rejects(() => secrets.getSecret(name("js-missing")), 404, "SecretNotFound");
});

operation("secrets", "delete (poll)", async () => {
  const poller = await secrets.beginDeleteSecret(state.secret, pollOptions);
  const d = await poller.pollUntilDone();
  assert.equal(d.name, state.secret);
  assert.ok(d.properties.recoveryId.endsWith(`/deletedsecrets/${state.secret}`), `recovery id ${d.properties.recoveryId}`);
  assert.ok(d.properties.deletedOn instanceof Date, "deletedOn is not a Date");
  assert.ok(d.properties.scheduledPurgeDate > d.properties.deletedOn, "scheduled purge date is not after the deletion");
});

operation("secrets", "get deleted", async () => {
  const d = await secrets.getDeletedSecret(state.secret);
  assert.equal(d.properties.version, state.secretV2);
});

operation("secrets", "list deleted", async () => {
  const names = (await collect(secrets.listDeletedSecrets())).map((d) => d.name);
  assert.ok(names.includes(state.secret), `${state.secret} is not among the deleted secrets`);
});

operation("secrets", "set deleted name (409)", async () => {
  await rejects(() => secrets.setSecret(state.secret, "x"), 409, "Conflict");
});

operation("secrets", "recover (poll)", async () => {
  const poller = await secrets.beginRecoverDeletedSecret(state.secret, pollOptions);
  const p = await poller.pollUntilDone();
  assert.equal(p.name, state.secret);
  assert.equal((await secrets.getSecret(state.secret)).value, "value-2");
});

operation("secrets", "purge", async () => {
  const secretName = name("js-purge");
  await secrets.setSecret(secretName, "gone");
  await (await secrets.beginDeleteSecret(secretName, pollOptions)).pollUntilDone();
  await secrets.purgeDeletedSecret(secretName);
  await rejects(() => secrets.getDeletedSecret(secretName), 404);
  assert.equal((await secrets.setSecret(secretName, "again")).value, "again");
});

operation("secrets", "backup", async () => {
  const blob = await secrets.backupSecret(state.secret);
  assert.ok(blob instanceof Uint8Array, "backup is not a Uint8Array");
  assert.ok(blob.length > 32, `backup has ${blob.length} bytes, want more than 32`);
  state.secretBackup = blob;
});

operation("secrets", "restore", async () => {
  await (await secrets.beginDeleteSecret(state.secret, pollOptions)).pollUntilDone();
  await secrets.purgeDeletedSecret(state.secret);
  const p = await secrets.restoreSecretBackup(state.secretBackup);
  assert.equal(p.name, state.secret);
  assert.equal((await secrets.getSecret(state.secret)).value, "value-2");
  const versions = (await collect(secrets.listPropertiesOfSecretVersions(state.secret))).map((v) => v.version).sort();
  assert.deepEqual(versions, [state.secretV1, state.secretV2].sort());
});

// ---------------------------------------------------------------- keys

operation("keys", "create RSA", async () => {
  const k = await keys.createRsaKey(name("js-rsa"), { keySize: 2048 });
  assert.equal(k.keyType, "RSA");
  assert.equal(k.key.n.length, 256, "modulus bytes");
  assert.equal(k.key.d, undefined, "the private exponent was returned");
  assert.equal(k.id, `${vaultUrl}/keys/${k.name}/${k.properties.version}`);
  state.rsa = k;
});

operation("keys", "create EC", async () => {
  const k = await keys.createEcKey(name("js-ec"), { curve: "P-256" });
  assert.equal(k.keyType, "EC");
  assert.equal(k.key.crv, "P-256");
  assert.equal(k.key.x.length, 32, "x bytes");
  state.ec = k;
});

operation("keys", "create oct", async () => {
  const k = await keys.createOctKey(name("js-oct"), { keySize: 256 });
  assert.equal(k.keyType, "oct");
  assert.equal(k.key.k, undefined, "the symmetric key material was returned");
  state.oct = k;
});

operation("keys", "import RSA", async () => {
  const { key } = selfSigned("js-import-key");
  const jwk = createPublicKey(readFileSync(key)).export({ format: "jwk" });
  const priv = (await import("node:crypto")).createPrivateKey(readFileSync(key)).export({ format: "jwk" });
  const fromB64 = (s) => Buffer.from(s, "base64url");
  const imported = await keys.importKey(name("js-imported"), {
    kty: "RSA",
    n: fromB64(priv.n),
    e: fromB64(priv.e),
    d: fromB64(priv.d),
    p: fromB64(priv.p),
    q: fromB64(priv.q),
    dp: fromB64(priv.dp),
    dq: fromB64(priv.dq),
    qi: fromB64(priv.qi),
    keyOps: ["sign", "verify"],
  });
  assert.equal(b64url(imported.key.n), jwk.n, "modulus");
  const crypto = new CryptographyClient(imported, credential, clientOptions);
  const signed = await crypto.signData("RS256", Buffer.from("imported"));
  assert.ok(cryptoVerify("sha256", Buffer.from("imported"), createPublicKey(readFileSync(key)), signed.result), "signature does not verify");
});

operation("keys", "get latest", async () => {
  const k = await keys.getKey(state.rsa.name);
  assert.equal(k.id, state.rsa.id);
  assert.deepEqual(k.key.n, state.rsa.key.n);
});

operation("keys", "get version", async () => {
  const k = await keys.getKey(state.ec.name, { version: state.ec.properties.version });
  assert.deepEqual(k.key.x, state.ec.key.x);
});

operation("keys", "list", async () => {
  const names = new Set((await collect(keys.listPropertiesOfKeys())).map((p) => p.name));
  for (const k of [state.rsa, state.ec, state.oct]) {
    assert.ok(names.has(k.name), `${k.name} is not listed`);
  }
});

operation("keys", "list versions", async () => {
  const second = await keys.createEcKey(state.ec.name, { curve: "P-256" });
  const versions = (await collect(keys.listPropertiesOfKeyVersions(state.ec.name))).map((p) => p.version).sort();
  assert.deepEqual(versions, [state.ec.properties.version, second.properties.version].sort());
  state.ec = second;
});

operation("keys", "update properties", async () => {
  const k = await keys.updateKeyProperties(state.oct.name, {
    tags: { team: "conformance" },
    keyOps: ["wrapKey", "unwrapKey", "encrypt", "decrypt"],
  });
  assert.deepEqual(k.properties.tags, { team: "conformance" });
  assert.deepEqual([...(await keys.getKey(state.oct.name)).keyOperations].sort(), ["decrypt", "encrypt", "unwrapKey", "wrapKey"]);
});

operation("keys", "rotate", async () => {
  const keyName = name("js-rotate");
  const first = await keys.createRsaKey(keyName, { keySize: 2048 });
  const rotated = await keys.rotateKey(keyName);
  assert.notEqual(rotated.properties.version, first.properties.version);
  assert.equal(rotated.keyType, "RSA");
});

operation("keys", "rotation policy", async () => {
  const keyName = name("js-rotate");
  const p = await keys.updateKeyRotationPolicy(keyName, {
    lifetimeActions: [{ action: "Rotate", timeAfterCreate: "P90D" }],
    expiresIn: "P1Y",
  });
  assert.equal(p.expiresIn, "P1Y");
  const got = await keys.getKeyRotationPolicy(keyName);
  const rotate = got.lifetimeActions.filter((a) => a.action === "Rotate");
  assert.deepEqual(rotate.map((a) => a.timeAfterCreate), ["P90D"]);
});

operation("keys", "create principal with crypto-only access", async () => {
  const p = await managementRequest("POST", "/keyvault/principals", { displayName: name("js-crypto") });
  assert.equal(p.status, 201, JSON.stringify(p.body));
  const path =
    `/subscriptions/${creds.subscriptionId}/resourceGroups/default/providers/Microsoft.KeyVault` +
    `/vaults/default/accessPolicies/add?api-version=2022-07-01`;
  const body = {
    properties: {
      accessPolicies: [
        {
          tenantId: creds.tenantId,
          objectId: p.body.objectId,
          permissions: { keys: ["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"] },
        },
      ],
    },
  };
  const r = await managementRequest("PUT", path, body);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  state.cryptoCred = makeCredential(p.body.clientId, p.body.clientSecret);
});

operation("keys", "get without permission (403)", async () => {
  const restricted = new KeyClient(vaultUrl, state.cryptoCred, clientOptions);
  await rejects(() => restricted.getKey(state.rsa.name), 403, "Forbidden");
});

// serverCrypto returns a CryptographyClient that runs every operation on the
// server: its principal may not read the key, so the client gets 403 on
// keys/get and sends each operation to the vault.
function serverCrypto(kind) {
  return new CryptographyClient(state[kind].id, state.cryptoCred, clientOptions);
}

const digestOf = (text) => createHash("sha256").update(text).digest();

operation("keys", "sign RS256 (server)", async () => {
  const r = await serverCrypto("rsa").sign("RS256", digestOf("conformance"));
  assert.equal(r.result.length, 256, "signature bytes");
  assert.equal(r.keyID, state.rsa.id);
  state.rs256 = r.result;
});

operation("keys", "verify RS256 (server)", async () => {
  const crypto = serverCrypto("rsa");
  assert.equal((await crypto.verify("RS256", digestOf("conformance"), state.rs256)).result, true);
  const bad = Buffer.from(state.rs256);
  bad[0] ^= 1;
  assert.equal((await crypto.verify("RS256", digestOf("conformance"), bad)).result, false, "tampered signature accepted");
});

operation("keys", "encrypt RSA-OAEP (server)", async () => {
  const r = await serverCrypto("rsa").encrypt({ algorithm: "RSA-OAEP", plaintext: Buffer.from("plaintext") });
  assert.equal(r.result.length, 256, "ciphertext bytes");
  state.rsaCiphertext = r.result;
});

operation("keys", "decrypt RSA-OAEP (server)", async () => {
  const r = await serverCrypto("rsa").decrypt({ algorithm: "RSA-OAEP", ciphertext: state.rsaCiphertext });
  assert.equal(Buffer.from(r.result).toString(), "plaintext");
});

operation("keys", "wrap RSA-OAEP-256 (server)", async () => {
  state.cek = randomBytes(32);
  state.wrapped = (await serverCrypto("rsa").wrapKey("RSA-OAEP-256", state.cek)).result;
});

operation("keys", "unwrap RSA-OAEP-256 (server)", async () => {
  const r = await serverCrypto("rsa").unwrapKey("RSA-OAEP-256", state.wrapped);
  assert.deepEqual(Buffer.from(r.result), state.cek);
});

operation("keys", "sign and verify ES256 (server)", async () => {
  const crypto = serverCrypto("ec");
  const r = await crypto.sign("ES256", digestOf("ec"));
  assert.equal(r.result.length, 64, "signature bytes (r || s)");
  assert.equal((await crypto.verify("ES256", digestOf("ec"), r.result)).result, true);
  state.es256 = r.result;
});

operation("keys", "wrap and unwrap A256KW (server)", async () => {
  const crypto = serverCrypto("oct");
  const cek = randomBytes(32);
  const wrapped = (await crypto.wrapKey("A256KW", cek)).result;
  assert.equal(wrapped.length, 40, "wrapped key bytes");
  assert.deepEqual(Buffer.from((await crypto.unwrapKey("A256KW", wrapped)).result), cek);
});

operation("keys", "encrypt and decrypt A256GCM (server)", async () => {
  const crypto = serverCrypto("oct");
  const aad = Buffer.from("aad");
  const r = await crypto.encrypt({ algorithm: "A256GCM", plaintext: Buffer.from("symmetric"), additionalAuthenticatedData: aad });
  assert.equal(r.iv?.length, 12, "iv bytes");
  assert.equal(r.authenticationTag?.length, 16, "tag bytes");
  const d = await crypto.decrypt({
    algorithm: "A256GCM",
    ciphertext: r.result,
    iv: r.iv,
    authenticationTag: r.authenticationTag,
    additionalAuthenticatedData: aad,
  });
  assert.equal(Buffer.from(d.result).toString(), "symmetric");
});

operation("keys", "sign data on server, verify locally", async () => {
  const data = Buffer.from("signed on the server");
  const signed = await serverCrypto("rsa").signData("RS256", data);
  const local = new CryptographyClient(state.rsa.key);
  assert.equal((await local.verifyData("RS256", data, signed.result)).result, true, "server signature rejected locally");
  const bad = Buffer.from(signed.result);
  bad[bad.length - 1] ^= 1;
  assert.equal((await local.verifyData("RS256", data, bad)).result, false, "tampered signature accepted locally");
});

operation("keys", "verify ES256 locally (node:crypto)", async () => {
  const jwk = { kty: "EC", crv: "P-256", x: b64url(state.ec.key.x), y: b64url(state.ec.key.y) };
  const ok = cryptoVerify("sha256", Buffer.from("ec"), { key: createPublicKey({ key: jwk, format: "jwk" }), dsaEncoding: "ieee-p1363" }, state.es256);
  assert.equal(ok, true, "server signature rejected by node:crypto");
});

operation("keys", "encrypt locally, decrypt on server", async () => {
  const local = new CryptographyClient(state.rsa.key);
  const r = await local.encrypt({ algorithm: "RSA-OAEP", plaintext: Buffer.from("from the client") });
  const d = await serverCrypto("rsa").decrypt({ algorithm: "RSA-OAEP", ciphertext: r.result });
  assert.equal(Buffer.from(d.result).toString(), "from the client");
});

operation("keys", "wrap locally, unwrap on server", async () => {
  const local = new CryptographyClient(state.rsa.key);
  const cek = randomBytes(32);
  const wrapped = (await local.wrapKey("RSA-OAEP", cek)).result;
  assert.deepEqual(Buffer.from((await serverCrypto("rsa").unwrapKey("RSA-OAEP", wrapped)).result), cek);
});

operation("keys", "delete, get deleted, recover", async () => {
  const keyName = state.rsa.name;
  const d = await (await keys.beginDeleteKey(keyName, pollOptions)).pollUntilDone();
  assert.ok(d.properties.recoveryId.endsWith(`/deletedkeys/${keyName}`), `recovery id ${d.properties.recoveryId}`);
  assert.equal((await keys.getDeletedKey(keyName)).id, state.rsa.id);
  assert.ok((await collect(keys.listDeletedKeys())).some((k) => k.name === keyName), "not among the deleted keys");
  const k = await (await keys.beginRecoverDeletedKey(keyName, pollOptions)).pollUntilDone();
  assert.equal(k.id, state.rsa.id);
});

operation("keys", "purge", async () => {
  const keyName = state.oct.name;
  await (await keys.beginDeleteKey(keyName, pollOptions)).pollUntilDone();
  await keys.purgeDeletedKey(keyName);
  await rejects(() => keys.getDeletedKey(keyName), 404);
  await rejects(() => keys.getKey(keyName), 404, "KeyNotFound");
});

operation("keys", "backup and restore", async () => {
  const keyName = state.ec.name;
  const blob = await keys.backupKey(keyName);
  await (await keys.beginDeleteKey(keyName, pollOptions)).pollUntilDone();
  await keys.purgeDeletedKey(keyName);
  const k = await keys.restoreKeyBackup(blob);
  assert.equal(k.id, state.ec.id);
  assert.deepEqual(k.key.x, state.ec.key.x);
});

// ---------------------------------------------------------------- certificates

operation("certificates", "create self-signed (poll)", async () => {
  const certName = name("js-cert");
  const policy = {
    issuerName: "Self",
    subject: "CN=conformance.example",
    subjectAlternativeNames: { dnsNames: ["conformance.example"] },
    validityInMonths: 12,
    keyType: "RSA",
    keySize: 2048,
    contentType: "application/x-pkcs12",
    exportable: true,
  };
  const poller = await certificates.beginCreateCertificate(certName, policy, pollOptions);
  const cert = await poller.pollUntilDone();
  assert.ok(cert?.cer?.length > 0, "the poller returned no certificate");
  const parsed = new X509Certificate(cert.cer);
  assert.equal(parsed.subject, "CN=conformance.example");
  assert.deepEqual(Buffer.from(cert.properties.x509Thumbprint), createHash("sha1").update(cert.cer).digest());
  state.cert = cert;
});

operation("certificates", "get", async () => {
  const cert = await certificates.getCertificate(state.cert.name);
  assert.equal(cert.id, state.cert.id);
  assert.equal(cert.policy.subject, "CN=conformance.example");
  assert.equal(cert.keyId, `${vaultUrl}/keys/${cert.name}/${cert.properties.version}`);
  assert.equal(cert.secretId, `${vaultUrl}/secrets/${cert.name}/${cert.properties.version}`);
});

operation("certificates", "get version", async () => {
  const cert = await certificates.getCertificateVersion(state.cert.name, state.cert.properties.version);
  assert.deepEqual(Buffer.from(cert.cer), Buffer.from(state.cert.cer));
});

operation("certificates", "get policy", async () => {
  const p = await certificates.getCertificatePolicy(state.cert.name);
  assert.equal(p.issuerName, "Self");
  assert.equal(p.keySize, 2048);
  assert.equal(p.contentType, "application/x-pkcs12");
});

operation("certificates", "get operation", async () => {
  const poller = await certificates.getCertificateOperation(state.cert.name, pollOptions);
  const op = poller.getOperationState().certificateOperation;
  assert.equal(op?.status, "completed");
});

operation("certificates", "list and list versions", async () => {
  const certName = state.cert.name;
  const names = (await collect(certificates.listPropertiesOfCertificates())).map((p) => p.name);
  assert.ok(names.includes(certName), `${certName} is not listed`);
  const versions = (await collect(certificates.listPropertiesOfCertificateVersions(certName))).map((p) => p.version);
  assert.deepEqual(versions, [state.cert.properties.version]);
});

operation("certificates", "update properties", async () => {
  const cert = await certificates.updateCertificateProperties(state.cert.name, "", { tags: { owner: "conformance" } });
  assert.deepEqual(cert.properties.tags, { owner: "conformance" });
});

operation("certificates", "download PFX (secret)", async () => {
  const s = await secrets.getSecret(state.cert.name);
  assert.equal(s.properties.contentType, "application/x-pkcs12");
  assert.equal(s.properties.managed, true, "managed flag");
  const pfx = Buffer.from(s.value, "base64");
  // createSecureContext fails unless the PFX contains a private key that
  // matches its certificate.
  createSecureContext({ pfx, passphrase: "" });
  const pfxPath = join(scratch, "download.pfx");
  writeFileSync(pfxPath, pfx);
  const pem = openssl("pkcs12", "-in", pfxPath, "-nokeys", "-clcerts", "-passin", "pass:").toString();
  assert.deepEqual(new X509Certificate(pem).raw, Buffer.from(state.cert.cer), "certificate in the PFX");
});

operation("certificates", "sign with certificate key", async () => {
  const crypto = new CryptographyClient(state.cert.keyId, credential, clientOptions);
  const signed = await crypto.signData("RS256", Buffer.from("cert-signed"));
  const pub = new X509Certificate(state.cert.cer).publicKey;
  assert.ok(cryptoVerify("sha256", Buffer.from("cert-signed"), pub, signed.result), "signature does not verify with the certificate");
});

operation("certificates", "import PFX", async () => {
  const { key, cert } = selfSigned("js-imported.example");
  const pfxPath = join(scratch, "import.pfx");
  openssl("pkcs12", "-export", "-inkey", key, "-in", cert, "-out", pfxPath, "-passout", "pass:");
  const certName = name("js-import");
  const got = await certificates.importCertificate(certName, readFileSync(pfxPath), {
    policy: { issuerName: "Unknown", contentType: "application/x-pkcs12" },
  });
  assert.deepEqual(Buffer.from(got.cer), derOfPem(cert));
  state.imported = certName;
});

operation("certificates", "import PFX with password", async () => {
  const { key, cert } = selfSigned("js-password.example", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]);
  const pfxPath = join(scratch, "password.pfx");
  openssl("pkcs12", "-export", "-inkey", key, "-in", cert, "-out", pfxPath, "-passout", "pass:s3cret");
  const got = await certificates.importCertificate(name("js-import-pw"), readFileSync(pfxPath), { password: "s3cret" });
  assert.deepEqual(Buffer.from(got.cer), derOfPem(cert));
  assert.equal(got.policy.keyType, "EC");
});

operation("certificates", "import PEM", async () => {
  const { key, cert } = selfSigned("js-pem.example");
  const pem = Buffer.concat([readFileSync(cert), readFileSync(key)]);
  const certName = name("js-pem");
  const got = await certificates.importCertificate(certName, pem, {
    policy: { issuerName: "Unknown", contentType: "application/x-pem-file" },
  });
  assert.deepEqual(Buffer.from(got.cer), derOfPem(cert));
  const s = await secrets.getSecret(certName);
  assert.equal(s.properties.contentType, "application/x-pem-file");
  assert.ok(s.value.includes("BEGIN PRIVATE KEY"), "the PEM secret has no private key");
  assert.ok(s.value.includes("BEGIN CERTIFICATE"), "the PEM secret has no certificate");
});

operation("certificates", "contacts", async () => {
  const set = await certificates.setContacts([{ email: "ops@example.com", name: "Ops", phone: "0100" }]);
  assert.deepEqual(set.map((c) => c.email), ["ops@example.com"]);
  const got = await certificates.getContacts();
  assert.deepEqual(got.map((c) => [c.email, c.name, c.phone]), [["ops@example.com", "Ops", "0100"]]);
});

operation("certificates", "delete, get deleted, recover", async () => {
  const certName = state.imported;
  const d = await (await certificates.beginDeleteCertificate(certName, pollOptions)).pollUntilDone();
  assert.ok(d.recoveryId.endsWith(`/deletedcertificates/${certName}`), `recovery id ${d.recoveryId}`);
  assert.equal((await certificates.getDeletedCertificate(certName)).name, certName);
  assert.ok((await collect(certificates.listDeletedCertificates())).some((c) => c.name === certName), "not among the deleted certificates");
  await rejects(() => secrets.getSecret(certName), 404);
  const cert = await (await certificates.beginRecoverDeletedCertificate(certName, pollOptions)).pollUntilDone();
  assert.equal(cert.name, certName);
  assert.equal((await secrets.getSecret(certName)).properties.contentType, "application/x-pkcs12");
});

operation("certificates", "backup, purge and restore", async () => {
  const certName = state.cert.name;
  const blob = await certificates.backupCertificate(certName);
  await (await certificates.beginDeleteCertificate(certName, pollOptions)).pollUntilDone();
  await certificates.purgeDeletedCertificate(certName);
  await rejects(() => certificates.getDeletedCertificate(certName), 404);
  const cert = await certificates.restoreCertificateBackup(blob);
  assert.deepEqual(Buffer.from(cert.cer), Buffer.from(state.cert.cer));
});
