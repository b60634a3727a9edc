// Generates ../vectors.json and ../route-answer.bin, the vectors of the
// receiving proxies' wire format (docs/PROXY.md, "Keys" and "Wire
// format"), with Node's own crypto (node:crypto). It is written from the
// document, not from the Go code: internal/onion's vector test checks our
// implementation against it byte for byte, in both directions.
//
//   node internal/onion/testdata/gen/gen.mjs     (Node 20 or later; no packages)
//
// STREAM, keys from seeds and the worked example's download come from
// ../../../dlcrypt/testdata/gen/gen.mjs (docs/PROTOCOL.md). Every key,
// nonce and salt is fixed, so every run writes the same bytes.

import {writeFileSync} from "node:fs"
import {fileURLToPath} from "node:url"
import {hex, b64u, cat, run, sha256, hkdf, x25519, ed25519, gcmSeal, gcmOpen, streamSeal, streamOpen,
  exampleChunk, downloadKey} from "../../../dlcrypt/testdata/gen/gen.mjs"

const out = name => fileURLToPath(new URL("../" + name, import.meta.url))
const u16 = n => { const b = Buffer.alloc(2); b.writeUInt16BE(n); return b }
const u32 = n => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b }
const u64 = n => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(n)); return b }
const filler = (n, seed) => Buffer.from(Array.from({length: n}, (_, i) => (i * seed + 7) & 255))
const fingerprint = pub => b64u(sha256(pub))

// ---- Keys ----------------------------------------------------------------

// proxy private key = HKDF-SHA256(ikm = identity seed, salt = none,
// info = "xftp proxy key v1", 32); the identity signs
// "xftp proxy key v1\x00" || proxy public key.
function proxy(seedFirst, host) {
  const id = ed25519(run(seedFirst))
  const key = x25519(hkdf(id.seed, Buffer.alloc(0), "xftp proxy key v1"))
  const message = cat(Buffer.from("xftp proxy key v1\0", "latin1"), key.pub)
  const signature = id.sign(message)
  return {id, key, address: `xftp://${fingerprint(id.pub)}@${host}`, message, signature,
    keyResponse: JSON.stringify({identity_key: b64u(id.pub), proxy_key: b64u(key.pub), signature: b64u(signature)})}
}

// ---- Layers --------------------------------------------------------------

const MAX_ADDRESS = 382
const KIND = {relay: 1, request: 2, key: 3}

// layerPlaintext: response key || kind || uint16 len || next || zeros to
// 382 || uint32 len || inner. The options write what a valid layer cannot
// (for the negative vectors).
function layerPlaintext({responseKey, kind, next, inner = Buffer.alloc(0)}, o = {}) {
  const addr = Buffer.from(next)
  const field = Buffer.alloc(MAX_ADDRESS)
  addr.copy(field, 0, 0, Math.min(addr.length, MAX_ADDRESS))
  if (o.dirtyPadding) field[addr.length] = 0x78
  return cat(responseKey, [o.kind ?? KIND[kind]], u16(o.nextLength ?? addr.length), field,
    u32(o.innerLength ?? inner.length), inner, o.trailing ?? [])
}

// sealLayer: version 2 || E || AES-256-GCM(K, nonce 0^12, plaintext,
// aad = version || E), K = HKDF-SHA256(X25519(e, P), salt = E || P,
// info = "xftp proxy layer v2").
function sealLayer(proxyPub, ephPriv, plain, o = {}) {
  const e = x25519(ephPriv)
  const version = o.version ?? 2
  const k = hkdf(e.dh(proxyPub), cat(e.pub, proxyPub), o.info ?? "xftp proxy layer v2")
  const header = cat([version], e.pub)
  return cat(header, gcmSeal(k, Buffer.alloc(12), plain, o.noAAD ? null : header))
}

// openLayer is what a proxy does: it checks the generator against itself.
function openLayer(priv, sealed) {
  const E = sealed.subarray(1, 33)
  const k = hkdf(priv.dh(E), cat(E, priv.pub), "xftp proxy layer v2")
  return gcmOpen(k, Buffer.alloc(12), sealed.subarray(33), sealed.subarray(0, 33))
}

// ---- Requests and answers ------------------------------------------------

