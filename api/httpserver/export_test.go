package httpserver

// Test-only views of unexported state, for the external tests.

// Compare is the function the admin handler compares token sums with.
func (h *AdminHandler) Compare() func(x, y []byte) int { return h.compare }

// SetCompare replaces it (to count and check its calls).
func (h *AdminHandler) SetCompare(f func(x, y []byte) int) { h.compare = f }

// InFlight is how many requests hold a slot now (the page's included).
func (h *Handler) InFlight() int {
	n := 0
	for _, f := range []*inflight{h.inflight, h.page} {
		f.mu.Lock()
		n += f.n
		f.mu.Unlock()
	}
	return n
}

// PageInflightPerSource is one source's share of the page's pool.
const PageInflightPerSource = pageInflightPerSource
