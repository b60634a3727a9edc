package h2guard

import (
	"bytes"
	"io"
	"testing"

	"golang.org/x/net/http2"
)

// reference parses frames with x/net's frame header reader.
func reference(p []byte) []frame {
	var out []frame
	r := bytes.NewReader(p)
	for {
		h, err := http2.ReadFrameHeader(r)
		if err != nil {
			return out
		}
		payload := p[len(p)-r.Len():]
		f := frame{typ: uint8(h.Type), flags: uint8(h.Flags), length: h.Length, stream: h.StreamID}
		n := prefixLen(f.typ, f.flags, f.length)
		if uint32(len(payload)) < n {
			return out // the scanner reports a frame once its prefix is in
		}
		copy(f.prefix[:], payload[:n])
		out = append(out, f)
		if uint32(len(payload)) < h.Length {
			return out
		}
		r.Seek(int64(h.Length), 1)
	}
}

func scanAll(p []byte, step int) []frame {
	var out []frame
	s := newScanner(0)
	for len(p) > 0 {
		n := min(step, len(p))
		s.feed(p[:n], func(f *frame) error { out = append(out, *f); return nil })
		p = p[n:]
	}
	return out
}

func equalFrames(a, b []frame) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func frames(t testing.TB, write func(*http2.Framer)) []byte {
	var buf bytes.Buffer
	write(http2.NewFramer(&buf, nil))
	return buf.Bytes()
}

func FuzzScanner(f *testing.F) {
	f.Add(frames(f, func(fr *http2.Framer) {
		fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1})
		fr.WriteData(1, false, nil)
		fr.WriteDataPadded(3, true, []byte("x"), []byte{0, 0})
		fr.WriteRSTStream(5, http2.ErrCodeStreamClosed)
		fr.WriteWindowUpdate(0, 7)
		fr.WritePing(true, [8]byte{1})
	}), 1)
	f.Add([]byte{0, 0, 1, 3, 0, 0, 0, 0, 1, 9}, 3)
	f.Fuzz(func(t *testing.T, p []byte, step int) {
		if step <= 0 || step > len(p)+1 {
			step = len(p) + 1
		}
		want := reference(p)
		whole := scanAll(p, len(p)+1)
		if !equalFrames(whole, want) {
			t.Fatalf("scanner %v, x/net %v", whole, want)
		}
		if pieces := scanAll(p, step); !equalFrames(pieces, want) {
			t.Fatalf("in pieces of %d: scanner %v, x/net %v", step, pieces, want)
		}
	})
}

func TestScannerPrefaceAndBoundary(t *testing.T) {
	p := append([]byte(http2.ClientPreface), frames(t, func(fr *http2.Framer) {
		fr.WriteDataPadded(1, false, nil, make([]byte, 10))
		fr.WriteRSTStream(1, http2.ErrCodeCancel)
	})...)
	s := newScanner(prefaceLen)
	var got []frame
	for i := range p {
		s.feed(p[i:i+1], func(f *frame) error { got = append(got, *f); return nil })
		if end := i + 1; s.atBoundary() != (end == prefaceLen || end == prefaceLen+9+11 || end == len(p)) {
			t.Fatalf("after %d bytes: atBoundary %v", end, s.atBoundary())
		}
	}
	if len(got) != 2 || !got[0].empty() || got[1].errCode() != uint32(http2.ErrCodeCancel) {
		t.Fatalf("frames %+v", got)
	}
}

// FuzzConn feeds a guarded connection arbitrary bytes both ways: it may
// close the connection, never panic.
func FuzzConn(f *testing.F) {
	f.Add([]byte(http2.ClientPreface), []byte{0, 0, 4, 3, 0, 0, 0, 0, 1, 0, 0, 0, 8}, false)
	f.Add(frames(f, func(fr *http2.Framer) {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: []byte{0x82}, EndStream: true, EndHeaders: true})
		fr.WriteData(1, false, []byte{1})
		fr.WriteWindowUpdate(1, 0x7fffffff)
		fr.WritePriority(3, http2.PriorityParam{StreamDep: 3})
	}), []byte{}, true)
	f.Fuzz(func(t *testing.T, in, out []byte, sawPreface bool) {
		pc := &pipeConn{}
		pc.r.Reset(in)
		c := Wrap(pc, nil, sawPreface)
		io.Copy(io.Discard, c)
		c.Write(out)
	})
}
