package server

// Event names what Metrics counts.
type Event string

const (
	EventCreated    Event = "created"
	EventRecipients Event = "recipients"
	EventUploaded   Event = "uploaded"
	EventDownloaded Event = "downloaded"
	EventAcked      Event = "acked"
	EventDeleted    Event = "deleted"
	EventExpired    Event = "expired"
	EventOrphans    Event = "orphans_removed"
	EventCorrupt    Event = "corrupt"
	EventBlocked    Event = "blocked"
	// Moderation: abuse reports accepted, blocks made from a report,
	// appeals granted (unblock proofs issued). Counts only.
	EventReported          Event = "reports_received"
	EventBlockedFromReport Event = "blocks_from_reports"
	EventAppealGranted     Event = "appeals_granted"
)

// Metrics receives the service's counters. It never gets IDs or addresses.
type Metrics interface {
	Count(e Event, n int)
	Bytes(e Event, n int64)
}

type nopMetrics struct{}

func (nopMetrics) Count(Event, int)   {}
func (nopMetrics) Bytes(Event, int64) {}
