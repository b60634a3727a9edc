//go:build js && wasm

// Command wasm is the browser download page's WebAssembly module: it puts
// package recv behind a global object, xftp, for web/static/app.js. It is
// built by 'go generate ./web' into web/static/xftp.wasm.gz.
//
// Every function returns a plain object; a failure is {error: "..."},
// never a thrown exception, so the page shows every error the same way.
package main

import (
	"encoding/json"
	"errors"
	"syscall/js"
	"time"

	"github.com/xftp/xftp/blocklist"
	"github.com/xftp/xftp/web/recv"
)

var (
	session   *recv.Session
	downloads = map[int]*recv.Download{}
	nextID    = 1
)

func main() {
	api := map[string]any{
		"open":            fn(open),
		"identityRequest": fn(identityRequest),
		"verifyIdentity":  fn(verifyIdentity),
		"setServerTime":   fn(setServerTime),
		"request":         fn(request),
		"start":           fn(start),
		"push":            fn(push),
		"close":           fn(closeDownload),
		"blocked":         fn(blocked),
		"refusal":         fn(refusal),
		"take":            fn(take),
		"header":          fn(header),
	}
	js.Global().Set("xftp", js.ValueOf(api))
	select {} // keep the functions alive
}

type result = map[string]any

func fn(f func(args []js.Value) result) js.Func {
	return js.FuncOf(func(_ js.Value, args []js.Value) any {
		return js.ValueOf(f(args))
	})
}

func fail(err error) result { return result{"error": err.Error()} }

var errNoSession = errors.New("no file opened")

func open(a []js.Value) result {
	s, err := recv.Open(a[0].String())
	if err != nil {
		return fail(err)
	}
	session = s
	b, _ := json.Marshal(s.Summary())
	return result{"summary": string(b)}
}

func identityRequest(a []js.Value) result {
	if session == nil {
		return fail(errNoSession)
	}
	url, ch, err := session.IdentityRequest(a[0].String())
	if err != nil {
		return fail(err)
	}
	return result{"url": url, "challenge": bytesToJS(ch), "host": session.Host(a[0].String())}
}

func verifyIdentity(a []js.Value) result {
	if session == nil {
		return fail(errNoSession)
	}
	if err := session.VerifyIdentity(a[0].String(), bytesFromJS(a[1]), []byte(a[2].String())); err != nil {
		return fail(err)
	}
	return result{}
}

func setServerTime(a []js.Value) result {
	t, err := time.Parse(time.RFC1123, a[0].String()) // an HTTP Date (GMT)
	if err != nil || session == nil {
		return fail(errors.New("no usable server time"))
	}
	session.SetServerTime(t)
	return result{}
}

func request(a []js.Value) result {
	if session == nil {
		return fail(errNoSession)
	}
	d, req, err := session.NewDownload(a[0].Int(), a[1].Int())
	if err != nil {
		return fail(err)
	}
	id := nextID
	nextID++
	downloads[id] = d
	return result{"id": id, "url": req.URL, "auth": req.Auth, "body": req.Body, "host": d.Host()}
}

func download(v js.Value) (*recv.Download, error) {
	d, ok := downloads[v.Int()]
	if !ok {
		return nil, errors.New("no such download")
	}
	return d, nil
}

func start(a []js.Value) result {
	d, err := download(a[0])
	if err != nil {
		return fail(err)
	}
	if err := d.Start(a[1].String(), a[2].String(), int64(a[3].Float())); err != nil {
		delete(downloads, a[0].Int())
		return fail(err)
	}
	return result{}
}

func push(a []js.Value) result {
	d, err := download(a[0])
	if err != nil {
		return fail(err)
	}
	if _, err := d.Write(bytesFromJS(a[1])); err != nil {
		d.Abort()
		delete(downloads, a[0].Int())
		return fail(err)
	}
	return result{}
}

func closeDownload(a []js.Value) result {
	d, err := download(a[0])
	if err != nil {
		return fail(err)
	}
	delete(downloads, a[0].Int())
	if len(a) > 1 && a[1].Bool() { // aborted by the page
		d.Abort()
		return result{}
	}
	if err := d.Close(); err != nil {
		return fail(err)
	}
	return result{}
}

// blocked verifies a 451 body: {blocked: "blocked by ... for ..."} for a
// verified record, {error: ...} for anything else.
func blocked(a []js.Value) result {
	d, err := download(a[0])
	if err != nil {
		return fail(err)
	}
	delete(downloads, a[0].Int())
	err = d.Blocked([]byte(a[1].String()))
	var be *blocklist.BlockedError
	if errors.As(err, &be) {
		return result{"blocked": be.Error() + " (server " + d.Host() + ")"}
	}
	return fail(err)
}

func refusal(a []js.Value) result {
	return result{"message": recv.DescribeRefusal(a[0].String(), a[1].Int(), []byte(a[2].String()))}
}

// take returns {writes: [{offset, data: Uint8Array}, ...]}.
func take(_ []js.Value) result {
	if session == nil {
		return fail(errNoSession)
	}
	ws := session.TakeWrites()
	out := make([]any, len(ws))
	for i, w := range ws {
		out[i] = map[string]any{"offset": float64(w.Offset), "data": bytesToJS(w.Data)}
	}
	return result{"writes": out}
}

func header(_ []js.Value) result {
	if session == nil {
		return fail(errNoSession)
	}
	h, err := session.Header()
	if err != nil {
		return fail(err)
	}
	return result{"name": h.Name, "size": float64(h.Size)}
}

func bytesToJS(b []byte) js.Value {
	u := js.Global().Get("Uint8Array").New(len(b))
	js.CopyBytesToJS(u, b)
	return u
}

func bytesFromJS(v js.Value) []byte {
	b := make([]byte, v.Get("length").Int())
	js.CopyBytesToGo(b, v)
	return b
}
