// Drives SimpleX's own XFTP client (xftp-web, a built copy named by
// XFTP_TEST_XFTPWEB) against an xftpd, for e2e/xftpweb_test.go. Written for
// this project; it only calls xftp-web's exported API.
//
//   node peer.mjs upload ADDR FILE          -> prints {"uri":..., "snd":...}
//   node peer.mjs download URI OUT          -> writes the file
//   node peer.mjs download-fails URI WANT  -> the download fails with XFTP error WANT
//   node peer.mjs delete SND_URI
//   node peer.mjs errors ADDR               -> AUTH, NO_FILE, DIGEST, SIZE, FACK then AUTH
//   node peer.mjs quota ADDR SIZE N         -> N chunks fit, the next is QUOTA
//   node peer.mjs chunk ADDR                -> one uploaded 64 KiB chunk: {"rid","rkey","sid","skey"} (hex)
//   node peer.mjs fget ADDR RID RKEY WANT   -> FGET answers exactly "ERR WANT" (or WANT=OK: the body)
//   node peer.mjs fnew ADDR AUTH WANT [DIGEST] -> FNEW with basic auth AUTH ("-": none), and the
//                                              given digest (hex), answers WANT (SIDS or ERR ...)
import {pathToFileURL} from "node:url"
import {join} from "node:path"
import {readFileSync, writeFileSync} from "node:fs"

const dir = process.env.XFTP_TEST_XFTPWEB
if (!dir) { console.error("XFTP_TEST_XFTPWEB is not set"); process.exit(2) }
const load = p => import(pathToFileURL(join(dir, "dist", p)).href)
const agentM = await load("agent.js")
const client = await load("client.js")
const cmd = await load("protocol/commands.js")
const tr = await load("protocol/transmission.js")
const keys = await load("crypto/keys.js")
const addrM = await load("protocol/address.js")
const digestM = await load("crypto/digest.js")

// client.ts's HTTP/2 session has no 'error' listener (XFTP-WIRE F2).
function die(what, e) { console.error(`peer: ${what}: ${e && e.stack ? e.stack : e}`); process.exit(1) }
process.on("uncaughtException", e => die("uncaught", e))
process.on("unhandledRejection", e => die("unhandled", e))
console.log = () => {} // xftp-web's debug output; results go to stdout via out()
const out = s => process.stdout.write(s + "\n")
const hex = b => Buffer.from(b).toString("hex")
const unhex = s => Uint8Array.from(Buffer.from(s, "hex"))
const rand = n => {
  const b = new Uint8Array(n)
  for (let off = 0; off < n; off += 65536) crypto.getRandomValues(b.subarray(off, Math.min(n, off + 65536)))
  return b
}
const expect = (cond, what) => { if (!cond) die("expectation failed", what) }

// errType runs f and returns the XFTP error type it failed with.
async function errType(f) {
  try { await f() } catch (e) { return e.errorType || String(e.message || e) }
  return "OK"
}

// raw sends one command and returns the decoded response (errors included).
async function raw(agent, server, key, entity, cmdBytes, chunk) {
  const c = await client.getXFTPServerClient(agent, server)
  const block = key
    ? tr.encodeAuthTransmission(c.sessionId, new Uint8Array(0), entity, cmdBytes, key)
    : tr.encodeTransmission(c.sessionId, new Uint8Array(0), entity, cmdBytes)
  const resp = await c.transport.post(chunk ? Buffer.concat([block, chunk]) : block)
  const {command} = tr.decodeTransmission(c.sessionId, resp.subarray(0, tr.XFTP_BLOCK_SIZE))
  return {response: cmd.decodeResponse(command), text: Buffer.from(command).toString("latin1")}
}

function newChunk(size) {
  const snd = keys.generateEd25519KeyPair(), rcv = keys.generateEd25519KeyPair()
  const body = rand(size)
  return {snd, rcv, body, info: {sndKey: keys.encodePubKeyEd25519(snd.publicKey), size, digest: digestM.sha256(body)}}
}

async function create(agent, server, ch, auth = null) {
  const r = await client.createXFTPChunk(agent, server, ch.snd.privateKey, ch.info, [keys.encodePubKeyEd25519(ch.rcv.publicKey)], auth)
  ch.sid = r.senderId; ch.rid = r.recipientIds[0]
  return ch
}

