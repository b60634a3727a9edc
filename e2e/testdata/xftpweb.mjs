// SimpleX's own TypeScript client (xftp-web, built: see
// ../../../shared/xftp-web/README.md) as the other side of xftp's SimpleX
// interop tests (simplex_test.go):
//
//   node xftpweb.mjs XW upload 'xftp://KEYHASH@HOST:PORT' FILE OUTDIR
//        -> OUTDIR/rcv.yaml, OUTDIR/snd.yaml, OUTDIR/link.txt (https://HOST:PORT/#FRAGMENT)
//   node xftpweb.mjs XW download LINK-OR-FRAGMENT OUTFILE   -> prints the file's name
//   node xftpweb.mjs XW delete SND.yaml
//   node xftpweb.mjs XW download-many LINK OUTFILE [LINK OUTFILE ...]
//   node xftpweb.mjs XW upload-many 'xftp://…' FILE OUTDIR [FILE OUTDIR ...]
//        (one process for many files: Node and libsodium start once)
//
// XW is the built xftp-web folder. Exit 0 means success.
import {readFileSync, writeFileSync} from "node:fs"
import {basename, join} from "node:path"
import {pathToFileURL} from "node:url"

const [xw, op, ...args] = process.argv.slice(2)
const imp = p => import(pathToFileURL(join(xw, "dist", p)).href)
// xftp-web's Node transport has no 'error' listener on its http2 session:
// report such errors instead of crashing silently.
process.on("uncaughtException", e => { console.error("xftpweb: " + (e && e.stack || e)); process.exit(1) })
process.on("unhandledRejection", e => { console.error("xftpweb: " + (e && e.stack || e)); process.exit(1) })
const agentMod = await imp("agent.js")
const {newXFTPAgent, closeXFTPAgent, encryptFileForUpload, uploadFile, downloadFile, deleteFile,
  decodeDescriptionURI} = agentMod
const {encodeFileDescription, decodeFileDescription} = await imp("protocol/description.js")
const {parseXFTPServer} = await imp("protocol/address.js")
// Keep stdout for results: xftp-web logs debug lines with console.log.
const log = console.log
console.log = (...a) => console.error(...a)

const agent = newXFTPAgent()
try {
  const upload = async (server, file, out) => {
    const data = new Uint8Array(readFileSync(file))
    const enc = encryptFileForUpload(data, basename(file))
    const r = await uploadFile(agent, [parseXFTPServer(server)], enc)
    writeFileSync(join(out, "rcv.yaml"), encodeFileDescription(r.rcvDescription))
    writeFileSync(join(out, "snd.yaml"), encodeFileDescription(r.sndDescription))
    const s = parseXFTPServer(server)
    writeFileSync(join(out, "link.txt"), `https://${s.host}:${s.port}/#${r.uri}\n`)
  }
  const download = async (link, outFile) => {
    const frag = link.includes("#") ? link.slice(link.indexOf("#") + 1) : link
    const fd = decodeDescriptionURI(frag)
    const {header, content} = await downloadFile(agent, fd)
    writeFileSync(outFile, content)
    log(header.fileName)
  }
  if (op === "upload") {
    await upload(...args)
  } else if (op === "upload-many") {
    for (let i = 1; i + 1 < args.length; i += 2) await upload(args[0], args[i], args[i + 1])
  } else if (op === "download") {
    await download(...args)
  } else if (op === "download-many") {
    for (let i = 0; i + 1 < args.length; i += 2) await download(args[i], args[i + 1])
  } else if (op === "delete") {
    await deleteFile(agent, decodeFileDescription(readFileSync(args[0], "utf8")))
  } else {
    throw new Error("unknown operation " + op)
  }
} finally {
  closeXFTPAgent(agent)
}
process.exit(0)
