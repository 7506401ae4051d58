package tracking

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/credtrace/credtrace"
)

// ScanResult counts what one scheduled scan found.
type ScanResult struct {
	Scanned int
	Found   int
	New     []Anomaly
	// DeemedLost counts the open parcels past their promise by the total delay: each counts
	// as lost once, however many scans (on however many replicas) find it.
	DeemedLost int
}

// Scan looks for anomalies that only the clock reveals: parcels stalled past the threshold
// of their status, promises due and not delivered, and merchants sending bursts of parcels to
// many recipients. Anomalies already found are not reported again. It also counts the parcels
// past their promise by the total delay as lost (see deemedLost) and keeps the counts of
// merchant bursts' parcels out of the service statistics (see withdrawals); both are keyed so
// that running it twice, or on two replicas at once, counts once.
//
// The stalled, promise and deemed-lost parts read only the window since this process's
// previous scan (see window.go).
func (s *Service) Scan(ctx context.Context) (ScanResult, error) {
	if err := s.Flush(ctx); err != nil {
		return ScanResult{}, err
	}
	now := s.Now()
	since, full := s.scanned.since(now)
	res, err := s.scan(ctx, now, since, full)
	if err == nil {
		s.scanned.done(now, full)
	}
	return res, err
}

func (s *Service) scan(ctx context.Context, now, since time.Time, full bool) (ScanResult, error) {
	var res ScanResult
	var found []Anomaly
	minStall, maxStall := 0, 0
	for _, h := range s.opts.StallHours {
		if minStall == 0 || h < minStall {
			minStall = h
		}
		maxStall = max(maxStall, h)
	}
	page := func(q ParcelQuery, visit func(Parcel)) error {
		q.Limit = 1000
		for {
			ps, err := s.store.Parcels(ctx, q)
			if err != nil {
				return err
			}
			for _, p := range ps {
				res.Scanned++
				visit(p)
			}
			if len(ps) < q.Limit {
				return nil
			}
			q.After = ps[len(ps)-1].Key().String()
		}
	}
	// pages visits each parcel that any of qs finds once.
	pages := func(qs []ParcelQuery, visit func(Parcel)) error {
		seen := map[ParcelKey]bool{}
		for _, q := range qs {
			err := page(q, func(p Parcel) {
				if !seen[p.Key()] {
					seen[p.Key()] = true
					visit(p)
				}
			})
			if err != nil {
				return err
			}
		}
		return nil
	}
	if minStall > 0 {
		// A parcel last scanned at t crosses the threshold h of its status at t+h: inside this
		// window when t is at or after since-h, so at or after since-maxStall for any status.
		stale := ParcelQuery{NotFinal: true, LastBefore: now.Add(-time.Duration(minStall) * time.Hour)}
		err := pages(window(stale, since, full, func(q *ParcelQuery) { q.LastFrom = since.Add(-time.Duration(maxStall) * time.Hour) }), func(p Parcel) {
			h, ok := s.opts.StallHours[p.Status]
			if !ok || now.Sub(p.LastAt) < time.Duration(h)*time.Hour {
				return
			}
			found = append(found, Anomaly{ID: anomalyID(AnStalled, p.Key().String()+"|"+p.LastAt.Format(time.RFC3339)), Kind: AnStalled,
				Waybill: p.Waybill, Carrier: p.Carrier, MerchantID: p.MerchantID, FoundAt: now,
				Detail: fmt.Sprintf("%s since %s (%s, threshold %dh)", p.Status, p.LastAt.Format(time.RFC3339), round(now.Sub(p.LastAt)), h)})
		})
		if err != nil {
			return res, fmt.Errorf("scan stalled: %w", err)
		}
	}
	due := ParcelQuery{NotFinal: true, PromiseBefore: now}
	err := pages(window(due, since, full, func(q *ParcelQuery) { q.PromiseFrom = since }), func(p Parcel) {
		found = append(found, Anomaly{ID: anomalyID(AnPromiseBreached, p.Key().String()), Kind: AnPromiseBreached, Waybill: p.Waybill,
			Carrier: p.Carrier, MerchantID: p.MerchantID, FoundAt: now,
			Detail: fmt.Sprintf("promise due %s, not delivered (status %s)", p.PromiseBy.Format(time.RFC3339), p.Status)})
	})
	if err != nil {
		return res, fmt.Errorf("scan promises: %w", err)
	}
	// Bursts: parcels of one merchant collected inside the last window, to distinct recipients.
	// The store counts them per merchant; only a burst's own parcels are read.
	burstWindow := s.opts.BurstWindow
	counts, err := s.store.MerchantCounts(ctx, now.Add(-burstWindow), s.opts.BurstParcels)
	if err != nil {
		return res, fmt.Errorf("scan bursts: %w", err)
	}
	for _, mc := range counts {
		if mc.Parcels < s.opts.BurstParcels || mc.Recipients < s.opts.BurstParcels*8/10 {
			continue
		}
		merchant := mc.MerchantID
		var b struct {
			members  []Parcel
			waybills []string
			carrier  string
			first    time.Time
		}
		err := page(ParcelQuery{MerchantID: merchant, CollectedAfter: now.Add(-burstWindow)}, func(p Parcel) {
			if len(b.members) == 0 {
				b.carrier, b.first = p.Carrier, p.CollectedAt
			}
			b.members = append(b.members, p)
			b.waybills = append(b.waybills, p.Waybill)
			if p.CollectedAt.Before(b.first) {
				b.first = p.CollectedAt
			}
		})
		if err != nil {
			return res, fmt.Errorf("scan bursts: %w", err)
		}
		if len(b.members) == 0 {
			continue
		}
		sort.Strings(b.waybills)
		if err := s.withdrawBurst(ctx, b.members); err != nil {
			return res, fmt.Errorf("scan bursts: withdraw counts: %w", err)
		}
		sample := b.waybills
		if len(sample) > 20 {
			sample = sample[:20]
		}
		// One burst per merchant and window of its first collection, so later scans of the
		// same run find the same anomaly.
		slot := b.first.Truncate(burstWindow).Format(time.RFC3339)
		found = append(found, Anomaly{ID: anomalyID(AnMerchantBurst, merchant+"|"+slot), Kind: AnMerchantBurst, MerchantID: merchant, Carrier: b.carrier,
			Waybill: b.waybills[0], FoundAt: now,
			Detail: fmt.Sprintf("%d parcels to %d recipients within %s up to %s; first waybills: %s",
				len(b.waybills), mc.Recipients, burstWindow, now.Format(time.RFC3339), strings.Join(sample, ","))})
	}
	if res.DeemedLost, err = s.deemLost(ctx, now, since, full, pages); err != nil {
		return res, fmt.Errorf("scan deemed lost: %w", err)
	}
	res.Found = len(found)
	if len(found) == 0 {
		return res, s.reconcile(ctx, now, page)
	}
	var fresh []Anomaly
	err = s.store.Atomic(ctx, func(st Store) error {
		if n := s.opts.Notifier; n != nil {
			if err := n.Stored(ctx, st, nil, found); err != nil {
				return fmt.Errorf("announce: %w", err)
			}
		}
		var err error
		fresh, err = st.PutAnomalies(ctx, found)
		return err
	})
	if err != nil {
		return res, fmt.Errorf("store anomalies: %w", err)
	}
	if err := s.reconcile(ctx, now, page); err != nil {
		return res, err
	}
	res.New = fresh
	if len(fresh) > 0 {
		s.hub.kick() // stored: the alert stream reads them from the store, as every replica's
	}
	return res, nil
}