// request: uint16 len || path || uint16 len || auth || uint32 len || body ||
// the fewest zeros that make it a multiple of 512.
function request({path, auth, body = ""}, o = {}) {
  const b = cat(u16(Buffer.byteLength(path)), Buffer.from(path), u16(Buffer.byteLength(auth)), Buffer.from(auth),
    u32(o.bodyLength ?? Buffer.byteLength(body)), Buffer.from(body))
  const padded = Buffer.alloc(Math.ceil(b.length / 512) * 512 + (o.extraPadding ?? 0))
  b.copy(padded)
  if (o.dirtyPadding) padded[padded.length - 1] = 1
  return o.unpadded ? b : padded
}

// answerHeader: uint16 status || int64 date || uint32 retry-after ||
// uint8 len || identity || uint8 len || server key || uint8 len || key
// signature || uint64 body length.
function answerHeader({status, date = 0, retryAfter = 0, identity = "", serverKey = "", keySignature = "", bodyLength}) {
  const field = h => { const b = Buffer.from(h, "hex"); return cat([b.length], b) }
  return cat(u16(status), u64(BigInt.asUintN(64, BigInt(date))), u32(retryAfter),
    field(identity), field(serverKey), field(keySignature), u64(bodyLength))
}

const refusal = ({status, code}) => cat(u16(status), [Buffer.byteLength(code)], Buffer.from(code, "latin1"))

// An answer on one link: the proxy's salt in the clear, then STREAM under
// HKDF-SHA256(response key, salt, "xftp proxy answer v2").
const answerKey = (responseKey, salt) => hkdf(responseKey, salt, "xftp proxy answer v2")
const answerStream = (responseKey, salt, plain) => cat(salt, streamSeal(answerKey(responseKey, salt), plain))
const TYPE = {relayed: 1, answer: 2, refused: 3}

// ---- The vectors ---------------------------------------------------------

// D is the worked example's server (docs/PROTOCOL.md §13.1).
const D = {id: ed25519(run(0x00))}
D.address = `xftp://${fingerprint(D.id.pub)}@files.example.org:443`
const P1 = proxy(0x70, "p1.example.net:5443"), P2 = proxy(0x90, "p2.example.net:443?tls=web")
const proxies = [P1, P2]

// The download and acknowledgement of PROTOCOL.md §13.3, signed for D.
const rid = "wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX"
const download = {path: `/v1/chunks/${rid}/download`,
  auth: "ts=1750000000, nonce=cnN0dXZ3eHl6e3x9fn-AgQ, sig=BX2IediVuAAehscurbUuoaN2p9zaiAoYn5VEWFnQ3e3PTBG3kR5tmRAu2ySFlLalPpQSyQvbAtA7JktSktAXBA",
  body: '{"key":"YFpyXSpK3-6xop4X7dYhwbdZPujNvESsbEq24vgF0jw"}'}
const ack = {path: `/v1/chunks/${rid}/ack`,
  auth: "ts=1750000000, nonce=cHFyc3R1dnd4eXp7fH1-fw, sig=NIWU_JiG6BnwBKJTQv7QHZ_BoyIdf5De9Dbxi2e5qzZV-IpR6o9tq8RVxDOo2GpAo-5UQxX8QDA5XSdRMRHyCg"}
const exactPath = `/v1/chunks/${rid}/report`
const requests = [
  {name: "download (PROTOCOL.md §13.3)", ...download},
  {name: "acknowledgement (PROTOCOL.md §13.3): as long as the download", ...ack},
  {name: "report (the signature is a placeholder: proxies do not check it)", path: exactPath, auth: "ts=1750000000, nonce=AAAAAAAAAAAAAAAAAAAAAA, sig=A", body: '{"reason":"content"}'},
  {name: "exactly 512 bytes: no padding", path: exactPath, auth: "a", body: "x".repeat(512 - (2 + exactPath.length + 2 + 1 + 4))},
  {name: "the largest a client makes: an 86-character ID, 1024-byte auth and body", path: `/v1/chunks/${"A".repeat(86)}/download`, auth: "a".repeat(1024), body: "b".repeat(1024)},
].map(r => ({...r, encoded: hex(request(r))}))

