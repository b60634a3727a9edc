package chunk

import (
	"math"
	"math/bits"
)

// MinRecipients is the smallest number of recipient IDs a chunk gets.
const MinRecipients = 4

// PaddedRecipients returns how many recipient IDs to create on a server for
// n real recipients: max(MinRecipients, the next power of two ≥ n), as XFTP
// does, so that a server cannot count a file's audience. The client keeps
// the extra IDs unused. For n beyond the largest power of two an int holds
// it returns math.MaxInt.
func PaddedRecipients(n int) int {
	if n <= MinRecipients {
		return MinRecipients
	}
	shift := bits.Len(uint(n - 1))
	if shift >= bits.UintSize-1 {
		return math.MaxInt
	}
	return 1 << shift
}