// reconcile runs after the bursts of this scan are stored, so that they are among those whose
// parcels it keeps out of the service statistics.
func (s *Service) reconcile(ctx context.Context, now time.Time, page func(ParcelQuery, func(Parcel)) error) error {
	if err := s.reconcileBursts(ctx, now, page); err != nil {
		return fmt.Errorf("scan bursts: reconcile: %w", err)
	}
	return nil
}

// Anomalies lists anomalies for regulators (all) and firms (their tree's carriers).
func (s *Service) Anomalies(ctx context.Context, c credtrace.Caller, q AnomalyQuery) ([]Anomaly, error) {
	if err := s.Flush(ctx); err != nil {
		return nil, err
	}
	switch c.Role {
	case credtrace.RoleRegulator:
		return s.store.Anomalies(ctx, q)
	case credtrace.RoleFirm:
		carriers, err := s.treeCarriers(ctx, c.FirmID, q.Carriers)
		if err != nil {
			return nil, err
		}
		q.Carriers = carriers
		return s.store.Anomalies(ctx, q)
	}
	return nil, credtrace.ErrForbidden
}

// AnomalyToIncident turns an anomaly into an incident of kind (regulators only).
func (s *Service) AnomalyToIncident(ctx context.Context, c credtrace.Caller, id string, kind IncidentKind, description string) (Incident, error) {
	if !c.IsRegulator() {
		return Incident{}, credtrace.ErrForbidden
	}
	if err := s.Flush(ctx); err != nil {
		return Incident{}, err
	}
	s.reports.Lock() // the proposals must see every incident of the parcel reported before
	defer s.reports.Unlock()
	a, err := s.store.Anomaly(ctx, id)
	if err != nil {
		return Incident{}, err
	}
	if a.IncidentID != "" {
		return Incident{}, fmt.Errorf("anomaly %s already became incident %s: %w", id, a.IncidentID, credtrace.ErrConflict)
	}
	if kind == "" {
		kind = map[AnomalyKind]IncidentKind{AnStalled: IncDelayed, AnPromiseBreached: IncDelayed, AnWeight: IncEmptyParcel,
			AnNoTransit: IncEmptyParcel, AnMerchantBurst: IncEmptyParcel, AnSecondCarrier: IncEmptyParcel, AnAfterDelivery: IncEmptyParcel, AnTemperature: IncDamaged}[a.Kind]
	}
	t, err := s.TraceParcel(ctx, c, a.Waybill, a.Carrier, "")
	if err != nil {
		return Incident{}, err
	}
	cfg, err := s.config(ctx, s.store, t.Carrier)
	if err != nil {
		return Incident{}, err
	}
	now := s.Now()
	if description == "" {
		description = "from anomaly " + string(a.Kind) + ": " + a.Detail
	}
	inc := Incident{ID: newID(), Waybill: t.Waybill, Carrier: t.Carrier, Kind: kind, Reporter: "anomaly scan", ReportedBy: c.TokenID,
		At: now, Description: description, AnomalyID: a.ID, CreatedAt: now, Party: "anomaly:" + a.ID}
	valid := false
	for _, k := range IncidentKinds {
		valid = valid || k == kind
	}
	if !valid {
		return Incident{}, credtrace.InvalidField("kind", "must be one of lost, damaged, delayed, false_signature, data_leak, empty_parcel, misdelivered")
	}
	inc.Attribution = Attribute(kind, t, cfg, now)
	return s.record(ctx, inc)
}

