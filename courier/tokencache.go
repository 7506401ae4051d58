package courier

import (
	"sync"
	"time"
)

// TokenCacheFor is how long a token read from the store is trusted before it is read again.
// It is the bound within which a revocation or rotation made through another replica (another
// Service on the same store) takes effect here; one made through this Service takes effect at
// once. Expiry and a rotated-out secret's grace are checked on every request against the
// clock, cached or not.
const TokenCacheFor = 2 * time.Second

// tokenCacheMax bounds the cache: only live tokens presented with their right secret are kept,
// so it holds at most one entry per secret in use; past this many it starts again empty.
const tokenCacheMax = 10000

// tokenCache keeps the tokens that authenticated lately, by the hash of the secret presented,
// so that authenticating does not read the store on every request. It is only ever a cache:
// an entry older than TokenCacheFor is read again, and unknown or revoked secrets are never
// kept (a token issued on another replica works here at once).
type tokenCache struct {
	mu sync.Mutex
	// gen counts invalidations: a read that started before one does not fill the cache, so a
	// token revoked while it was being read is not put back.
	gen uint64
	m   map[string]cachedToken
}

type cachedToken struct {
	t    Token
	read time.Time // when the store was read, on the service clock
}

func newTokenCache() *tokenCache { return &tokenCache{m: map[string]cachedToken{}} }

// get returns the token cached under hash while it is fresh at now, and the generation to hand
// to put when it is not.
func (c *tokenCache) get(hash string, now time.Time) (Token, bool, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[hash]
	if !ok || now.Before(e.read) || now.Sub(e.read) >= TokenCacheFor {
		return Token{}, false, c.gen
	}
	return e.t, true, c.gen
}

// put caches t under hash, read at read, unless the cache was invalidated since gen.
func (c *tokenCache) put(hash string, t Token, read time.Time, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if len(c.m) >= tokenCacheMax {
		clear(c.m)
	}
	c.m[hash] = cachedToken{t: t, read: read}
}

// touched records that token id's last use was written as at, so that the cached copy does not
// ask for the write again on every request.
func (c *tokenCache) touched(id string, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for h, e := range c.m {
		if e.t.ID == id && e.t.LastUsedAt.Before(at) {
			e.t.LastUsedAt = at
			c.m[h] = e
		}
	}
}

// drop forgets every secret of token id (its current and its rotated-out one).
func (c *tokenCache) drop(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for h, e := range c.m {
		if e.t.ID == id {
			delete(c.m, h)
		}
	}
}
