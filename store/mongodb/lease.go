package mongodb

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Lease is one term of a named lease: its holder may run the work the name stands for until
// Until (server time). Token grows with every term of the name, so a write made under a lease
// can be refused once a later term exists (fencing; see Fenced).
type Lease struct {
	Name, Owner string
	Token       int64
	Until       time.Time
}

// ErrLeaseHeld is returned by AcquireLease while another owner holds the lease.
var ErrLeaseHeld = errors.New("mongodb: lease held by another owner")

// leaseTermDoc is one term of a lease, "<name>#<token>" in lease_terms.
type leaseTermDoc struct {
	ID    string        `bson:"_id"`
	Name  string        `bson:"name"`
	Token int64         `bson:"token"`
	Owner string        `bson:"owner"`
	Until bson.DateTime `bson:"until"`
}

// ServerTime returns the server's clock (hello's localTime): leases compare with it, never with
// the clocks of the replicas, which may disagree. Each reading also sets the offset Now
// applies: the server's time less this host's at the midpoint of the round trip.
func (s *Store) ServerTime(ctx context.Context) (time.Time, error) {
	var hello struct {
		LocalTime bson.DateTime `bson:"localTime"`
	}
	asked := s.clock.host()
	if err := s.leaseTerms.Hello(ctx).Decode(&hello); err != nil {
		return time.Time{}, fmt.Errorf("mongodb: server time: %w", err)
	}
	answered := s.clock.host()
	server := hello.LocalTime.Time()
	s.clock.offset.Store(int64(server.Sub(asked.Add(answered.Sub(asked) / 2))))
	return server, nil
}

// Now is the server's clock as this host last measured it: this host's clock plus the offset
// of the latest ServerTime (read at Open and by every lease, so at least once a minute while
// the scheduled scans run). It is the one time of every replica on this database: the
// services stamp events, decisions and clocks with it, and the store compares the age of
// pending events and statistics sources with it, so that replicas whose host clocks disagree
// judge the same event the same way. hello's localTime has millisecond precision, and the
// round trip's asymmetry bounds the error by half the round trip.
func (s *Store) Now() time.Time { return s.clock.host().Add(time.Duration(s.clock.offset.Load())) }

// serverClock is this host's clock and its offset from the server's, in nanoseconds.
type serverClock struct {
	host   func() time.Time
	offset atomic.Int64
}

// AcquireLease takes the lease name for owner for ttl, or renews it when owner holds it; each
// success is a new term with a larger token. A term is an insert of a unique _id, which every
// server applies atomically (an update with a filter FerretDB does not): of owners racing for
// the next term one inserts it, the others get ErrLeaseHeld.
func (s *Store) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (Lease, error) {
	now, err := s.ServerTime(ctx)
	if err != nil {
		return Lease{}, err
	}
	cur, err := s.currentTerm(ctx, name)
	if err != nil {
		return Lease{}, err
	}
	if cur.Token > 0 && cur.Owner != owner && cur.Until.Time().After(now) {
		return Lease{}, fmt.Errorf("lease %s (until %s): %w", name, cur.Until.Time().UTC().Format(time.RFC3339), ErrLeaseHeld)
	}
	l := Lease{Name: name, Owner: owner, Token: cur.Token + 1, Until: now.Add(ttl)}
	doc := leaseTermDoc{ID: fmt.Sprintf("%s#%020d", name, l.Token), Name: name, Token: l.Token, Owner: owner, Until: bson.NewDateTimeFromTime(l.Until)}
	if _, err := s.leaseTerms.InsertOne(ctx, doc); err != nil {
		if isDuplicateKey(err) {
			return Lease{}, fmt.Errorf("lease %s: %w", name, ErrLeaseHeld)
		}
		return Lease{}, fmt.Errorf("mongodb: acquire lease %s: %w", name, err)
	}
	// Old terms serve no one: the latest decides.
	if _, err := s.leaseTerms.DeleteMany(ctx, bson.M{"name": name, "token": bson.M{"$lt": l.Token - 1}}); err != nil {
		return Lease{}, fmt.Errorf("mongodb: acquire lease %s: prune terms: %w", name, err)
	}
	return l, nil
}

// ReleaseLease ends l early: a new term by nobody, expired already, so that the next owner
// need not wait for l to lapse. A later term than l is left alone.
func (s *Store) ReleaseLease(ctx context.Context, l Lease) error {
	doc := leaseTermDoc{ID: fmt.Sprintf("%s#%020d", l.Name, l.Token+1), Name: l.Name, Token: l.Token + 1, Until: bson.NewDateTimeFromTime(time.Unix(0, 0))}
	if _, err := s.leaseTerms.InsertOne(ctx, doc); err != nil && !isDuplicateKey(err) {
		return fmt.Errorf("mongodb: release lease %s: %w", l.Name, err)
	}
	return nil
}

// Held reports whether l is still the current term of its lease and has not lapsed.
func (s *Store) Held(ctx context.Context, l Lease) (bool, error) {
	now, err := s.ServerTime(ctx)
	if err != nil {
		return false, err
	}
	cur, err := s.currentTerm(ctx, l.Name)
	if err != nil {
		return false, err
	}
	return cur.Token == l.Token && cur.Until.Time().After(now), nil
}

func (s *Store) currentTerm(ctx context.Context, name string) (leaseTermDoc, error) {
	var cur leaseTermDoc
	err := s.leaseTerms.FindOne(ctx, bson.M{"name": name}, options.FindOne().SetSort(bson.D{{Key: "token", Value: -1}})).Decode(&cur)
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return cur, fmt.Errorf("mongodb: lease %s: %w", name, err)
	}
	return cur, nil
}

type fenceKey struct{}

// Fenced returns ctx carrying l: the store's writes that may be repeated by a lapsed holder
// (the recovery of statistics) check, under it, that l is still the current term, and claim
// their work with its token, so that a holder whose lease lapsed stops writing.
func Fenced(ctx context.Context, l Lease) context.Context {
	return context.WithValue(ctx, fenceKey{}, l)
}

// fence returns the lease ctx carries, if any.
func fence(ctx context.Context) (Lease, bool) {
	l, ok := ctx.Value(fenceKey{}).(Lease)
	return l, ok
}

// checkFence fails when ctx carries a lease that is no longer the current term.
func (s *Store) checkFence(ctx context.Context) error {
	l, ok := fence(ctx)
	if !ok {
		return nil
	}
	held, err := s.Held(ctx, l)
	if err != nil {
		return err
	}
	if !held {
		return fmt.Errorf("lease %s token %d lapsed: %w", l.Name, l.Token, ErrLeaseHeld)
	}
	return nil
}
