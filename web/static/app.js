// The xftp download page. All cryptography happens in the WebAssembly
// module (web/wasm, our own Go code); this file only does I/O: fetch() to
// the relays named in the link, streaming response bodies into the module,
// and writing the plaintext it hands back to the file being saved.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const PARALLEL = 4; // chunks in flight after the first
  const TRANSPORT_OVERHEAD = 65536 / 65520; // per-download STREAM tags

  class Blocked extends Error {}

  function show(id, text) {
    const el = $(id);
    if (text !== undefined) el.textContent = text;
    el.hidden = false;
  }

  function status(text) { $('status').textContent = text; }

  function fail(err) {
    $('progress').hidden = true;
    $('save').hidden = true;
    if (err instanceof Blocked) {
      status('This file is not available.');
      show('blocked', 'The file cannot be downloaded: ' + err.message);
    } else {
      status('The download failed.');
      show('error', String(err && err.message ? err.message : err));
    }
  }

  function humanSize(n) {
    const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n : n.toFixed(1)) + ' ' + units[i];
  }

  // must turns a module result {error} into an exception.
  function must(r) {
    if (r.error) throw new Error(r.error);
    return r;
  }

  async function loadModule() {
    if (typeof WebAssembly !== 'object' || typeof Go !== 'function') {
      throw new Error('This browser cannot run WebAssembly, which this page needs to decrypt the file.');
    }
    const go = new Go();
    let inst;
    try {
      ({ instance: inst } = await WebAssembly.instantiateStreaming(fetch('xftp.wasm'), go.importObject));
    } catch (e) {
      throw new Error('Could not load the decryption module: ' + e.message);
    }
    go.run(inst); // runs main until it waits; it has set globalThis.xftp
    if (!globalThis.xftp) throw new Error('The decryption module did not start.');
    return globalThis.xftp;
  }

  async function main() {
    const link = decodeURIComponent(location.hash.slice(1));
    if (!link) throw new Error('This link is incomplete: the part after “#” is missing. Copy the whole link.');
    // The link holds the file key: keep it out of the browser's history
    // (and of what a later script on this origin could read from it).
    // Reloading the page then needs the link again.
    history.replaceState(null, '', location.pathname + location.search);
    const x = await loadModule();
    const summary = JSON.parse(must(x.open(link)).summary);
    const total = summary.encrypted_size * TRANSPORT_OVERHEAD;
    let received = 0;

    const progress = $('progress');
    const tick = (n) => {
      received += n;
      progress.value = Math.min(1000, Math.round(1000 * received / total));
    };

    // Identity: a browser cannot pin a TLS key, so each relay proves its
    // identity key (pinned by the fingerprint in the link) by signing a
    // random challenge, once per page.
    const identities = new Map();
    function verified(server) {
      if (!identities.has(server)) {
        identities.set(server, (async () => {
          const req = must(x.identityRequest(server));
          let resp;
          try {
            resp = await fetch(req.url, { mode: 'cors', credentials: 'omit', cache: 'no-store', referrerPolicy: 'no-referrer' });
          } catch (e) {
            throw new Error(unreachable(req.host));
          }
          if (!resp.ok) throw new Error(x.refusal(req.host, resp.status, await resp.text()).message);
          must(x.verifyIdentity(server, req.challenge, await resp.text()));
        })());
      }
      return identities.get(server);
    }

    // writes queues the plaintext the module produced for the sink; until
    // the user picked where to save, it is held in memory (chunk 0 only).
    let sink = null;
    const held = [];
    let writing = Promise.resolve();
    function flush() {
      const ws = must(x.take()).writes;
      for (const w of ws) {
        if (sink) {
          const s = sink;
          writing = writing.then(() => s.write(w.offset, w.data));
        } else {
          held.push(w);
        }
      }
      return writing;
    }

    // fetchChunk downloads data chunk i from its first replica that
    // serves it.
    async function fetchChunk(i) {
      const replicas = summary.chunks[i].replicas;
      let lastError = null;
      let blocked = null;
      for (let r = 0; r < replicas.length; r++) {
        try {
          await verified(replicas[r]);
          await fetchReplica(i, r, true);
          return;
        } catch (e) {
          if (e instanceof Blocked) blocked = blocked || e;
          else lastError = e;
        }
      }
      if (blocked) throw blocked;
      if (summary.parity_chunks > 0) {
        throw new Error(lastError.message + '. This file has parity chunks, which this page does not use yet; the xftp program can rebuild the missing chunk.');
      }
      throw lastError;
    }

    async function fetchReplica(i, r, mayRetry) {
      const req = must(x.request(i, r));
      let resp;
      try {
        resp = await fetch(req.url, {
          method: 'POST', mode: 'cors', credentials: 'omit', cache: 'no-store', referrerPolicy: 'no-referrer',
          headers: { 'Xftp-Auth': req.auth, 'Content-Type': 'application/json' },
          body: req.body,
        });
      } catch (e) {
        x.close(req.id, true);
        throw new Error(unreachable(req.host));
      }
      if (resp.status === 451) {
        const v = x.blocked(req.id, await resp.text());
        if (v.blocked) throw new Blocked(v.blocked);
        throw new Error(v.error);
      }
      if (!resp.ok) {
        const body = await resp.text();
        x.close(req.id, true);
        if (resp.status === 401 && mayRetry && resp.headers.get('Date') && !x.setServerTime(resp.headers.get('Date')).error) {
          return fetchReplica(i, r, false); // our clock was off: retry with the server's
        }
        throw new Error(x.refusal(req.host, resp.status, body).message);
      }
      const started = x.start(req.id, resp.headers.get('Xftp-Server-Key') || '',
        resp.headers.get('Xftp-Key-Signature') || '', Number(resp.headers.get('Content-Length') || -1));
      if (started.error) {
        resp.body.cancel();
        throw new Error(started.error);
      }
      const reader = resp.body.getReader();
      let n = 0;
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          must(x.push(req.id, value));
          n += value.length;
          tick(value.length);
          await flush();
        }
      } catch (e) {
        tick(-n);
        x.close(req.id, true);
        reader.cancel().catch(() => {});
        if (e instanceof TypeError) throw new Error('The connection to ' + req.host + ' was cut.');
        throw e;
      }
      const closed = x.close(req.id);
      if (closed.error) {
        tick(-n);
        throw new Error(closed.error);
      }
      await flush();
    }

    const sizeLine = (h) => humanSize(h.size);
    status('Checking the link…');
    progress.hidden = false;
    await fetchChunk(0); // its header names the file
    const header = must(x.header());
    show('file');
    $('name').textContent = header.name;
    $('size').textContent = '(' + sizeLine(header) + ')';

    const canPick = typeof globalThis.showSaveFilePicker === 'function';
    if (!canPick) {
      show('hint', 'This browser keeps the whole file in memory until it is saved' +
        (header.size > 512 * 1024 * 1024 ? '; for a file this large the xftp program, or a browser with the File System Access API (Chrome, Edge), is safer.' : '.'));
    }
    status('Ready to save.');
    const save = $('save');
    save.hidden = false;
    await new Promise((resolve, reject) => {
      save.addEventListener('click', async () => {
        save.disabled = true;
        try {
          sink = canPick ? await fileSink(header.name) : blobSink(header.name);
          resolve();
        } catch (e) {
          save.disabled = false;
          if (e && e.name === 'AbortError') return; // the user closed the dialog
          reject(e);
        }
      });
    });
    save.hidden = true;
    status('Downloading…');
    for (const w of held.splice(0)) writing = writing.then(() => sink.write(w.offset, w.data));

    let next = 1;
    let stop = false;
    const workers = [];
    for (let k = 0; k < Math.min(PARALLEL, summary.chunks.length - 1); k++) {
      workers.push((async () => {
        while (!stop && next < summary.chunks.length) {
          try {
            await fetchChunk(next++);
          } catch (e) {
            stop = true;
            throw e;
          }
        }
      })());
    }
    try {
      await Promise.all(workers);
      await writing;
      await sink.finish(header.size);
    } catch (e) {
      sink.abort();
      throw e;
    }
    progress.value = progress.max;
    status('Done.');
    show('done', 'Saved “' + header.name + '” (' + sizeLine(header) + ').');
  }

  function unreachable(host) {
    return 'Could not reach ' + host + ': it is down, blocked by this network, or its certificate is not trusted by this browser.';
  }

  // fileSink streams to a file the user picked (File System Access API).
  async function fileSink(name) {
    const handle = await globalThis.showSaveFilePicker({ suggestedName: name });
    const w = await handle.createWritable();
    return {
      write: (position, data) => w.write({ type: 'write', position, data }),
      finish: async (size) => { await w.truncate(size); await w.close(); },
      abort: () => { w.abort().catch(() => {}); },
    };
  }

  // blobSink keeps the file in memory and hands it to the browser's
  // download manager at the end (browsers without File System Access).
  function blobSink(name) {
    const parts = [];
    return {
      write: (position, data) => { parts.push({ position, data }); },
      finish: (size) => {
        parts.sort((a, b) => a.position - b.position);
        const pieces = [];
        let at = 0;
        for (const p of parts) {
          if (p.position !== at) throw new Error('internal error: a gap in the file at byte ' + at);
          const keep = Math.max(0, Math.min(p.data.length, size - at));
          if (keep > 0) pieces.push(keep === p.data.length ? p.data : p.data.subarray(0, keep));
          at += p.data.length;
        }
        const url = URL.createObjectURL(new Blob(pieces, { type: 'application/octet-stream' }));
        const a = document.createElement('a');
        a.href = url;
        a.download = name;
        a.textContent = 'Save “' + name + '” again';
        a.id = 'again';
        document.querySelector('main').insertBefore(a, $('done').nextSibling);
        a.click();
        parts.length = 0;
      },
      abort: () => { parts.length = 0; },
    };
  }

  main().catch(fail);
})();
