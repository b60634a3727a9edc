package h2guard

// HTTP/2 frame types and flags (RFC 9113 section 6).
const (
	frameData         = 0x0
	frameHeaders      = 0x1
	framePriority     = 0x2
	frameRSTStream    = 0x3
	frameSettings     = 0x4
	framePushPromise  = 0x5
	framePing         = 0x6
	frameGoAway       = 0x7
	frameWindowUpdate = 0x8
	frameContinuation = 0x9

	flagEndStream = 0x1
	flagPadded    = 0x8

	frameHeaderLen = 9
	prefaceLen     = 24 // "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
)

// frame is what the scanner reports of one frame: its header and the
// first bytes of its payload where they matter (padding length, error
// code).
type frame struct {
	typ, flags uint8
	length     uint32
	stream     uint32
	// prefix holds the payload's first prefixLen bytes.
	prefix [4]byte
}

// prefixLen is how many payload bytes the scanner keeps of a frame: the
// pad length of padded DATA and HEADERS, the error code of RST_STREAM, the
// increment of WINDOW_UPDATE, the dependency of PRIORITY.
func prefixLen(typ, flags uint8, length uint32) uint32 {
	var n uint32
	switch typ {
	case frameData, frameHeaders:
		if flags&flagPadded != 0 {
			n = 1
		}
	case frameRSTStream, frameWindowUpdate, framePriority:
		n = 4
	}
	return min(n, length)
}

// empty reports whether f carries no data: DATA without data (padding
// aside), HEADERS or CONTINUATION without a header block fragment.
// (HEADERS with a priority field count as not empty.)
func (f *frame) empty() bool {
	switch f.typ {
	case frameData, frameHeaders:
		if f.flags&flagPadded != 0 {
			return f.length <= 1+uint32(f.prefix[0])
		}
		return f.length == 0
	case frameContinuation:
		return f.length == 0
	}
	return false
}

// errCode is an RST_STREAM's error code (0 if it had none).
func (f *frame) errCode() uint32 {
	return uint32(f.prefix[0])<<24 | uint32(f.prefix[1])<<16 | uint32(f.prefix[2])<<8 | uint32(f.prefix[3])
}

// word31 is the 31-bit value that starts the payload: a WINDOW_UPDATE's
// increment, a PRIORITY's stream dependency.
func (f *frame) word31() uint32 { return f.errCode() & (1<<31 - 1) }

// scanner finds the frames in one direction of an HTTP/2 connection from
// the bytes as they pass, in pieces of any size. It keeps a frame's header
// and prefix only; the rest of a payload is skipped by counting.
type scanner struct {
	skip   int // bytes still to pass before the next frame header (the preface)
	hdr    [frameHeaderLen]byte
	nhdr   int
	f      frame
	npre   uint32 // prefix bytes held
	want   uint32 // prefix bytes wanted
	remain uint32 // payload bytes after the prefix still to skip
	inBody bool   // f's header is complete
	// reported: on has seen f.
	reported bool
}

// newScanner returns a scanner for a direction that starts with skip
// bytes before its first frame (the client preface, or 0).
func newScanner(skip int) *scanner { return &scanner{skip: skip} }

// atBoundary reports whether the bytes so far end with a whole frame, so
// that a frame may be written next.
func (s *scanner) atBoundary() bool { return s.skip == 0 && s.nhdr == 0 && !s.inBody }

// feed passes p through the scanner and calls on for each frame as soon as
// its header and prefix are complete. It stops early and returns on's
// error.
func (s *scanner) feed(p []byte, on func(*frame) error) error {
	if s.skip > 0 {
		n := min(s.skip, len(p))
		s.skip -= n
		p = p[n:]
	}
	for len(p) > 0 {
		if !s.inBody {
			n := copy(s.hdr[s.nhdr:], p)
			s.nhdr += n
			p = p[n:]
			if s.nhdr < frameHeaderLen {
				return nil
			}
			s.nhdr = 0
			h := s.hdr
			s.f = frame{
				length: uint32(h[0])<<16 | uint32(h[1])<<8 | uint32(h[2]),
				typ:    h[3], flags: h[4],
				stream: (uint32(h[5])<<24 | uint32(h[6])<<16 | uint32(h[7])<<8 | uint32(h[8])) & (1<<31 - 1),
			}
			s.want = prefixLen(s.f.typ, s.f.flags, s.f.length)
			s.npre = 0
			s.remain = s.f.length - s.want
			s.inBody = true
			s.reported = false
		}
		if s.npre < s.want {
			n := copy(s.f.prefix[s.npre:s.want], p)
			s.npre += uint32(n)
			p = p[n:]
			if s.npre < s.want {
				return nil
			}
		}
		if !s.reported {
			s.reported = true
			if err := on(&s.f); err != nil {
				return err
			}
		}
		n := min(uint32(len(p)), s.remain)
		s.remain -= n
		p = p[n:]
		if s.remain == 0 {
			s.inBody = false
		}
	}
	return nil
}