const badRequest = (name, r, o) => ({name, encoded: hex(request(r, o))})
const badRequests = [
  badRequest("create: not forwarded", {path: "/v1/chunks", auth: "a"}),
  badRequest("upload: not forwarded", {path: `/v1/chunks/${rid}`, auth: "a"}),
  badRequest("add recipients: not forwarded", {path: `/v1/chunks/${rid}/recipients`, auth: "a"}),
  badRequest("status: not forwarded", {path: `/v1/chunks/${rid}/status`, auth: "a"}),
  badRequest("ping: not forwarded", {path: "/v1/ping", auth: "a"}),
  badRequest("path traversal", {path: "/v1/chunks/../admin/download", auth: "a"}),
  badRequest("a query", {path: `/v1/chunks/${rid}/download?x=1`, auth: "a"}),
  badRequest("an ID of 87 characters", {path: `/v1/chunks/${"A".repeat(87)}/download`, auth: "a"}),
  badRequest("an ID that is not b64u", {path: "/v1/chunks/AA+A/download", auth: "a"}),
  badRequest("auth over 1024 bytes", {...ack, auth: "a".repeat(1025)}),
  badRequest("body over 1024 bytes", {...download, body: "b".repeat(1025)}),
  badRequest("body length past the end", {...download}, {bodyLength: 600}),
  badRequest("not padded", ack, {unpadded: true}),
  badRequest("padding not zero", ack, {dirtyPadding: true}),
  badRequest("a whole block of padding too many", ack, {extraPadding: 512}),
  {name: "empty", encoded: ""},
]

// The route of the example: the client downloads through P1 then P2 from D.
// Layers are built from the inside out, each with its own ephemeral key
// and response key.
const eph = {p1: run(0xc0), p2: run(0xe0), key: run(0xd0), long: run(0x50), big: run(0x60), bad: run(0xa0)}
const rk = {p1: run(0x10), p2: run(0x30), key: run(0x20)}
const reqLayer = {responseKey: rk.p2, kind: "request", next: D.address, inner: request(download)}
const reqSealed = sealLayer(P2.key.pub, eph.p2, layerPlaintext(reqLayer))
const relayLayer = {responseKey: rk.p1, kind: "relay", next: P2.address, inner: reqSealed}
const keyLayer = {responseKey: rk.key, kind: "key", next: P2.address}
const longNext = `xftp://${fingerprint(D.id.pub)}@${"h".repeat(253 - 18)}.files.example.org:65535?tls=web`
const MAX_LAYER = 16 * (49 + 32 + 1 + 384 + 4) + 2560
const layers = [
  {name: "request for D, sealed to P2 (the route's inner layer)", proxy: 1, ephemeral: eph.p2, ...reqLayer},
  {name: "relay to P2, sealed to P1 (the route's outer layer: the body of POST /v1/proxy)", proxy: 0, ephemeral: eph.p1, ...relayLayer},
  {name: "key of P2, asked of P1", proxy: 0, ephemeral: eph.key, ...keyLayer},
  {name: "an address of 382 bytes", proxy: 0, ephemeral: eph.long, responseKey: rk.p2, kind: "request",
    next: longNext + "x".repeat(MAX_ADDRESS - longNext.length), inner: request(ack)},
  {name: `the largest layer a proxy opens (${MAX_LAYER} bytes)`, proxy: 0, ephemeral: eph.big, responseKey: rk.p1, kind: "relay",
    next: P2.address, inner: filler(MAX_LAYER - 470, 3)},
].map(l => {
  const plaintext = layerPlaintext(l)
  const sealed = sealLayer(proxies[l.proxy].key.pub, l.ephemeral, plaintext)
  if (!openLayer(proxies[l.proxy].key, sealed).equals(plaintext)) throw new Error("a layer does not open: " + l.name)
  return {name: l.name, proxy: l.proxy, ephemeral_private: hex(l.ephemeral), response_key: hex(l.responseKey),
    kind: KIND[l.kind], next: l.next, inner: hex(l.inner ?? []), plaintext: hex(plaintext), sealed: hex(sealed)}
})
if (layers[1].sealed.length / 2 !== 470 + 470 + 512) throw new Error("the route's layer is not 1452 bytes")

