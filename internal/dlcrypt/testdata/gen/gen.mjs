// Generates ../download-key.json, the download-key vector of
// docs/PROTOCOL.md §6 and §13.3-13.4, with Node's own crypto (node:crypto:
// X25519, Ed25519, HKDF-SHA256, AES-256-GCM, SHA-256). It is written from
// the document, not from the Go code, so that the Go test checks our
// implementation against one we did not derive from it.
//
//   node internal/dlcrypt/testdata/gen/gen.mjs     (Node 20 or later; no packages)
//
// It also exports the primitives of the document (STREAM, keys from seeds)
// for internal/onion/testdata/gen/gen.mjs. Every input is fixed, so every
// run writes the same bytes (Ed25519 signatures are deterministic).

import * as crypto from "node:crypto"
import {writeFileSync} from "node:fs"
import {fileURLToPath, pathToFileURL} from "node:url"

export const hex = b => Buffer.from(b).toString("hex")
export const b64u = b => Buffer.from(b).toString("base64url")
export const cat = (...bs) => Buffer.concat(bs.map(b => Buffer.from(b)))

// run(first): the 32 consecutive byte values first, first+1, … (mod 256),
// as the document writes keys and seeds ("a0..bf").
export const run = (first, n = 32) => Buffer.from(Array.from({length: n}, (_, i) => (first + i) & 255))

export const sha256 = b => crypto.createHash("sha256").update(b).digest()

// hkdf is RFC 5869 HKDF-SHA256 with a 32-byte output.
export const hkdf = (ikm, salt, info) => Buffer.from(crypto.hkdfSync("sha256", ikm, salt, Buffer.from(info, "latin1"), 32))

// Raw 32-byte keys wrapped in the fixed PKCS #8 and SPKI prefixes of RFC 8410.
const pkcs8 = {x25519: "302e020100300506032b656e04220420", ed25519: "302e020100300506032b657004220420"}
const spki = {x25519: "302a300506032b656e032100", ed25519: "302a300506032b6570032100"}
const privKey = (kind, raw) => crypto.createPrivateKey({key: cat(Buffer.from(pkcs8[kind], "hex"), raw), format: "der", type: "pkcs8"})
const pubKey = (kind, raw) => crypto.createPublicKey({key: cat(Buffer.from(spki[kind], "hex"), raw), format: "der", type: "spki"})
const rawPublic = k => crypto.createPublicKey(k).export({format: "der", type: "spki"}).subarray(-32)

// x25519(priv): the key pair of a 32-byte private key; dh(pub) is X25519.
export function x25519(priv) {
  const k = privKey("x25519", priv)
  return {priv: Buffer.from(priv), pub: rawPublic(k),
    dh: pub => crypto.diffieHellman({privateKey: k, publicKey: pubKey("x25519", pub)})}
}

// ed25519(seed): an identity; sign(m) is Ed25519 (deterministic).
export function ed25519(seed) {
  const k = privKey("ed25519", seed)
  return {seed: Buffer.from(seed), pub: rawPublic(k), sign: m => crypto.sign(null, m, k)}
}

// gcmSeal is AES-256-GCM: ciphertext || 16-byte tag.
export function gcmSeal(key, nonce, plain, aad) {
  const c = crypto.createCipheriv("aes-256-gcm", key, nonce)
  if (aad) c.setAAD(aad)
  return cat(c.update(plain), c.final(), c.getAuthTag())
}

export function gcmOpen(key, nonce, sealed, aad) {
  const d = crypto.createDecipheriv("aes-256-gcm", key, nonce)
  if (aad) d.setAAD(aad)
  d.setAuthTag(sealed.subarray(-16))
  return cat(d.update(sealed.subarray(0, -16)), d.final())
}

