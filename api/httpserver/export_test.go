package httpserver

// Test-only views of unexported state, for the external tests.

// Compare is the function the admin handler compares token sums with.
func (h *AdminHandler) Compare() func(x, y []byte) int { return h.compare }

// SetCompare replaces it (to count and check its calls).
func (h *AdminHandler) SetCompare(f func(x, y []byte) int) { h.compare = f }

// InFlight is how many requests hold a slot now.
func (h *Handler) InFlight() int {
	h.inflight.mu.Lock()
	defer h.inflight.mu.Unlock()
	return h.inflight.n
}
