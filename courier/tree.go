package courier

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/credtrace/credtrace"
)

// InTree reports whether firm id is root or below it; other domains use it to scope firms.
func (s *Service) InTree(ctx context.Context, root, id string) (bool, error) {
	return inTree(ctx, s.store, root, id)
}

// Subtree returns root and every firm below it: other domains scope a firm's lists with it, in
// the query (one $in), rather than reading everything and asking InTree of each item.
func (s *Service) Subtree(ctx context.Context, root string) ([]string, error) {
	return subtree(ctx, s.store, root)
}

// Root returns the brand HQ at the top of firm id's tree: responsibility rolls up to it.
func (s *Service) Root(ctx context.Context, id string) (string, error) {
	for depth := 0; depth <= 64; depth++ {
		f, err := s.store.Firm(ctx, id)
		if err != nil {
			return "", fmt.Errorf("root of %s: %w", id, err)
		}
		if f.ParentID == "" {
			return f.ID, nil
		}
		id = f.ParentID
	}
	return "", fmt.Errorf("firm tree above %s deeper than 64 levels", id)
}

// SiteFirm returns the firm a site belongs to; ok is false for an unknown site.
func (s *Service) SiteFirm(ctx context.Context, siteID string) (string, bool, error) {
	site, err := s.store.Site(ctx, siteID)
	if errors.Is(err, credtrace.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return site.FirmID, true, nil
}

// StaffFirm returns the firm a person works for now; ok is false for an unknown person or
// one with no open employment.
func (s *Service) StaffFirm(ctx context.Context, id string) (string, bool, error) {
	p, err := s.store.Staff(ctx, id)
	if errors.Is(err, credtrace.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	for i := len(p.Employment) - 1; i >= 0; i-- {
		if p.Employment[i].Open() {
			return p.Employment[i].FirmID, true, nil
		}
	}
	return "", false, nil
}

// FirmExists reports whether a firm is registered.
func (s *Service) FirmExists(ctx context.Context, id string) (bool, error) {
	_, err := s.store.Firm(ctx, id)
	if errors.Is(err, credtrace.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// treeScope is one request's view of the tree generation: read at most once, on the first
// question, so that a request costs one generation read however many questions it asks.
type treeScope struct {
	mu   sync.Mutex
	read bool
	gen  int64
}

type treeScopeKey struct{}

// WithTreeScope marks ctx as one request for the TreeCache: under it the cache reads the tree
// generation once, at the first question. The HTTP layer starts one per request.
func WithTreeScope(ctx context.Context) context.Context {
	return context.WithValue(ctx, treeScopeKey{}, &treeScope{})
}

// bumpTree records a change to firms, sites or employments: the tree generation moves, in the
// store (for every replica) and in the request's scope (for the rest of this request).
func (s *Service) bumpTree(ctx context.Context, st Store) error {
	if err := st.BumpTreeGeneration(ctx); err != nil {
		return fmt.Errorf("bump tree generation: %w", err)
	}
	if sc, ok := ctx.Value(treeScopeKey{}).(*treeScope); ok {
		sc.mu.Lock()
		sc.read = false
		sc.mu.Unlock()
	}
	return nil
}

// TreeCache answers the firm-tree questions other domains ask (tracking asks them for every
// event it ingests: is this site ours, does this courier work for us) from memory, for as long
// as the tree is unchanged. It never serves an answer by age: every change to firms, sites and
// employments bumps the tree generation in the store, and the cache reads that generation once
// per request (WithTreeScope), or at each question outside one, and drops every answer of an
// older generation. So a change made through any replica counts for every request that starts
// after it was answered. Only positive answers are kept, at most maxTreeAnswers of them.
type TreeCache struct {
	svc *Service
	mu  sync.Mutex
	gen int64
	m   map[string]treeAnswer
}

type treeAnswer struct {
	val string
	gen int64
}

const maxTreeAnswers = 100000

// NewTreeCache returns a cache of svc's tree answers.
func NewTreeCache(svc *Service) *TreeCache {
	return &TreeCache{svc: svc, m: map[string]treeAnswer{}}
}

// generation returns the tree generation ctx's request sees.
func (c *TreeCache) generation(ctx context.Context) (int64, error) {
	sc, ok := ctx.Value(treeScopeKey{}).(*treeScope)
	if !ok {
		return c.svc.store.TreeGeneration(ctx)
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if !sc.read {
		g, err := c.svc.store.TreeGeneration(ctx)
		if err != nil {
			return 0, err
		}
		sc.gen, sc.read = g, true
	}
	return sc.gen, nil
}

func (c *TreeCache) get(ctx context.Context, key string, load func() (string, bool, error)) (string, bool, error) {
	gen, err := c.generation(ctx)
	if err != nil {
		return "", false, fmt.Errorf("tree generation: %w", err)
	}
	c.mu.Lock()
	if gen > c.gen {
		c.gen, c.m = gen, map[string]treeAnswer{}
	}
	a, hit := c.m[key]
	c.mu.Unlock()
	if hit && a.gen == gen {
		return a.val, true, nil
	}
	val, ok, err := load()
	if err != nil || !ok {
		return "", false, err
	}
	c.mu.Lock()
	if gen == c.gen {
		if len(c.m) >= maxTreeAnswers {
			c.m = map[string]treeAnswer{}
		}
		c.m[key] = treeAnswer{val: val, gen: gen}
	}
	c.mu.Unlock()
	return val, true, nil
}

// InTree is Service.InTree, cached.
func (c *TreeCache) InTree(ctx context.Context, root, id string) (bool, error) {
	_, ok, err := c.get(ctx, "tree|"+root+"|"+id, func() (string, bool, error) {
		ok, err := c.svc.InTree(ctx, root, id)
		return "", ok, err
	})
	return ok, err
}

// Subtree is Service.Subtree, cached.
func (c *TreeCache) Subtree(ctx context.Context, root string) ([]string, error) {
	v, _, err := c.get(ctx, "subtree|"+root, func() (string, bool, error) {
		ids, err := c.svc.Subtree(ctx, root)
		return strings.Join(ids, "\n"), err == nil, err
	})
	if err != nil {
		return nil, err
	}
	return strings.Split(v, "\n"), nil
}

// Root is Service.Root, cached.
func (c *TreeCache) Root(ctx context.Context, id string) (string, error) {
	v, _, err := c.get(ctx, "root|"+id, func() (string, bool, error) {
		r, err := c.svc.Root(ctx, id)
		return r, err == nil, err
	})
	return v, err
}

// SiteFirm is Service.SiteFirm, cached.
func (c *TreeCache) SiteFirm(ctx context.Context, siteID string) (string, bool, error) {
	return c.get(ctx, "site|"+siteID, func() (string, bool, error) { return c.svc.SiteFirm(ctx, siteID) })
}

// StaffFirm is Service.StaffFirm, cached.
func (c *TreeCache) StaffFirm(ctx context.Context, id string) (string, bool, error) {
	return c.get(ctx, "staff|"+id, func() (string, bool, error) { return c.svc.StaffFirm(ctx, id) })
}

// FirmExists is Service.FirmExists, cached.
func (c *TreeCache) FirmExists(ctx context.Context, id string) (bool, error) {
	_, ok, err := c.get(ctx, "firm|"+id, func() (string, bool, error) {
		ok, err := c.svc.FirmExists(ctx, id)
		return "", ok, err
	})
	return ok, err
}