// Layers sealed to P1 that P1 must refuse: well sealed but not canonical,
// sealed wrongly, or too large.
const small = {responseKey: rk.p1, kind: "relay", next: P2.address, inner: Buffer.from("inner")}
// Those sealed well (version 2, the v2 key, the additional data) carry
// their plaintext and ephemeral key: they must be refused for the plaintext.
const badLayer = (name, l, o = {}, so = {}) => {
  const plain = Buffer.isBuffer(l) ? l : layerPlaintext(l, o)
  const sealed = sealLayer(P1.key.pub, eph.bad, plain, so)
  return Object.keys(so).length ? {name, sealed: hex(sealed)} : {name, plaintext: hex(plain), ephemeral_private: hex(eph.bad), sealed: hex(sealed)}
}
const badLayers = [
  badLayer("kind 0", small, {kind: 0}),
  badLayer("kind 4", small, {kind: 4}),
  badLayer("an empty address", small, {nextLength: 0}),
  badLayer("an address length over 382", {...small, next: "x".repeat(382)}, {nextLength: 383}),
  badLayer("padding after the address not zero", small, {dirtyPadding: true}),
  badLayer("inner length past the end", small, {innerLength: 6}),
  badLayer("a byte after inner", small, {trailing: [0]}),
  badLayer("a key layer with an inner", {...keyLayer, inner: Buffer.from([1])}),
  badLayer("a relay layer without inner", {...small, inner: Buffer.alloc(0)}),
  badLayer("a request layer without inner", {...small, kind: "request", inner: Buffer.alloc(0)}),
  badLayer("a plaintext cut after the address length", layerPlaintext(small).subarray(0, 35)),
  badLayer("version 1", small, {}, {version: 1}),
  badLayer("version 1's key (info xftp proxy layer v1)", small, {}, {info: "xftp proxy layer v1"}),
  badLayer("no additional data", small, {}, {noAAD: true}),
  {name: "sealed to P2", sealed: hex(sealLayer(P2.key.pub, eph.bad, layerPlaintext(small)))},
  {name: "an all-zero ephemeral key (small order: no shared secret)", sealed: hex(cat([2], Buffer.alloc(32 + 470 - 33 + 5)))},
  {name: `a valid layer one byte over the largest (${MAX_LAYER + 1} bytes)`,
    sealed: hex(sealLayer(P1.key.pub, eph.bad, layerPlaintext({...small, inner: filler(MAX_LAYER + 1 - 470, 3)})))},
  {name: "shorter than a sealed empty layer", sealed: hex(Buffer.from([2]))},
]

// Answer headers and refusals.
const dk = downloadKey(x25519(run(0xa0)), x25519(run(0xb0)), D.id)
const body = streamSeal(dk.key, exampleChunk()) // §13.4's 65568 bytes
const dlAnswer = {status: 200, date: 1750000000, identity: hex(D.id.pub), serverKey: hex(x25519(run(0xb0)).pub),
  keySignature: hex(dk.sig), bodyLength: body.length}
const keyAnswer = {status: 200, identity: hex(P2.id.pub), bodyLength: Buffer.byteLength(P2.keyResponse)}
const MAX_BODY = 64 * 2 ** 20 + 64 * 2 ** 10
const answers = [
  {name: "download (PROTOCOL.md §13.3)", ...dlAnswer},
  {name: "acknowledgement", status: 200, date: 1750000000, identity: hex(D.id.pub), bodyLength: 2},
  {name: "CLOCK refusal with D's date", status: 401, date: 1750000200, identity: hex(D.id.pub), bodyLength: 17},
  {name: "RATE with Retry-After", status: 429, date: 1750000000, retryAfter: 30, identity: hex(D.id.pub), bodyLength: 16},
  {name: "P2's proxy key, fetched by P1", ...keyAnswer},
  {name: "the largest body", status: 200, identity: hex(D.id.pub), serverKey: hex(run(1)), keySignature: hex(run(2, 64)), bodyLength: MAX_BODY},
].map(a => ({name: a.name, status: a.status, date: a.date ?? 0, retry_after: a.retryAfter ?? 0, identity: a.identity ?? "",
  server_key: a.serverKey ?? "", key_signature: a.keySignature ?? "", body_length: a.bodyLength, encoded: hex(answerHeader(a))}))
const badAnswer = (name, a) => ({name, encoded: hex(answerHeader(a))})
const cut = (name, h) => ({name, encoded: hex(h.subarray(0, -1))})
const badAnswers = [
  badAnswer("status 99", {...dlAnswer, status: 99}),
  badAnswer("status 600", {...dlAnswer, status: 600}),
  badAnswer("a negative date", {...dlAnswer, date: -1}),
  badAnswer("an identity of 33 bytes", {...dlAnswer, identity: hex(run(0, 33))}),
  badAnswer("a server key of 33 bytes", {...dlAnswer, serverKey: hex(run(0, 33))}),
  badAnswer("a key signature of 65 bytes", {...dlAnswer, keySignature: hex(run(0, 65))}),
  badAnswer("a body one byte over 64 MiB + 64 KiB", {...dlAnswer, bodyLength: MAX_BODY + 1}),
  cut("cut one byte short", answerHeader(dlAnswer)),
  {name: "empty", encoded: ""},
]
const refusals = [
  {name: "the next hop refused to forward", status: 403, code: "PROXY_REFUSED"},
  {name: "the next hop could not be reached", status: 0, code: "UNREACHABLE"},
  {name: "the next hop failed its identity check", status: 0, code: "WRONG_IDENTITY"},
  {name: "the next hop is busy", status: 503, code: "PROXY_BUSY"},
  {name: "an empty code (the next hop's had no allowed character)", status: 502, code: ""},
  {name: "the longest code", status: 400, code: "A_0".repeat(21) + "Z"},
].map(f => ({...f, encoded: hex(refusal(f))}))
const badRefusals = [
  {name: "a lower-case code", status: 403, code: "proxy_refused"},
  {name: "a control character", status: 403, code: "BAD\x1b"},
  {name: "a code of 65 bytes", status: 403, code: "A".repeat(65)},
  {name: "status 42", status: 42, code: "X"},
  {name: "status 600", status: 600, code: "X"},
].map(f => ({name: f.name, encoded: hex(refusal(f))})).concat([cut("cut one byte short", refusal(refusals[0])), {name: "empty", encoded: ""}])

