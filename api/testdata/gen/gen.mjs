// Generates ../signed-requests.json, the signed requests and the identity
// challenge of docs/PROTOCOL.md's worked example (§4.1, §5.8, §13), with
// Node's own crypto (node:crypto). It is written from the document, not
// from the Go code: api's TestWorkedExample checks our signing against it.
//
//   node api/testdata/gen/gen.mjs     (Node 20 or later; no packages)
//
// Keys, bodies and digests are derived here from the seeds of §13.1 (the
// chunk from ../../../internal/dlcrypt/testdata/gen/gen.mjs), so the
// example's JSON bodies are checked too. Every run writes the same bytes.

import {writeFileSync} from "node:fs"
import {fileURLToPath} from "node:url"
import {hex, b64u, cat, run, sha256, ed25519, x25519, exampleChunk} from "../../../internal/dlcrypt/testdata/gen/gen.mjs"

const server = ed25519(run(0x00)), sender = ed25519(run(0x20)), recipient = ed25519(run(0x40))
const fingerprint = b64u(sha256(server.pub))
const ts = 1750000000
const senderID = b64u(run(0xe0, 24)), recipientID = b64u(run(0xc0, 24))

// §4.1: seven lines joined by \n, no trailing newline; the body hash is
// lowercase hex SHA-256 of the body, or "-" for an upload.
const message = (method, path, nonce, bodyHash) =>
  ["xftp request v1", fingerprint, method, path, String(ts), nonce, bodyHash].join("\n")

function signed({name, key, keySeed, method, path, body, unsigned, nonceFirst, showHash}) {
  const nonce = b64u(run(nonceFirst, 16))
  const bodyHash = unsigned ? "-" : hex(sha256(Buffer.from(body)))
  const sig = key.sign(Buffer.from(message(method, path, nonce, bodyHash)))
  const r = {name, key_seed: keySeed, method, path}
  if (unsigned) r.unsigned_body = true
  else r.body = body
  r.nonce = nonce
  if (showHash) r.body_hash = bodyHash
  r.header = `ts=${ts}, nonce=${nonce}, sig=${b64u(sig)}`
  return r
}

const snd = {key: sender, keySeed: "20"}, rcv = {key: recipient, keySeed: "40"}
const create = JSON.stringify({sender_key: b64u(sender.pub), size: 65536, digest: b64u(sha256(exampleChunk())),
  recipient_keys: [b64u(recipient.pub)]})
const added = JSON.stringify({recipient_keys: [b64u(ed25519(run(0x50)).pub)]})
const download = JSON.stringify({key: b64u(x25519(run(0xa0)).pub)})
const requests = [
  signed({name: "create", ...snd, method: "POST", path: "/v1/chunks", body: create, nonceFirst: 0x60, showHash: true}),
  signed({name: "upload", ...snd, method: "PUT", path: `/v1/chunks/${senderID}`, unsigned: true, nonceFirst: 0x71}),
  signed({name: "add recipients", ...snd, method: "POST", path: `/v1/chunks/${senderID}/recipients`, body: added, nonceFirst: 0x74}),
  signed({name: "download", ...rcv, method: "POST", path: `/v1/chunks/${recipientID}/download`, body: download, nonceFirst: 0x72, showHash: true}),
  signed({name: "ack", ...rcv, method: "POST", path: `/v1/chunks/${recipientID}/ack`, body: "", nonceFirst: 0x70}),
  signed({name: "delete", ...snd, method: "DELETE", path: `/v1/chunks/${senderID}`, body: "", nonceFirst: 0x73}),
]

// §5.8: the identity key signs "xftp identity challenge v1\x00" || challenge.
const challenge = run(0x00)
const answer = JSON.stringify({public_key: b64u(server.pub),
  signature: b64u(server.sign(cat(Buffer.from("xftp identity challenge v1\0", "latin1"), challenge)))})

const v = {
  comment: "docs/PROTOCOL.md §4.1, §5.8 and §13: the worked example's signed requests and identity challenge, made by testdata/gen/gen.mjs with node:crypto. Seeds are 32 consecutive byte values starting at the given one; TestWorkedExample signs each and checks the header, and that the document shows the same.",
  server_seed: "00",
  fingerprint,
  timestamp: ts,
  requests,
  identity_challenge: {challenge: b64u(challenge), answer},
}
writeFileSync(fileURLToPath(new URL("../signed-requests.json", import.meta.url)), JSON.stringify(v, null, 2) + "\n")
