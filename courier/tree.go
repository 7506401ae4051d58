package courier

import (
	"context"
	"errors"
	"fmt"
)

// InTree reports whether firm id is root or below it; other domains use it to scope firms.
func (s *Service) InTree(ctx context.Context, root, id string) (bool, error) {
	return inTree(ctx, s.store, root, id)
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
	if errors.Is(err, ErrNotFound) {
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
	if errors.Is(err, ErrNotFound) {
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
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// SystemActor is how automated parts of credtrace (back-tracking, scoring) act in the archive:
// with a regulator's reach, but entering records as source system, which start pending.
var SystemActor = Actor{TokenID: "system", Role: RoleRegulator}
