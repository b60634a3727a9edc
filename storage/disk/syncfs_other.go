//go:build !linux

package disk

// durableRenames returns the sync of groupSync: fsync each directory that
// a round of Puts renamed files into.
func durableRenames(root string) (func(map[string]struct{}) error, error) {
	return syncEachDir, nil
}
