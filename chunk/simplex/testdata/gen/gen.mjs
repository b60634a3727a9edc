// Generates the golden vectors in ../xftp-web/ with SimpleX's own TypeScript
// client (xftp-web 0.3.0, simplexmq tag 6.5.5.0), so that our Go code is
// checked against an implementation we did not write.
//
// Usage (see ../../../../../shared/xftp-web/README.md for the build):
//   w=$(mktemp -d); cp -r /work/shared/xftp-web/. "$w"; cd "$w"
//   npm ci --ignore-scripts && npx tsc
//   ln -sf ../../../libsodium-sumo/dist/modules-sumo-esm/libsodium-sumo.mjs \
//     node_modules/libsodium-wrappers-sumo/dist/modules-sumo-esm/libsodium-sumo.mjs
//   node <repo>/chunk/simplex/testdata/gen/gen.mjs "$w" <repo>/chunk/simplex/testdata/xftp-web
//
// Everything is deterministic: keys, nonces, IDs and file bytes are derived
// from fixed seeds, so rerunning the script reproduces the same files.

import {mkdirSync, writeFileSync} from "node:fs"
import {join} from "node:path"
import {pathToFileURL} from "node:url"

const [xw, out] = process.argv.slice(2)
if (!xw || !out) {
  console.error("usage: node gen.mjs <built xftp-web dir> <output dir>")
  process.exit(2)
}
const imp = p => import(pathToFileURL(join(xw, "dist", p)).href)
const {encryptFile, encodeFileHeader, decryptChunks} = await imp("crypto/file.js")
const {prepareChunkSizes, fileSizeLen, authTagSize} = await imp("protocol/chunks.js")
const {encodeFileDescription, decodeFileDescription, base64urlEncode} = await imp("protocol/description.js")
const {sha512Streaming, sha256} = await imp("crypto/digest.js")
const {ed25519KeyPairFromSeed, encodePrivKeyEd25519} = await imp("crypto/keys.js")
// agent.js logs debug lines on import of some paths; it is only used for the URI.
const {encodeDescriptionURI, decodeDescriptionURI} = await imp("agent.js")

mkdirSync(out, {recursive: true})
const hex = b => Buffer.from(b).toString("hex")

// bytes(n, seed): deterministic filler, byte i = (i*seed + seed>>3) mod 256.
function bytes(n, seed) {
  const b = new Uint8Array(n)
  for (let i = 0; i < n; i++) b[i] = (i * seed + (seed >> 3)) & 255
  return b
}

// 1. Chunk plans: payload -> sizes.
const MiB = 1 << 20, KiB = 1024
const payloads = [1, 27, 64 * KiB - 1, 64 * KiB, 64 * KiB + 1, 192 * KiB, 192 * KiB + 1,
  256 * KiB - 1, 256 * KiB, 256 * KiB + 1, 768 * KiB, 768 * KiB + 1, MiB - 1, MiB, MiB + 1,
  3 * MiB, 3 * MiB + 1, 4 * MiB - 1, 4 * MiB, 4 * MiB + 1, 7 * MiB, 7 * MiB + 3 * MiB + 1,
  30 * MiB, 1024 * MiB + 27]
let plan = "# payload: chunk sizes (prepareChunkSizes of xftp-web)\n"
for (const p of payloads) plan += `${p}: ${prepareChunkSizes(p).join(" ")}\n`
writeFileSync(join(out, "plan.txt"), plan)

// 2. Encrypted files: name, size -> key, nonce, chunk sizes, digests; the
// whole ciphertext for the small ones.
const files = []
const fileCases = [
  ["a.bin", 0], ["a.bin", 1], ["hello.txt", 1000],
  // payload = 8 + (1 + name + 1) + size + 16; "x" gives 27 bytes of overhead
  ["x", 64 * KiB - 27], ["x", 64 * KiB - 26], ["x", 192 * KiB - 27], ["x", 192 * KiB - 26],
  ["x", 768 * KiB - 27], ["x", 768 * KiB - 26], ["x", 3 * MiB - 27], ["x", 3 * MiB - 26],
  ["x", 4 * MiB - 27], ["x", 4 * MiB - 26],
  ["файл пример.dat", 5000], ["", 300], ["seven.bin", 7 * MiB - 100],
]
for (const [i, [name, size]] of fileCases.entries()) {
  const key = bytes(32, 11 + i), nonce = bytes(24, 13 + i)
  const src = bytes(size, 7 + i)
  const hdr = encodeFileHeader({fileName: name, fileExtra: null})
  const fileSize = BigInt(hdr.length + size)
  const chunkSizes = prepareChunkSizes(Number(fileSize) + fileSizeLen + authTagSize)
  const encSize = chunkSizes.reduce((a, b) => a + b, 0)
  const enc = encryptFile(src, hdr, key, nonce, fileSize, BigInt(encSize))
  const chunkDigests = []
  let off = 0
  for (const s of chunkSizes) { chunkDigests.push(hex(sha256(enc.subarray(off, off + s)))); off += s }
  // Check our vector decrypts with xftp-web itself.
  const dec = decryptChunks(BigInt(encSize), [enc], key, nonce)
  if (dec.header.fileName !== name || Buffer.compare(Buffer.from(dec.content), Buffer.from(src)) !== 0)
    throw new Error("xftp-web does not decrypt its own vector " + i)
  const v = {name, size, seed: 7 + i, key: hex(key), nonce: hex(nonce), header: hex(hdr),
    chunkSizes, encSize, digest: hex(sha512Streaming([enc])), chunkDigests}
  if (encSize <= 256 * KiB) {
    v.encFile = `file-${i}.enc`
    writeFileSync(join(out, v.encFile), enc)
  }
  files.push(v)
}
writeFileSync(join(out, "files.json"), JSON.stringify(files, null, 1) + "\n")

