// Generates ../seal.txt and checks ../plan.txt: the file-format vectors of
// docs/PROTOCOL.md §8 (header, chunk plan, STREAM, chunk digests), with
// Node's own crypto (node:crypto). It is written from the document, not
// from the Go code: chunk's TestSealVectors and TestPlanVectors check our
// implementation against what it writes and confirms.
//
//   node chunk/testdata/gen/gen.mjs     (Node 20 or later; no packages)
//
// plan.txt was worked by hand from the rule; this script fails if its own
// Plan disagrees with any line, and rewrites seal.txt (the same bytes on
// every run: key and file contents are fixed).

import {readFileSync, writeFileSync} from "node:fs"
import {fileURLToPath} from "node:url"
import {hex, run, sha256, streamSeal, SEG} from "../../../internal/dlcrypt/testdata/gen/gen.mjs"

const file = name => fileURLToPath(new URL("../" + name, import.meta.url))
const KiB = 1024, MiB = 1024 * KiB, SSEG = SEG + 16

// Plan(p) of §8.2, large chunks first.
function plan(p) {
  const [small, large] = p > 3 * MiB ? [MiB, 4 * MiB] : p > 768 * KiB ? [256 * KiB, MiB] : [64 * KiB, 256 * KiB]
  if (p <= 0) return [small]
  const n = Math.floor(p / large), r = p - n * large
  if (r > 3 / 4 * large) return Array(n + 1).fill(large)
  return Array(n).fill(large).concat(Array(r > 0 ? Math.ceil(r / small) : 0).fill(small))
}

// plan.txt's notation: "1MiB+768KiB+1 -> 1MiB 256KiB*3".
const amount = s => s.split("+").reduce((t, term) => {
  const m = /^(\d+)(KiB|MiB)?$/.exec(term)
  if (!m) throw new Error("bad amount " + s)
  return t + Number(m[1]) * (m[2] === "KiB" ? KiB : m[2] === "MiB" ? MiB : 1)
}, 0)
let checked = 0
for (const line of readFileSync(file("plan.txt"), "utf8").split("\n")) {
  if (!line.trim() || line.startsWith("#")) continue
  const [input, output] = line.split(" -> ")
  const want = output.trim().split(/\s+/).flatMap(item => {
    const [size, count = "1"] = item.split("*")
    return Array(Number(count)).fill(amount(size))
  })
  const got = plan(amount(input))
  if (got.join() !== want.join()) throw new Error(`plan.txt: ${line}: Plan gives ${got.join(" ")}`)
  checked++
}
if (checked === 0) throw new Error("plan.txt has no vectors")

// §8.1-8.3: header || file || zeros to N × SEG, sealed as one STREAM under
// the file key, cut into chunks of the planned sizes; a digest is the
// SHA-256 of a chunk.
function chunkDigests(key, name, data) {
  const segments = Math.ceil((512 + data.length) / SEG)
  const sizes = plan(segments * SSEG)
  const total = sizes.reduce((a, b) => a + b, 0)
  const plain = Buffer.alloc(total / SSEG * SEG)
  plain[0] = 1
  plain.writeBigUInt64BE(BigInt(data.length), 1)
  plain.writeUInt16BE(Buffer.byteLength(name), 9)
  plain.write(name, 11)
  data.copy(plain, 512)
  const sealed = streamSeal(key, plain)
  if (sealed.length !== total) throw new Error("sealed size")
  let off = 0
  return sizes.map(s => hex(sha256(sealed.subarray(off, off += s))))
}

const files = [[0, "empty"], [1, "a"], [65008, "one-segment.bin"], [65009, "two-segments.bin"],
  [1048576, "photo.jpg"], [7340032, "video.mp4"]]
let out = `# Sealing vectors: file size, name, then the SHA-256 of every encrypted
# chunk in order (as many as the plan gives). The key is the bytes
# 00 01 02 ... 1f; byte i of the file is i mod 251. Any change here is a
# change of the encryption format. Made by testdata/gen/gen.mjs with
# node:crypto from docs/PROTOCOL.md §8.
`
for (const [size, name] of files) {
  const data = Buffer.from(Array.from({length: size}, (_, i) => i % 251))
  out += `${size} ${name} ${chunkDigests(run(0x00), name, data).join(" ")}\n`
}
writeFileSync(file("seal.txt"), out)
