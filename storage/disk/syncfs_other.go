//go:build !linux

package disk

// durableRenames returns the sync of groupSync: fsync each directory that
// a round of Puts renamed files into.
func durableRenames(root string) (func(map[string]struct{}) error, error) {
	return syncEachDir, nil
}

// syncEachDir fsyncs every directory in dirs, concurrently.
func syncEachDir(dirs map[string]struct{}) error {
	if len(dirs) == 1 {
		for d := range dirs {
			return syncDir(d)
		}
	}
	errs := make(chan error, len(dirs))
	for d := range dirs {
		go func() { errs <- syncDir(d) }()
	}
	var first error
	for range dirs {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}