// STREAM (PROTOCOL.md §6): 65520-byte segments, nonce = 0x000000 ||
// uint64_be(i) || last flag; an empty plaintext is one empty segment.
export const SEG = 65520
const streamNonce = (i, last) => {
  const n = Buffer.alloc(12)
  n.writeBigUInt64BE(BigInt(i), 3)
  n[11] = last ? 1 : 0
  return n
}

export function streamSeal(key, plain) {
  const out = []
  const segs = Math.max(1, Math.ceil(plain.length / SEG))
  for (let i = 0; i < segs; i++)
    out.push(gcmSeal(key, streamNonce(i, i === segs - 1), plain.subarray(i * SEG, (i + 1) * SEG)))
  return cat(...out)
}

export function streamOpen(key, sealed) {
  const out = []
  const segs = Math.max(1, Math.ceil(sealed.length / (SEG + 16)))
  for (let i = 0; i < segs; i++)
    out.push(gcmOpen(key, streamNonce(i, i === segs - 1), sealed.subarray(i * (SEG + 16), (i + 1) * (SEG + 16))))
  return cat(...out)
}

// The worked example's chunk (§13.2): the 512-byte header of §8.1, the
// file, zeros to one full segment, sealed under the file key 80..9f.
export function exampleChunk() {
  const name = Buffer.from("hello.txt"), file = Buffer.from("Hello, XFTP!\n")
  const plain = Buffer.alloc(SEG)
  plain[0] = 1
  plain.writeBigUInt64BE(BigInt(file.length), 1)
  plain.writeUInt16BE(name.length, 9)
  name.copy(plain, 11)
  file.copy(plain, 512)
  return streamSeal(run(0x80), plain)
}

// downloadKey is §6: the server's and the client's derivation of one key.
export function downloadKey(client, server, identity) {
  const S = server.pub, C = client.pub
  const shared = server.dh(C)
  if (!shared.equals(client.dh(S))) throw new Error("X25519 is not symmetric")
  const key = hkdf(shared, cat(S, C), "xftp download v1")
  const sig = identity.sign(cat(Buffer.from("xftp download key v1\0", "latin1"), S, C))
  return {shared, key, sig}
}

function main() {
  const identity = ed25519(run(0x00)), client = x25519(run(0xa0)), server = x25519(run(0xb0))
  const {shared, key, sig} = downloadKey(client, server, identity)
  const chunk = exampleChunk()
  const sealed = streamSeal(key, chunk)
  if (!streamOpen(key, sealed).equals(chunk)) throw new Error("STREAM does not open its own output")
  // A small-order client key has no shared secret: node:crypto refuses it too.
  const zero = Buffer.alloc(32)
  let refused = false
  try { server.dh(zero) } catch { refused = true }
  if (!refused) throw new Error("node:crypto derived a secret from the all-zero key")

  const v = {
    comment: "docs/PROTOCOL.md §13.3 and §13.4: the download-key vector, made by testdata/gen/gen.mjs with node:crypto. Private keys and the identity seed are 32 consecutive byte values from the given one; the chunk is §13.2's (file key 80..9f).",
    identity_seed: "00",
    client_private: "a0",
    server_private: "b0",
    client_public: b64u(client.pub),
    server_public: b64u(server.pub),
    key_signature: b64u(sig),
    shared: hex(shared),
    key: hex(key),
    chunk: {size: chunk.length, first_bytes: hex(chunk.subarray(0, 24)), tag: hex(chunk.subarray(-16)), digest: b64u(sha256(chunk))},
    download: {size: sealed.length, first_bytes: hex(sealed.subarray(0, 16)), sha256: hex(sha256(sealed))},
    negative: [
      {comment: "an all-zero client key (a small-order point) has no shared secret", client_public: b64u(zero)},
      {comment: "a key of the wrong length", client_public: "AAAA"},
    ],
  }
  const out = fileURLToPath(new URL("../download-key.json", import.meta.url))
  writeFileSync(out, JSON.stringify(v, null, 2) + "\n")
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) main()