// 3. Descriptions: YAML and the web-link fragment (DEFLATE output differs
// between compressors, so Go compares decoded fragments, not bytes).
const kh = seed => base64urlEncode(bytes(32, seed))
const srv = (seed, host) => `xftp://${kh(seed)}@${host}`
const rkey = seed => encodePrivKeyEd25519(ed25519KeyPairFromSeed(bytes(32, seed)).privateKey)
function chunk(no, size, reps) {
  return {chunkNo: no, chunkSize: size, digest: sha256(bytes(16, 100 + no)),
    replicas: reps.map(([server, seed]) => ({server, replicaId: bytes(16, seed), replicaKey: rkey(seed)}))}
}
function desc(party, chunkSize, chunks, redirect = null, seed = 1) {
  return {party, size: chunks.reduce((a, c) => a + c.chunkSize, 0),
    digest: sha512Streaming([bytes(64, seed)]), key: bytes(32, seed + 1), nonce: bytes(24, seed + 2),
    chunkSize, chunks, redirect}
}
// Server orders that TypeScript (string order) and Haskell (host, port,
// key hash) agree on: the key hash grows with the host.
const A = srv(3, "a.example.com"), B = srv(5, "b.example.com:5443"), C = srv(9, "c.example.com")
const L1 = srv(21, "127.0.0.1:10001"), L2 = srv(21, "127.0.0.1:10002")
const descs = {
  "one-chunk": desc("recipient", 64 * KiB, [chunk(1, 64 * KiB, [[A, 1]])]),
  "seven-mib": desc("recipient", 4 * MiB, [chunk(1, 4 * MiB, [[A, 1]]), chunk(2, MiB, [[B, 2]]),
    chunk(3, MiB, [[A, 3]]), chunk(4, MiB, [[C, 4]])], null, 2),
  "sender": desc("sender", MiB, [chunk(1, MiB, [[L2, 5]]), chunk(2, MiB, [[L1, 6]]),
    chunk(3, 256 * KiB, [[L1, 7]])], null, 3),
  "replicas": desc("recipient", 4 * MiB, [chunk(1, 4 * MiB, [[A, 1], [C, 11]]),
    chunk(2, 4 * MiB, [[B, 2], [C, 12]]), chunk(3, 4 * MiB, [[A, 3], [B, 13]]),
    chunk(4, MiB, [[B, 4], [C, 14]])], null, 4),
  "redirect": desc("recipient", 64 * KiB, [chunk(1, 64 * KiB, [[B, 8]])],
    {size: 30 * MiB + 4 * MiB, digest: sha512Streaming([bytes(10, 77)])}, 5),
}
const descOut = {}
for (const [name, fd] of Object.entries(descs)) {
  const yaml = encodeFileDescription(fd)
  writeFileSync(join(out, `desc-${name}.yaml`), yaml)
  if (fd.party === "recipient") writeFileSync(join(out, `desc-${name}.fragment`), encodeDescriptionURI(fd) + "\n")
  const back = decodeFileDescription(yaml)
  if (encodeFileDescription(back) !== yaml) throw new Error("xftp-web does not round-trip " + name)
  descOut[name] = {
    party: fd.party, size: fd.size, digest: hex(fd.digest), key: hex(fd.key), nonce: hex(fd.nonce),
    chunkSize: fd.chunkSize,
    redirect: fd.redirect && {size: fd.redirect.size, digest: hex(fd.redirect.digest)},
    chunks: fd.chunks.map(c => ({no: c.chunkNo, size: c.chunkSize, digest: hex(c.digest),
      replicas: c.replicas.map(r => ({server: r.server, id: hex(r.replicaId), key: hex(r.replicaKey)}))})),
  }
}
writeFileSync(join(out, "descs.json"), JSON.stringify(descOut, null, 1) + "\n")
console.log(`wrote ${payloads.length} plans, ${files.length} files, ${Object.keys(descs).length} descriptions to ${out}`)
