// Our page script for TestXFTPWebInBrowser: it drives SimpleX's xftp-web
// client (served from the test's page origin, see xftpweb_test.go) against
// an xftpd on another origin. Every call resolves to {ok} or {error}, so the
// test reads failures as values.
import {
  newXFTPAgent, closeXFTPAgent, encryptFileForUpload, uploadFile, downloadFile, deleteFile,
  encodeDescriptionURI, decodeDescriptionURI,
} from "/dist/agent.js"
import {pingXFTP} from "/dist/client.js"
import {parseXFTPServer} from "/dist/protocol/address.js"

async function withAgent(f) {
  const agent = newXFTPAgent()
  try {
    return {ok: await f(agent)}
  } catch (e) {
    return {error: `${e && e.name}: ${e && e.message}`}
  } finally {
    closeXFTPAgent(agent)
  }
}

// upload fetches the test's file from this page's origin, encrypts it and
// uploads it to the relay at address.
function upload(address, name) {
  return withAgent(async agent => {
    const resp = await fetch("/input")
    if (!resp.ok) throw new Error(`GET /input: ${resp.status}`)
    const data = new Uint8Array(await resp.arrayBuffer())
    const enc = encryptFileForUpload(data, name)
    const {uri, sndDescription} = await uploadFile(agent, [parseXFTPServer(address)], enc)
    return {uri, snd: encodeDescriptionURI(sndDescription), chunks: enc.chunkSizes.length}
  })
}

// download fetches and decrypts the file of a description URI and posts
// its bytes back to this page's origin for the test to compare.
function download(uri) {
  return withAgent(async agent => {
    const {header, content} = await downloadFile(agent, decodeDescriptionURI(uri))
    const resp = await fetch("/result", {method: "POST", body: content})
    if (!resp.ok) throw new Error(`POST /result: ${resp.status}`)
    return {name: header.fileName, size: content.length}
  })
}

// remove deletes the chunks of a sender description.
function remove(snd) {
  return withAgent(async agent => {
    await deleteFile(agent, decodeDescriptionURI(snd))
    return "deleted"
  })
}

// ping connects (hello, handshake) and sends PING.
function ping(address) {
  return withAgent(async agent => {
    await pingXFTP(agent, parseXFTPServer(address))
    return "PONG"
  })
}

window.xftpTest = {upload, download, remove, ping}
