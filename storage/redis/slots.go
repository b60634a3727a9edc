package redis

import (
	"hash/fnv"
	"strconv"
	"sync"
)

// Redis Cluster puts a key in one of 16384 slots: CRC-16 (XMODEM) of its
// hash tag (the text between the first '{' and the next '}'), or of the
// whole name without one. A Lua script or MULTI may only touch keys of one
// slot.
//
// A chunk's record and the bookkeeping that must change with it atomically
// (its entry in the expiry index and in the sizes hash) share one slot, so
// each chunk lives in one of numGroups groups; group g's keys carry a hash
// tag that lands in slots [g*slotsPerGroup, (g+1)*slotsPerGroup), so the
// groups cover the slot space evenly and every master of a cluster holds
// groups in proportion to the slots it serves. A chunk's group comes from
// its internal key (groupOf), which is random: chunks spread evenly over
// the groups. Per-chunk hash tags would spread no better, and would split
// a record from its expiry entry.
const (
	numSlots      = 16384
	numGroups     = 1024
	slotsPerGroup = numSlots / numGroups
)

// Slot returns the cluster slot of a key name, as Redis computes it.
func Slot(key string) int {
	if i := indexByte(key, '{'); i >= 0 {
		if j := indexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	return int(crc16(key)) % numSlots
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// crc16 is CRC-16/XMODEM (polynomial 0x1021, initial value 0), which Redis
// Cluster uses for slots.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// groupTags holds each group's hash tag: the first base-36 number, counting
// from 0, whose slot falls in the group's range. The table is a function
// of the constants alone, so every replica and every version computes the
// same one (TestGroupTags pins a few entries).
var groupTags = sync.OnceValue(func() []string {
	tags := make([]string, numGroups)
	left := numGroups
	for n := uint64(0); left > 0; n++ {
		s := strconv.FormatUint(n, 36)
		g := int(crc16(s)) % numSlots / slotsPerGroup
		if tags[g] == "" {
			tags[g] = s
			left--
		}
	}
	return tags
})

// groupOf returns the group of a chunk's internal key.
func groupOf(key string) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % numGroups)
}
