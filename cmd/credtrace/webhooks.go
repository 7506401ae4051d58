package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/scoring"
	"github.com/credtrace/credtrace/tracking"
	"github.com/credtrace/credtrace/webhook"
)

// announcer turns the domains' changes into webhook events and writes them to the outbox
// through the Store of the change's own Atomic block: courier's audit entries (records,
// sanction proposals, incidents come through it), tracking's saves (parcel statuses,
// anomalies). Payloads carry ids, codes and times only.
type announcer struct {
	st  backend
	now func() time.Time
}

const stamp = time.RFC3339Nano

// webhookDispatchSpec is how often the dispatcher sends what is due; webhookClockLease bounds
// one clock sweep.
const (
	webhookDispatchSpec = "@every 2s"
	webhookClockLease   = 5 * time.Minute
)

// Audited implements courier.Notifier.
func (a announcer) Audited(ctx context.Context, st courier.Store, e courier.AuditEntry) error {
	var ev webhook.Event
	switch e.Action {
	case "record.create":
		r, err := st.Record(ctx, e.EntityID)
		if err != nil {
			return err
		}
		if r.Status != courier.StatusPending {
			return nil
		}
		owners, err := firmOwners(ctx, st, r.FirmID)
		if err != nil {
			return err
		}
		ev = webhook.Event{ID: webhook.KeyID(webhook.RecordPending, r.ID), Type: webhook.RecordPending, At: r.CreatedAt, Owners: owners,
			Data: map[string]string{"record_id": r.ID, "firm_id": r.FirmID, "subject_kind": string(r.Subject.Kind), "subject_id": r.Subject.ID,
				"category": string(r.Category), "severity": string(r.Severity), "source": string(r.Source), "status": string(r.Status)}}
	case "sanction.propose":
		x, err := a.st.scoringOf(st).Sanction(ctx, e.EntityID)
		if err != nil {
			return err
		}
		owners, err := firmOwners(ctx, st, x.FirmID)
		if err != nil {
			return err
		}
		ev = webhook.Event{ID: webhook.KeyID(webhook.SanctionProposed, x.ID), Type: webhook.SanctionProposed, At: x.ProposedAt, Owners: owners,
			Data: map[string]string{"sanction_id": x.ID, "firm_id": x.FirmID, "kind": string(x.Kind), "status": string(x.Status), "rule": x.Rule, "period": x.Period}}
	case "incident.report":
		in, err := a.st.trackingOf(st).Incident(ctx, e.EntityID)
		if err != nil {
			return err
		}
		ev = webhook.Event{ID: webhook.KeyID(webhook.IncidentReported, in.ID), Type: webhook.IncidentReported, At: in.At,
			Data: map[string]string{"incident_id": in.ID, "kind": string(in.Kind), "waybill": in.Waybill, "carrier": in.Carrier, "anomaly_id": in.AnomalyID}}
	default:
		return nil
	}
	return webhook.Emit(ctx, a.st.webhooksOf(st), a.now(), ev)
}

// Stored implements tracking.Notifier: a status event for each parcel of a merchant, an event
// for each anomaly. On SQLite, Emit in the save's transaction (in-process reads are cheap); on
// MongoDB, EmitBatch: a save costs a query of the subscriptions per role and, when some
// subscription wants an event, one unordered insert into the outbox, with no read of it.
func (a announcer) Stored(ctx context.Context, st tracking.Store, parcels []tracking.Parcel, anomalies []tracking.Anomaly) error {
	wh := a.st.webhooksOfTracking(st)
	var events []webhook.Event
	for _, p := range parcels {
		if p.MerchantID == "" || p.Status == "" {
			continue
		}
		at := p.StatusAt.UTC().Format(stamp)
		events = append(events, webhook.Event{ID: webhook.KeyID(webhook.ParcelStatus, p.Carrier, p.Waybill, string(p.Status), at),
			Type: webhook.ParcelStatus, At: p.StatusAt, Owners: []string{webhook.MerchantOwner(p.MerchantID)},
			Data: map[string]string{"waybill": p.Waybill, "carrier": p.Carrier, "merchant_id": p.MerchantID, "status": string(p.Status), "status_at": at}})
	}
	for _, an := range anomalies {
		events = append(events, webhook.Event{ID: webhook.KeyID(webhook.AnomalyFound, an.ID), Type: webhook.AnomalyFound, At: an.FoundAt,
			Data: map[string]string{"anomaly_id": an.ID, "kind": string(an.Kind), "waybill": an.Waybill, "carrier": an.Carrier, "merchant_id": an.MerchantID}})
	}
	if len(events) == 0 {
		return nil
	}
	if a.st.shared {
		return webhook.EmitBatch(ctx, wh, a.now(), events...)
	}
	return webhook.Emit(ctx, wh, a.now(), events...)
}

// firmOwners are the parties that see a firm: the firm and every firm above it.
func firmOwners(ctx context.Context, st courier.Store, firmID string) ([]string, error) {
	var out []string
	for id := firmID; id != "" && len(out) < 32; {
		out = append(out, webhook.FirmOwner(id))
		f, err := st.Firm(ctx, id)
		if errors.Is(err, credtrace.ErrNotFound) {
			break
		}
		if err != nil {
			return nil, err
		}
		id = f.ParentID
	}
	return out, nil
}

