package server

import (
	"context"
	"errors"
	"time"

	"github.com/xftp/xftp/storage"
)

// SweepExpired removes every chunk whose expiry has passed and returns how
// many it removed.
func (s *Service) SweepExpired(ctx context.Context) (int, error) {
	n := 0
	for {
		recs, err := s.records.Expired(ctx, s.now(), 256)
		if err != nil {
			return n, err
		}
		if len(recs) == 0 {
			return n, nil
		}
		removed := 0
		for _, rec := range recs {
			switch err := s.remove(ctx, rec.Key); {
			case err == nil:
				removed++
			case !errors.Is(err, storage.ErrNotFound):
				return n, err
			}
		}
		n += removed
		s.metrics.Count(EventExpired, removed)
		if removed == 0 {
			// The store lists records it cannot delete (another replica
			// got there first, or an index entry lost its record): stop
			// rather than spin; the next sweep tries again.
			return n, nil
		}
	}
}

// SweepOrphans removes bodies that no record refers to: left by a crash
// between deleting a record and its body, by an upload that finished
// after its chunk was deleted, or by upload attempts whose clean-up did
// not finish. Records are always created before their bodies are stored,
// so a body without a record is never one in flight. A body name belongs
// to the record of its key (storage.KeyOf); an attempt that lost to
// another stays until that record goes.
func (s *Service) SweepOrphans(ctx context.Context) (int, error) {
	var orphans []string
	err := s.store.List(ctx, func(name string) error {
		ok, err := s.records.Has(ctx, storage.KeyOf(name))
		if err == nil && !ok {
			orphans = append(orphans, name)
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	for _, name := range orphans {
		// Check again: a record created after List saw the key would
		// not be one (keys are random), but be safe against reuse.
		if ok, err := s.records.Has(ctx, storage.KeyOf(name)); err != nil || ok {
			continue
		}
		if err := s.store.Delete(ctx, name); err != nil {
			return 0, err
		}
	}
	s.metrics.Count(EventOrphans, len(orphans))
	return len(orphans), nil
}

// Run sweeps at start-up and then every SweepInterval until ctx ends.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.SweepInterval)
	defer t.Stop()
	for {
		if n, err := s.SweepExpired(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("expiry sweep failed", "err", err)
		} else if n > 0 {
			s.log.Info("removed expired chunks", "count", n)
		}
		if n, err := s.SweepOrphans(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("orphan sweep failed", "err", err)
		} else if n > 0 {
			s.log.Info("removed orphaned chunk bodies", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
