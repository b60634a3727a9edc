package simplex

import "github.com/xftp/xftp/chunk"

// MaxRecipientsPerRequest is how many recipient keys SimpleX's agent sends
// in one FNEW or FADD; more recipients take further FADDs.
const MaxRecipientsPerRequest = 200

// PaddedRecipients returns how many recipient IDs to create per chunk for n
// real recipients (max(4, next power of two)), so that a server cannot
// count a file's audience, as XFTP recommends. The extra IDs stay unused.
func PaddedRecipients(n int) int { return chunk.PaddedRecipients(n) }
