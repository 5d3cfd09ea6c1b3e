package resolver

import (
	"hash/maphash"
	"sync"
)

// DefaultCacheEntries bounds the answers a zone keeps built (Config.
// CacheEntries): a large cluster has far more names than are asked for
// between two reloads, and every name kept costs about half a kilobyte.
const DefaultCacheEntries = 1 << 16

const cacheShards = 64

// cache maps lookup keys to built answers. It is sharded so that queries
// on both cores rarely touch the same lock, and bounded: a full shard
// drops one entry, in map order (that is, at random), for each new one.
type cache struct {
	seed   maphash.Seed
	per    int
	shards [cacheShards]cacheShard
}

type cacheShard struct {
	mu sync.RWMutex
	m  map[string]*entry
	_  [40]byte // a shard per cache line: the locks are written by every query
}

func newCache(entries int) *cache {
	c := &cache{seed: maphash.MakeSeed(), per: max(entries/cacheShards, 1)}
	for i := range c.shards {
		c.shards[i].m = make(map[string]*entry)
	}
	return c
}

func (c *cache) shard(name []byte) *cacheShard {
	return &c.shards[maphash.Bytes(c.seed, name)%cacheShards]
}

func (c *cache) put(name string, e *entry) {
	c.putIn(&c.shards[maphash.String(c.seed, name)%cacheShards], name, e)
}

func (c *cache) putIn(sh *cacheShard, name string, e *entry) {
	sh.mu.Lock()
	if _, ok := sh.m[name]; !ok && len(sh.m) >= c.per {
		for k := range sh.m {
			delete(sh.m, k)
			break
		}
	}
	sh.m[name] = e
	sh.mu.Unlock()
}

// each calls f for every cached entry (f must not use the cache).
func (c *cache) each(f func(string, *entry)) {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.RLock()
		for k, e := range sh.m {
			f(k, e)
		}
		sh.mu.RUnlock()
	}
}

// len returns the number of cached entries.
func (c *cache) len() int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.RLock()
		n += len(sh.m)
		sh.mu.RUnlock()
	}
	return n
}
