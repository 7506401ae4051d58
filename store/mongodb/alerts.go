package mongodb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/credtrace/credtrace/tracking"
)

// The alert feed and the change streams of the live streams.
//
// Every incident created and every anomaly stored gets one alertDoc, its _id a sequence taken
// from the "alerts" counter after the incident or anomaly is inserted (in the same transaction
// where the server has them). The alert streams of every replica poll the feed as the parcel
// streams poll the events, with the same look-back for sequences taken before a lower one
// landed. Where the server has change streams (a replica set or mongos), the inserts into the
// events and the feed wake the pollers at once (Watch).

const (
	alertsCounter = "alerts"
	alertIncident = "incident"
	alertAnomaly  = "anomaly"
)

// alertDoc is one entry of the alert feed: the kind and id of what was stored.
type alertDoc struct {
	Seq  int64  `bson:"_id"`
	Kind string `bson:"kind"`
	Ref  string `bson:"ref"`
}

// feedAlerts adds one entry per id to the alert feed.
func (t *Tracking) feedAlerts(ctx context.Context, kind string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	top, err := t.takeSeqsOf(ctx, alertsCounter, int64(len(ids)))
	if err != nil {
		return fmt.Errorf("feed alerts: %w", err)
	}
	first := top - int64(len(ids)) + 1
	docs := make([]any, len(ids))
	for i, id := range ids {
		docs[i] = alertDoc{Seq: first + int64(i), Kind: kind, Ref: id}
	}
	if _, err := t.s.alertFeed.InsertMany(ctx, docs); err != nil {
		return fmt.Errorf("feed alerts: %w", err)
	}
	return nil
}

// LastAlertSeq implements tracking.Store.
func (t *Tracking) LastAlertSeq(ctx context.Context) (int64, error) {
	var d alertDoc
	err := t.s.alertFeed.FindOne(ctx, bson.D{}, options.FindOne().SetSort(bson.D{{Key: "_id", Value: -1}})).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("mongodb: last alert sequence: %w", err)
	}
	return d.Seq, nil
}

// AlertsSince implements tracking.Store: a read of the feed, then one $in read of the
// incidents and one of the anomalies it names.
func (t *Tracking) AlertsSince(ctx context.Context, q tracking.SeqQuery) ([]tracking.Alert, []int64, error) {
	feed, err := findAll[alertDoc](ctx, t.s.alertFeed, seqFilter("_id", q),
		options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(q.Limit)))
	if err != nil {
		return nil, nil, fmt.Errorf("mongodb: alerts since %d: %w", q.After, err)
	}
	var incIDs, anIDs []string
	for _, d := range feed {
		if d.Kind == alertIncident {
			incIDs = append(incIDs, d.Ref)
		} else {
			anIDs = append(anIDs, d.Ref)
		}
	}
	incs := map[string]tracking.Incident{}
	if len(incIDs) > 0 {
		docs, err := findAll[incidentDoc](ctx, t.s.incidents, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: incIDs}}}})
		if err != nil {
			return nil, nil, fmt.Errorf("mongodb: alerts since %d: incidents: %w", q.After, err)
		}
		for _, d := range docs {
			in := fromIncidentDoc(d)
			incs[in.ID] = in
		}
	}
	ans := map[string]tracking.Anomaly{}
	if len(anIDs) > 0 {
		docs, err := findAll[anomalyDoc](ctx, t.s.anomalies, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: anIDs}}}})
		if err != nil {
			return nil, nil, fmt.Errorf("mongodb: alerts since %d: anomalies: %w", q.After, err)
		}
		for _, d := range docs {
			a := fromAnomalyDoc(d)
			ans[a.ID] = a
		}
	}
	var out []tracking.Alert
	var seqs []int64
	for _, d := range feed {
		a := tracking.Alert{Kind: d.Kind}
		if in, ok := incs[d.Ref]; ok && d.Kind == alertIncident {
			a.Incident = &in
		} else if an, ok := ans[d.Ref]; ok && d.Kind == alertAnomaly {
			a.Anomaly = &an
		} else {
			continue // its incident or anomaly is gone: nothing to tell
		}
		out, seqs = append(out, a), append(seqs, d.Seq)
	}
	return out, seqs, nil
}

// ChangeStreams reports whether the server has change streams (detected at Open: a replica
// set member or a mongos, as for transactions), and so whether Watch watches.
func (s *Store) ChangeStreams() bool { return s.txn }

// insertsOnly is the pipeline of the watches: inserts, each told by its resume token alone.
var insertsOnly = mongo.Pipeline{
	{{Key: "$match", Value: bson.D{{Key: "operationType", Value: "insert"}}}},
	{{Key: "$project", Value: bson.D{{Key: "_id", Value: 1}}}},
}

// errHistoryLost is the server's code for a resume token older than its oplog.
const errHistoryLost = 286

// Watch implements tracking.Watcher with one change stream on the events and one on the alert
// feed, opened before it returns. A stream that fails is reopened after its last resume
// token, with backoff; when the server no longer has that point (its oplog moved past it), it
// is reopened from now, and the poller's read by sequence still finds what was stored in
// between. Without change streams it answers false and the poller polls.
func (t *Tracking) Watch(ctx context.Context, notify chan<- struct{}, onError func(error)) (bool, error) {
	if !t.s.ChangeStreams() {
		return false, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	for _, c := range []collection{t.s.events, t.s.alertFeed} {
		cs, err := openWatch(ctx, c, nil)
		if err != nil {
			cancel() // ends the watch opened before, if any
			return false, fmt.Errorf("mongodb: watch %s: %w", c.Name(), err)
		}
		go watch(ctx, c, cs, notify, onError)
	}
	context.AfterFunc(ctx, cancel) // the watches end with the caller's context
	return true, nil
}

func openWatch(ctx context.Context, c collection, resume bson.Raw) (*mongo.ChangeStream, error) {
	o := options.ChangeStream().SetMaxAwaitTime(time.Second)
	if resume != nil {
		o.SetResumeAfter(resume)
	}
	return c.Watch(ctx, insertsOnly, o)
}

// watch tells notify of each insert on cs until ctx ends, reopening cs when it fails.
func watch(ctx context.Context, c collection, cs *mongo.ChangeStream, notify chan<- struct{}, onError func(error)) {
	tell := func() {
		select {
		case notify <- struct{}{}:
		default:
		}
	}
	for {
		for cs.Next(ctx) {
			tell()
		}
		token, err := cs.ResumeToken(), unavailable(cs.Err())
		cs.Close(context.WithoutCancel(ctx))
		if ctx.Err() != nil {
			return
		}
		onError(fmt.Errorf("mongodb: watch %s: %w (reopening)", c.Name(), err))
		for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			var err error
			if cs, err = openWatch(ctx, c, token); err == nil {
				break
			}
			var se mongo.ServerError
			if errors.As(err, &se) && se.HasErrorCode(errHistoryLost) {
				token = nil
			}
			onError(fmt.Errorf("mongodb: reopen watch %s: %w", c.Name(), err))
		}
		tell() // what was stored while the watch was down is read now
	}
}
