package dcosdns

import (
	"hash/maphash"
	"sync"

	"github.com/sextantdc/sextant/internal/directory"
)

// fastCacheEntries bounds the fast replies a node keeps built: about the
// names its tasks ask for between two zone changes, not every name of the
// cluster.
const fastCacheEntries = 1 << 15

const fastShards = 32

// fastEntry is one question's fast reply (nil: the parsed path answers
// it) and the zone it came from (nil: no local zone holds the name).
type fastEntry struct {
	p    *prepared
	zone *directory.Zone
}

// fastCache maps questions to fast replies; sharded so that queries on
// several cores rarely meet on a lock, and bounded: a full shard drops one
// entry, in map order (at random), for each new one.
type fastCache struct {
	seed   maphash.Seed
	per    int
	shards [fastShards]fastShard
}

type fastShard struct {
	mu sync.RWMutex
	m  map[string]fastEntry
	_  [40]byte // a shard per cache line: every query takes a read lock
}

func newFastCache(entries int) *fastCache {
	c := &fastCache{seed: maphash.MakeSeed(), per: max(entries/fastShards, 1)}
	for i := range c.shards {
		c.shards[i].m = map[string]fastEntry{}
	}
	return c
}

func (c *fastCache) shard(key []byte) *fastShard {
	return &c.shards[maphash.Bytes(c.seed, key)%fastShards]
}

func (c *fastCache) put(key string, e fastEntry) {
	c.putIn(&c.shards[maphash.String(c.seed, key)%fastShards], key, e)
}

func (c *fastCache) putIn(sh *fastShard, key string, e fastEntry) {
	sh.mu.Lock()
	if _, ok := sh.m[key]; !ok && len(sh.m) >= c.per {
		for k := range sh.m {
			delete(sh.m, k)
			break
		}
	}
	sh.m[key] = e
	sh.mu.Unlock()
}

// each calls f for every entry (f must not use the cache).
func (c *fastCache) each(f func(string, fastEntry)) {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.RLock()
		for k, e := range sh.m {
			f(k, e)
		}
		sh.mu.RUnlock()
	}
}