// ----- carrier configuration -----

// CarrierInput sets a carrier's configuration.
type CarrierInput struct {
	PromiseHours int
	DwellHours   map[string]int
	Codes        map[string]string
	WaybillRule  string
	GS1Prefixes  []string
	TempMinC     *float64
	TempMaxC     *float64
}

// SetCarrierConfig stores a carrier's promise, dwell standards and code mapping (regulators,
// or the carrier's own tree).
func (s *Service) SetCarrierConfig(ctx context.Context, c credtrace.Caller, firmID string, in CarrierInput) (CarrierConfig, error) {
	ok, err := s.canSeeCarrier(ctx, c, firmID)
	if err != nil {
		return CarrierConfig{}, err
	}
	if !ok {
		return CarrierConfig{}, credtrace.ErrNotFound
	}
	if exists, err := s.firmExists(ctx, firmID); err != nil {
		return CarrierConfig{}, err
	} else if !exists {
		return CarrierConfig{}, credtrace.ErrNotFound
	}
	v := &credtrace.Validation{}
	if in.PromiseHours < 0 || in.PromiseHours > 24*60 {
		v.Add("promise_hours", "must be between 0 (default 72) and 1440")
	}
	cfg := CarrierConfig{FirmID: firmID, PromiseHours: in.PromiseHours, DwellHours: map[Code]int{}, Codes: map[string]Code{}, UpdatedAt: s.Now()}
	for k, h := range in.DwellHours {
		if !Code(k).Valid() {
			v.Add("dwell_hours."+k, "not a normalised code")
		} else if h <= 0 || h > 24*60 {
			v.Add("dwell_hours."+k, "must be between 1 and 1440")
		}
		cfg.DwellHours[Code(k)] = h
	}
	if len(in.Codes) > 1000 {
		v.Add("codes", "at most 1000 mappings")
	}
	for raw, code := range in.Codes {
		switch {
		case raw == "" || len(raw) > maxRawCode:
			v.Add("codes", "carrier codes are 1 to %d characters", maxRawCode)
		case Code(raw).Valid():
			v.Add("codes."+raw, "is already a normalised code")
		case !Code(code).Valid():
			v.Add("codes."+raw, "%q is not a normalised code", code)
		}
		cfg.Codes[raw] = Code(code)
	}
	switch in.WaybillRule {
	case "", WaybillKey, WaybillSerial:
		cfg.WaybillRule = in.WaybillRule
	default:
		v.Add("epcis_waybill", "must be key or serial")
	}
	if len(in.GS1Prefixes) > 20 {
		v.Add("gs1_prefixes", "at most 20 company prefixes")
	}
	for _, p := range in.GS1Prefixes {
		if len(p) < 4 || len(p) > 12 || !isDigits(p) {
			v.Add("gs1_prefixes", "a GS1 company prefix is 4 to 12 digits")
		}
	}
	cfg.GS1Prefixes = slices.Clone(in.GS1Prefixes)
	for _, t := range []struct {
		name string
		v    *float64
	}{{"temp_min_c", in.TempMinC}, {"temp_max_c", in.TempMaxC}} {
		if t.v != nil && (math.IsNaN(*t.v) || *t.v < -100 || *t.v > 100) {
			v.Add(t.name, "must be between -100 and 100 °C")
		}
	}
	if in.TempMinC != nil && in.TempMaxC != nil && *in.TempMinC > *in.TempMaxC {
		v.Add("temp_min_c", "must not be above temp_max_c")
	}
	cfg.TempMinC, cfg.TempMaxC = in.TempMinC, in.TempMaxC
	if len(v.Fields) > 0 {
		sort.Slice(v.Fields, func(i, j int) bool { return v.Fields[i].Field < v.Fields[j].Field })
		return CarrierConfig{}, v.Err()
	}
	if err := s.store.PutCarrierConfig(ctx, cfg); err != nil {
		return CarrierConfig{}, fmt.Errorf("set carrier config: %w", err)
	}
	return cfg, nil
}

