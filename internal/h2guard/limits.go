package h2guard

// Limits bound, per connection, the frames a client may send (or make the
// server send) beyond the work it asks for. A budget is a base plus an
// allowance for each stream the client opened, for each DATA frame (and
// bytes) the server sent, or for each second the connection lived: what a
// correct client needs grows with those, a flood does not. Zero fields take
// DefaultLimits' values.
type Limits struct {
	// EmptyFrames: consecutive DATA, HEADERS or CONTINUATION frames that
	// carry nothing and do not end their stream (Envoy allows 1).
	EmptyFrames int

	// Control: SETTINGS and PING frames (with or without ACK).
	ControlBase, ControlPerStream, ControlPerSecond int

	// Priority: PRIORITY frames and frames of unknown types (such as
	// PRIORITY_UPDATE), which the server reads and drops.
	PriorityBase, PriorityPerStream int

	// WindowUpdate: WINDOW_UPDATE frames, which a client sends as it reads
	// what the server sends (Go's client: one for the connection and one
	// for the stream every 4 KiB it reads).
	WindowUpdateBase, WindowUpdatePerStream, WindowUpdatePerDataFrame int
	// WindowUpdateBytes: one more WINDOW_UPDATE per this many DATA bytes
	// the server sent.
	WindowUpdateBytes int

	// Resets: RST_STREAM frames the client sends plus those the server
	// sends for errors (not NO_ERROR, which ends a stream whose response
	// is complete). MadeYouReset makes the server reset streams whose
	// handlers go on running.
	ResetBase int
	// ResetPercent of the streams opened may be reset beyond ResetBase.
	ResetPercent int

	// StreamErrors: frames that make the server reset their stream, which
	// a correct client never sends (MadeYouReset's): DATA or HEADERS
	// after the client ended the stream, a stream WINDOW_UPDATE of 0 or of
	// 1 GiB or more, a PRIORITY making a stream depend on itself. Counted
	// when read, so a peer that does not read (the server's resets wait
	// unwritten) is stopped too.
	StreamErrorBase, StreamErrorPercent int
}

// DefaultLimits are far above what Go's client sends in heavy use (64
// concurrent 4 MiB downloads read 4 KiB at a time use a fifth of the
// WINDOW_UPDATE budget; TestHeavyTransferNotCut) and what xftp-web, Chromium
// and h2spec send in the end-to-end tests, and stop a flood within a few
// thousand frames.
func DefaultLimits() Limits {
	return Limits{
		EmptyFrames: 16,
		ControlBase: 100, ControlPerStream: 2, ControlPerSecond: 1,
		PriorityBase: 100, PriorityPerStream: 10,
		WindowUpdateBase: 1000, WindowUpdatePerStream: 4, WindowUpdatePerDataFrame: 4, WindowUpdateBytes: 1024,
		ResetBase: 128, ResetPercent: 50,
		StreamErrorBase: 10, StreamErrorPercent: 1,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	set := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	set(&l.EmptyFrames, d.EmptyFrames)
	set(&l.ControlBase, d.ControlBase)
	set(&l.ControlPerStream, d.ControlPerStream)
	set(&l.ControlPerSecond, d.ControlPerSecond)
	set(&l.PriorityBase, d.PriorityBase)
	set(&l.PriorityPerStream, d.PriorityPerStream)
	set(&l.WindowUpdateBase, d.WindowUpdateBase)
	set(&l.WindowUpdatePerStream, d.WindowUpdatePerStream)
	set(&l.WindowUpdatePerDataFrame, d.WindowUpdatePerDataFrame)
	set(&l.WindowUpdateBytes, d.WindowUpdateBytes)
	set(&l.ResetBase, d.ResetBase)
	set(&l.ResetPercent, d.ResetPercent)
	set(&l.StreamErrorBase, d.StreamErrorBase)
	set(&l.StreamErrorPercent, d.StreamErrorPercent)
	return l
}

// Flood names what a connection was closed for (a metric label).
type Flood string

// The floods Limits stop.
const (
	FloodEmpty        Flood = "empty_frames"
	FloodControl      Flood = "settings_ping"
	FloodPriority     Flood = "priority"
	FloodWindowUpdate Flood = "window_update"
	FloodResets       Flood = "resets"
	FloodStreamErrors Flood = "stream_errors"
)

// Floods lists every Flood.
func Floods() []Flood {
	return []Flood{FloodEmpty, FloodControl, FloodPriority, FloodWindowUpdate, FloodResets, FloodStreamErrors}
}