const [op, ...args] = process.argv.slice(2)
const agent = agentM.newXFTPAgent()
try {
  switch (op) {
  case "upload": {
    const server = addrM.parseXFTPServer(args[0])
    const data = new Uint8Array(readFileSync(args[1]))
    const enc = agentM.encryptFileForUpload(data, "peer.bin")
    const {uri, sndDescription} = await agentM.uploadFile(agent, [server], enc)
    out(JSON.stringify({uri, snd: agentM.encodeDescriptionURI(sndDescription)}))
    break
  }
  case "download": {
    const {content} = await agentM.downloadFile(agent, agentM.decodeDescriptionURI(args[0]))
    writeFileSync(args[1], content)
    break
  }
  case "download-fails": {
    const got = await errType(() => agentM.downloadFile(agent, agentM.decodeDescriptionURI(args[0])))
    expect(got === args[1], `download failed with ${got}, want ${args[1]}`)
    out("ok")
    break
  }
  case "delete":
    await agentM.deleteFile(agent, agentM.decodeDescriptionURI(args[0]))
    break
  case "errors": {
    const server = addrM.parseXFTPServer(args[0])
    const ch = await create(agent, server, newChunk(65536))
    expect(await errType(() => client.downloadXFTPChunk(agent, server, ch.rcv.privateKey, ch.rid)) === "NO_FILE", "FGET before FPUT is NO_FILE")
    const wrong = keys.generateEd25519KeyPair()
    expect(await errType(() => client.uploadXFTPChunk(agent, server, wrong.privateKey, ch.sid, ch.body)) === "AUTH", "FPUT with a wrong key is AUTH")
    const bad = Uint8Array.from(ch.body); bad[0] ^= 1
    expect(await errType(() => client.uploadXFTPChunk(agent, server, ch.snd.privateKey, ch.sid, bad)) === "DIGEST", "a wrong body is DIGEST")
    expect(await errType(() => client.uploadXFTPChunk(agent, server, ch.snd.privateKey, ch.sid, ch.body.subarray(0, 1000))) === "SIZE", "a short body is SIZE")
    await client.uploadXFTPChunk(agent, server, ch.snd.privateKey, ch.sid, ch.body)
    expect(await errType(() => client.downloadXFTPChunk(agent, server, wrong.privateKey, ch.rid)) === "AUTH", "FGET with a wrong key is AUTH")
    const got = await client.downloadXFTPChunk(agent, server, ch.rcv.privateKey, ch.rid, ch.info.digest)
    expect(Buffer.compare(Buffer.from(got), Buffer.from(ch.body)) === 0, "FGET returns the body")
    const odd = newChunk(65536); odd.info.size = 65537
    expect(await errType(() => create(agent, server, odd)) === "SIZE", "FNEW of an odd size is SIZE")
    const ack = await raw(agent, server, ch.rcv.privateKey, ch.rid, new TextEncoder().encode("FACK"))
    expect(ack.response.type === "FROk", "FACK is OK: " + ack.text)
    expect(await errType(() => client.downloadXFTPChunk(agent, server, ch.rcv.privateKey, ch.rid)) === "AUTH", "FGET after FACK is AUTH")
    await client.deleteXFTPChunk(agent, server, ch.snd.privateKey, ch.sid)
    expect(await errType(() => client.deleteXFTPChunk(agent, server, ch.snd.privateKey, ch.sid)) === "AUTH", "FDEL twice is AUTH")
    await client.pingXFTP(agent, server)
    out("ok")
    break
  }
  case "quota": {
    const server = addrM.parseXFTPServer(args[0])
    const size = Number(args[1]), n = Number(args[2])
    for (let i = 0; i < n; i++) await create(agent, server, newChunk(size))
    expect(await errType(() => create(agent, server, newChunk(size))) === "QUOTA", "past the quota FNEW is QUOTA")
    out("ok")
    break
  }
  case "chunk": {
    const server = addrM.parseXFTPServer(args[0])
    const ch = await create(agent, server, newChunk(65536))
    await client.uploadXFTPChunk(agent, server, ch.snd.privateKey, ch.sid, ch.body)
    out(JSON.stringify({rid: hex(ch.rid), rkey: hex(ch.rcv.privateKey), sid: hex(ch.sid), skey: hex(ch.snd.privateKey), digest: hex(ch.info.digest)}))
    break
  }
  case "fget": {
    const server = addrM.parseXFTPServer(args[0])
    const {publicKey} = keys.generateX25519KeyPair()
    const r = await raw(agent, server, unhex(args[2]), unhex(args[1]), cmd.encodeFGET(keys.encodePubKeyX25519(publicKey)))
    const got = r.response.type === "FRFile" ? "OK" : r.text.replace(/^ERR /, "")
    expect(got === args[3], `FGET answered ${got}, want ${args[3]}`)
    out("ok")
    break
  }
  case "fnew": {
    const server = addrM.parseXFTPServer(args[0])
    const ch = newChunk(65536)
    if (args[3]) ch.info.digest = unhex(args[3])
    const auth = args[1] === "-" ? null : new TextEncoder().encode(args[1])
    const r = await raw(agent, server, ch.snd.privateKey, new Uint8Array(0),
      cmd.encodeFNEW(ch.info, [keys.encodePubKeyEd25519(ch.rcv.publicKey)], auth))
    const got = r.response.type === "FRSndIds" ? "SIDS" : r.text
    expect(got === args[2], `FNEW answered ${got}, want ${args[2]}`)
    out("ok")
    break
  }
  default:
    die("usage", "unknown operation " + op)
  }
} catch (e) {
  die(op, e)
} finally {
  agentM.closeXFTPAgent(agent)
}