// clockLookback is how far back the clock sweep looks for a change it has not announced (a
// sanction that took effect or ended, an objection clock): a service stopped for less than
// this announces on its return what it missed.
const clockLookback = 7 * 24 * time.Hour

// webhookClock announces what happens by the calendar rather than by a request: a barring
// sanction taking effect on its start day (or ending), to the platforms, which must stop the
// firm that day; an objection clock about to run out, to the firm; one that ran out, to the
// regulators. Each event's id follows from the sanction or objection and the clock, so a
// sweep announces each once, whichever replica runs it.
func webhookClock(st backend, now func() time.Time) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		t := now()
		wh := st.webhooksOf(st.courier)
		var events []webhook.Event
		for after := ""; ; {
			page, err := st.scoring.Sanctions(ctx, scoring.SanctionQuery{Status: []scoring.SanctionStatus{scoring.Approved, scoring.Lifted}, After: after, Limit: 500})
			if err != nil {
				return fmt.Errorf("sanctions: %w", err)
			}
			for _, x := range page {
				events = append(events, sanctionEvents(st, x, t)...)
			}
			if len(page) < 500 {
				break
			}
			after = page[len(page)-1].ID
		}
		for after := ""; ; {
			page, err := st.courier.Objections(ctx, courier.ObjectionQuery{Page: courier.Page{After: after, Limit: 500}})
			if err != nil {
				return fmt.Errorf("objections: %w", err)
			}
			for _, o := range page {
				evs, err := objectionEvents(ctx, st.courier, o, t)
				if err != nil {
					return err
				}
				events = append(events, evs...)
			}
			if len(page) < 500 {
				break
			}
			after = page[len(page)-1].ID
		}
		return webhook.Emit(ctx, wh, t, events...)
	}
}

// sanctionEvents are the eligibility changes of sanction x due at t: barred from its start
// while approved, cleared from its end or its lift.
func sanctionEvents(st backend, x scoring.Sanction, t time.Time) []webhook.Event {
	if !x.Kind.Bars() {
		return nil
	}
	var out []webhook.Event
	data := func(change string, at time.Time) map[string]string {
		return map[string]string{"firm_id": x.FirmID, "sanction_id": x.ID, "kind": string(x.Kind), "change": change, "effective_at": at.UTC().Format(stamp)}
	}
	recent := func(at time.Time) bool { return !at.IsZero() && !at.After(t) && t.Sub(at) <= clockLookback }
	started := !x.Start.IsZero() && !x.Start.After(t)
	if started && recent(x.Start) {
		out = append(out, webhook.Event{ID: webhook.KeyID(webhook.EligibilityChanged, x.ID, "barred"), Type: webhook.EligibilityChanged, At: x.Start, Data: data("barred", x.Start)})
	}
	end := x.End
	if x.Status == scoring.Lifted && (end.IsZero() || x.LiftedAt.Before(end)) {
		end = x.LiftedAt
	}
	if started && recent(end) {
		out = append(out, webhook.Event{ID: webhook.KeyID(webhook.EligibilityChanged, x.ID, "cleared"), Type: webhook.EligibilityChanged, At: end, Data: data("cleared", end)})
	}
	return out
}

// objectionEvents are the clocks of objection o at t: the review (while pending) and the
// correction (decided, not corrected), each due within ClockWarning (to the firm) or past due
// (to the regulators).
func objectionEvents(ctx context.Context, st courier.Store, o courier.Objection, t time.Time) ([]webhook.Event, error) {
	type clock struct {
		name string
		due  time.Time
	}
	var clocks []clock
	switch {
	case o.Status == courier.ObjectionPending:
		clocks = append(clocks, clock{"review", o.ReviewBy})
	case !o.CorrectBy.IsZero() && o.CorrectedAt.IsZero():
		clocks = append(clocks, clock{"correction", o.CorrectBy})
	}
	var out []webhook.Event
	for _, c := range clocks {
		if c.due.IsZero() || t.Sub(c.due) > clockLookback {
			continue
		}
		data := map[string]string{"objection_id": o.ID, "record_id": o.RecordID, "firm_id": o.FirmID, "clock": c.name, "due_at": c.due.UTC().Format(stamp)}
		switch {
		case t.After(c.due):
			out = append(out, webhook.Event{ID: webhook.KeyID(webhook.ObjectionOverdue, o.ID, c.name), Type: webhook.ObjectionOverdue, At: c.due, Data: data})
		case c.due.Sub(t) <= webhook.ClockWarning:
			owners, err := firmOwners(ctx, st, o.FirmID)
			if err != nil {
				return nil, err
			}
			out = append(out, webhook.Event{ID: webhook.KeyID(webhook.ObjectionClock, o.ID, c.name), Type: webhook.ObjectionClock, At: t, Owners: owners, Data: data})
		}
	}
	return out, nil
}