// CarrierConfig returns a carrier's configuration (the defaults when unset).
func (s *Service) CarrierConfig(ctx context.Context, c credtrace.Caller, firmID string) (CarrierConfig, error) {
	ok, err := s.canSeeCarrier(ctx, c, firmID)
	if err != nil {
		return CarrierConfig{}, err
	}
	if !ok {
		return CarrierConfig{}, credtrace.ErrNotFound
	}
	return s.config(ctx, s.store, firmID)
}

// Totals sums the statistics of every subject of kind between two days, for scoring.
func (s *Service) Totals(ctx context.Context, kind SubjectKind, from, to string) (map[string]map[Metric]int, error) {
	if err := s.Flush(ctx); err != nil {
		return nil, err
	}
	return s.store.StatTotals(ctx, kind, from, to)
}

// TotalsPage is Totals a page at a time, in subject id order (see Store.StatTotalsPage).
// Before the first page (after is empty) statistics waiting in the folder are flushed, as
// Totals flushes them; the later pages read on without waiting for the folder again.
func (s *Service) TotalsPage(ctx context.Context, kind SubjectKind, from, to, after string, limit int) ([]SubjectTotals, error) {
	if after == "" {
		if err := s.Flush(ctx); err != nil {
			return nil, err
		}
	}
	return s.store.StatTotalsPage(ctx, kind, from, to, after, limit)
}

// Stats returns the day statistics of one subject between two days.
func (s *Service) Stats(ctx context.Context, kind SubjectKind, id, from, to string) ([]DayStats, error) {
	for _, d := range []struct{ name, v string }{{"from", from}, {"to", to}} {
		if _, err := time.Parse("2006-01-02", d.v); err != nil {
			return nil, credtrace.InvalidField(d.name, "must be a day YYYY-MM-DD")
		}
	}
	if from > to {
		return nil, credtrace.InvalidField("from", "must not be after to")
	}
	if err := s.Flush(ctx); err != nil {
		return nil, err
	}
	return s.store.Stats(ctx, StatsQuery{Kind: kind, IDs: []string{id}, From: from, To: to})
}

// Suspect lists the empty-parcel signals found on a parcel (implausible weight, no transit,
// a second carrier, a collection after delivery): ratings of such parcels count for little.
func (s *Service) Suspect(ctx context.Context, k ParcelKey) ([]AnomalyKind, error) {
	if err := s.Flush(ctx); err != nil {
		return nil, err
	}
	var out []AnomalyKind
	for _, kind := range []AnomalyKind{AnWeight, AnNoTransit, AnSecondCarrier, AnAfterDelivery} {
		_, err := s.store.Anomaly(ctx, anomalyID(kind, k.String()))
		if err == nil {
			out = append(out, kind)
		} else if !errors.Is(err, credtrace.ErrNotFound) {
			return nil, err
		}
	}
	return out, nil
}

// MerchantParcels lists a merchant's parcels collected in the last days, newest first, at most
// limit: what a merchant may rate.
func (s *Service) MerchantParcels(ctx context.Context, c credtrace.Caller, days, limit int) ([]Parcel, error) {
	if c.Role != credtrace.RoleMerchant || c.MerchantID == "" {
		return nil, credtrace.ErrForbidden
	}
	if err := s.Flush(ctx); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return []Parcel{}, nil
	}
	return s.store.Parcels(ctx, ParcelQuery{MerchantID: c.MerchantID, CollectedAfter: s.Now().AddDate(0, 0, -days), NewestCollected: true, Limit: limit})
}
