// Generates api/xftp's golden vectors with SimpleX's own TypeScript client
// (xftp-web), an implementation independent of ours.
//
//   node gen.mjs /path/to/built/xftp-web > ../vectors.json
//
// The xftp-web folder must be built (npm ci --ignore-scripts && npx tsc)
// and have the libsodium link its README describes. Inputs are fixed, so
// the output is the same on every run (Ed25519 signatures are deterministic).
import {pathToFileURL} from "node:url"
import {join} from "node:path"

const dir = process.argv[2]
if (!dir) { console.error("usage: node gen.mjs XFTP_WEB_DIR"); process.exit(2) }
const load = p => import(pathToFileURL(join(dir, "dist", p)).href)
const tr = await load("protocol/transmission.js")
const cmd = await load("protocol/commands.js")
const hs = await load("protocol/handshake.js")
const keys = await load("crypto/keys.js")
const pc = await load("protocol/client.js")
const addr = await load("protocol/address.js")
const sodium = (await import(pathToFileURL(join(dir, "node_modules/libsodium-wrappers-sumo/dist/modules-sumo-esm/libsodium-wrappers.mjs")).href)).default
await sodium.ready

const hex = b => Buffer.from(b).toString("hex")
const seq = (n, start) => Uint8Array.from({length: n}, (_, i) => (start + i) & 0xff)
const ed = s => keys.ed25519KeyPairFromSeed(seq(32, s))
const unpadded = block => hex(tr.blockUnpad(block))

const sessionId = seq(32, 0xa0)
const snd = ed(1), r1 = ed(2), r2 = ed(3)
const digest = seq(32, 0x40)
const fileInfo = {sndKey: keys.encodePubKeyEd25519(snd.publicKey), size: 65536, digest}
const rcvKeys = [r1, r2].map(k => keys.encodePubKeyEd25519(k.publicKey))
const fget = keys.x25519KeyPairFromPrivate(seq(32, 0x60))
const entity = seq(24, 0x10)

const v = {
  inputs: {
    session_id: hex(sessionId), entity_id: hex(entity), digest: hex(digest),
    sender_seed: hex(seq(32, 1)), recipient_seeds: [hex(seq(32, 2)), hex(seq(32, 3))],
    fget_private: hex(seq(32, 0x60)),
  },
  // Client blocks (unpadded message; padding is checked by "padded_ping").
  transmissions: {
    fnew: unpadded(tr.encodeAuthTransmission(sessionId, new Uint8Array(0), new Uint8Array(0), cmd.encodeFNEW(fileInfo, rcvKeys, null), snd.privateKey)),
    fnew_auth: unpadded(tr.encodeAuthTransmission(sessionId, new Uint8Array(0), new Uint8Array(0), cmd.encodeFNEW(fileInfo, rcvKeys, new TextEncoder().encode("s3cret")), snd.privateKey)),
    fadd: unpadded(tr.encodeAuthTransmission(sessionId, new Uint8Array(0), entity, cmd.encodeFADD(rcvKeys), snd.privateKey)),
    fput: unpadded(tr.encodeAuthTransmission(sessionId, new Uint8Array(0), entity, cmd.encodeFPUT(), snd.privateKey)),
    fdel: unpadded(tr.encodeAuthTransmission(sessionId, new Uint8Array(0), entity, cmd.encodeFDEL(), snd.privateKey)),
    fget: unpadded(tr.encodeAuthTransmission(sessionId, new Uint8Array(0), entity, cmd.encodeFGET(keys.encodePubKeyX25519(fget.publicKey)), r1.privateKey)),
    ping: unpadded(tr.encodeTransmission(sessionId, new Uint8Array(0), new Uint8Array(0), cmd.encodePING())),
  },
  padded_ping: hex(tr.encodeTransmission(sessionId, new Uint8Array(0), new Uint8Array(0), cmd.encodePING())),
  handshake: {
    web_hello: unpadded(hs.encodeClientHello({webChallenge: seq(32, 0x80)})),
    client_handshake: unpadded(hs.encodeClientHandshake({xftpVersion: 3, keyHash: seq(32, 0x90)})),
  },
  // FGET's cipher: crypto_box key of the two X25519 keys, XSalsa20-Poly1305, tag last.
  download: (() => {
    const server = keys.x25519KeyPairFromPrivate(seq(32, 0x70))
    const nonce = seq(24, 0x50)
    const plain = seq(1000, 7)
    const secret = keys.dh(server.publicKey, fget.privateKey)
    return {server_private: hex(seq(32, 0x70)), server_public: hex(server.publicKey), nonce: hex(nonce),
            plaintext: hex(plain), sealed: hex(pc.encryptTransportChunk(secret, nonce, plain))}
  })(),
  // Responses our server sends, as xftp-web decodes them.
  responses: Object.fromEntries([
    ["sids", "SIDS " + "\x18" + "A".repeat(24) + "\x01\x18" + "B".repeat(24)],
    ["err_blocked", "ERR BLOCKED reason=content,notice={\"ttl\":3600}"],
    ["err_cmd", "ERR CMD SYNTAX"],
    ["pong", "PONG"],
  ].map(([k, s]) => [k, {bytes: hex(Buffer.from(s, "latin1")), decoded: JSON.parse(JSON.stringify(cmd.decodeResponse(Uint8Array.from(Buffer.from(s, "latin1"))), (_, x) => x instanceof Uint8Array ? hex(x) : x))}])),
  addresses: [
    "xftp://da1aH3nOT-9G8lV7bWamhxpDYdJ1xmW7j3JpGaDR5Ug=@xftp1.simplex.im",
    "xftp://da1aH3nOT-9G8lV7bWamhxpDYdJ1xmW7j3JpGaDR5Ug@127.0.0.1:8443",
    "xftp://da1aH3nOT-9G8lV7bWamhxpDYdJ1xmW7j3JpGaDR5Ug=@a.example,b.example:5223",
  ].map(a => { const s = addr.parseXFTPServer(a); return {address: a, key_hash: hex(s.keyHash), host: s.host, port: s.port} }),
}
process.stdout.write(JSON.stringify(v, null, 1) + "\n")
