package httpserver

import (
	"io"
	"strconv"
)

// copyBuffer copies with buf, hiding ReaderFrom/WriterTo so the large
// buffer is really used (HTTP/2 sends a frame per Write).
func copyBuffer(dst io.Writer, src io.Reader, buf []byte) (int64, error) {
	return io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, buf)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
