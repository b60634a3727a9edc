//go:build !unix && !windows

package client

import "os"

// lockFile does nothing where the system has no advisory locks.
func lockFile(*os.File) error { return nil }

func unlockFile(*os.File) {}

func fileID(*os.File) uint64 { return 0 }