// Answer streams. The route: D's download answer as P2 relays it to P1,
// inside P1's answer to the client.
const salts = {p1: run(0x40), p2: run(0x60), key: run(0x80), refused: run(0x90)}
const p2Plain = cat([TYPE.answer], answerHeader(dlAnswer), body)
const p2Link = answerStream(rk.p2, salts.p2, p2Plain)
const p1Link = answerStream(rk.p1, salts.p1, cat([TYPE.relayed], p2Link))
writeFileSync(out("route-answer.bin"), p1Link)
// The client's unwrapping, as the document describes it.
{
  const l1 = streamOpen(answerKey(rk.p1, p1Link.subarray(0, 32)), p1Link.subarray(32))
  if (l1[0] !== TYPE.relayed) throw new Error("route: hop 0 type")
  const l2 = streamOpen(answerKey(rk.p2, l1.subarray(1, 33)), l1.subarray(33))
  if (!l2.equals(p2Plain)) throw new Error("route: hop 1")
}
const refusedLink = answerStream(rk.p1, salts.p1, cat([TYPE.relayed],
  answerStream(rk.p2, salts.refused, cat([TYPE.refused], refusal(refusals[1])))))
const keyLink = answerStream(rk.key, salts.key, cat([TYPE.answer], answerHeader(keyAnswer), Buffer.from(P2.keyResponse)))

const v = {
  comment: "docs/PROXY.md's wire format, made by testdata/gen/gen.mjs with node:crypto from the document. Keys, salts and nonces are fixed (hex); D is docs/PROTOCOL.md §13.1's server; the route's download is §13.3's, its body §13.4's stream.",
  destination: {identity_seed: hex(D.id.seed), identity_public: b64u(D.id.pub), address: D.address},
  proxies: proxies.map(p => ({identity_seed: hex(p.id.seed), identity_public: b64u(p.id.pub), address: p.address,
    proxy_private: hex(p.key.priv), proxy_public: b64u(p.key.pub), key_message: hex(p.message),
    signature: b64u(p.signature), key_response: p.keyResponse})),
  layers, bad_layers: badLayers,
  requests, bad_requests: badRequests,
  answers, bad_answers: badAnswers,
  refusals, bad_refusals: badRefusals,
  answer_keys: [[rk.p1, salts.p1], [rk.p2, salts.p2], [rk.key, salts.key]].map(([k, s]) =>
    ({response_key: hex(k), salt: hex(s), key: hex(answerKey(k, s))})),
  streams: {
    route: {comment: "P1's answer to the route's outer layer: salt || STREAM(type 1 || P2's answer: salt || STREAM(type 2 || header || D's body)); the bytes are route-answer.bin",
      file: "route-answer.bin", size: p1Link.length, sha256: hex(sha256(p1Link)),
      response_keys: [hex(rk.p1), hex(rk.p2)], salts: [hex(salts.p1), hex(salts.p2)],
      answer: answers[0].encoded, body_size: body.length, body_sha256: hex(sha256(body))},
    refused: {comment: "P1's answer when P2 could not reach D: type 1, then P2's answer of type 3",
      response_keys: [hex(rk.p1), hex(rk.p2)], salts: [hex(salts.p1), hex(salts.refused)],
      refusal: refusals[1].encoded, encoded: hex(refusedLink)},
    key: {comment: "P1's answer to the key layer: type 2, the header, P2's GET /v1/proxy/key answer",
      response_keys: [hex(rk.key)], salts: [hex(salts.key)], answer: answers[4].encoded,
      body: P2.keyResponse, encoded: hex(keyLink)},
  },
}
writeFileSync(out("vectors.json"), JSON.stringify(v, null, 1) + "\n")
