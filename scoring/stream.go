package scoring

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/credtrace/credtrace/tracking"
)

// A run streams its subjects: the staff (a million couriers nationally) and every subject's
// statistics are read a page at a time, in id order, and never held all at once. It holds
// only what is small or what a subject's score needs from all the others:
//
//   - the firms and sites, the records in force, the ratings and the commitments (gatherBase);
//   - each peer group's scores as a count per distinct value (scores are in hundredths of
//     0..1000, so at most 100,001 values a group, whatever the number of subjects), for the
//     percentiles;
//   - each firm's score in brief (value, uncertainty, parcels, grade), for the HQs' roll-up
//     of their trees, and the published firms' grades, for the proposals.
//
// It reads the subjects three times: (1) the inputs' lines, in the order InputsHash hashes
// them (every staff line before any statistic), with the statistics of the rated subjects for
// the peer groups' rating priors; (2) each subject scored, for the roll-ups and the peer
// groups' values; (3) each subject scored again, rolled up, ranked among its peers and
// stored in batches. Scoring a subject is a pure function of its inputs, so pass 3 scores
// what pass 2 did, and the scores, grades and explanations are those Compute gives over the
// same inputs held whole (TestStreamedRunMatchesCompute).

// scoreBatch is how many scores a run stores, and reports its progress, at a time.
const scoreBatch = 1000

// stream is one run's streamed view of its inputs.
type stream struct {
	s        *Service
	m        Methodology
	base     Inputs // all but Staff and Stats
	from, to string // the statistics' window, days inclusive

	records map[string][]RecordIn             // subject key → records in force, in input order
	ratings map[string]map[RaterKind][]Rating // subject key → netted ratings, in netted order
	kinds   map[string]string                 // firm → kind
	priors  func(*subjectData) ratingPrior
}

// peerOf is Compute's peer group of a subject: kind (a firm's kind too) and volume band.
func (st *stream) peerOf(kind SubjectKind, id string, parcels int) string {
	k := string(kind)
	if kind == Firm {
		k = "firm:" + st.kinds[id]
	}
	return k + "/" + st.m.band(parcels)
}

// subject gathers one subject's inputs, as Compute does for it.
func (st *stream) subject(kind SubjectKind, id, firm string, c Counts) *subjectData {
	k := key(kind, id)
	d := &subjectData{kind: kind, id: id, firm: firm, counts: c, records: st.records[k], ratings: st.ratings[k], commits: st.base.Commitments[k]}
	if d.ratings == nil {
		d.ratings = map[RaterKind][]Rating{}
	}
	return d
}

// newStream reads the inputs held whole and indexes them by subject.
func (s *Service) newStream(ctx context.Context, m Methodology, asOf time.Time) (*stream, error) {
	base, err := s.gatherBase(ctx, m, asOf)
	if err != nil {
		return nil, err
	}
	st := &stream{s: s, m: m, base: base, from: base.StatsFrom, to: statsTo(asOf),
		records: map[string][]RecordIn{}, ratings: map[string]map[RaterKind][]Rating{}, kinds: map[string]string{}}
	for _, r := range base.Records {
		k := key(r.SubjectKind, r.SubjectID)
		st.records[k] = append(st.records[k], r)
	}
	for _, r := range netted(m, base.Ratings) {
		for _, t := range []struct {
			kind SubjectKind
			id   string
		}{{Firm, r.FirmID}, {Site, r.SiteID}, {Staff, r.StaffID}} {
			if t.id == "" {
				continue
			}
			k := key(t.kind, t.id)
			if st.ratings[k] == nil {
				st.ratings[k] = map[RaterKind][]Rating{}
			}
			st.ratings[k][r.RaterKind] = append(st.ratings[k][r.RaterKind], r)
		}
	}
	for _, f := range base.Firms {
		st.kinds[f.ID] = f.Kind
	}
	return st, nil
}

// eachSubject hands fn every subject of kind, in id order, with its statistics (zero without
// any), and stat every statistic row of kind, the subjects' and those of ids that are no
// subject, in id order. Firms and sites come from the inputs held whole, staff a page at a
// time from the archive; the statistics a page at a time from the tracker, merged by id.
// Without fn only the statistics are read; stat may be nil.
func (st *stream) eachSubject(ctx context.Context, kind SubjectKind, fn func(id, firm string, c Counts) error, stat func(id string, c Counts) error) error {
	cur := &statCursor{st: st, kind: kind}
	// upTo hands stat the rows up to id (all of them when all) and answers id's counts.
	upTo := func(id string, all bool) (Counts, error) {
		var c Counts
		for {
			t, ok, err := cur.peek(ctx)
			if err != nil || !ok || (!all && t.ID > id) {
				return c, err
			}
			tc := countsOf(t.Totals)
			if stat != nil {
				if err := stat(t.ID, tc); err != nil {
					return c, err
				}
			}
			if t.ID == id {
				c = tc
			}
			cur.next()
		}
	}
	if fn != nil {
		last := ""
		visit := func(id, firm string) error {
			if last != "" && id <= last {
				return fmt.Errorf("%s subjects out of id order: %q after %q", kind, id, last)
			}
			last = id
			c, err := upTo(id, false)
			if err != nil {
				return err
			}
			return fn(id, firm, c)
		}
		switch kind {
		case Firm:
			for _, f := range sortedFirms(st.base.Firms) {
				if err := visit(f.ID, f.ID); err != nil {
					return err
				}
			}
		case Site:
			for _, x := range sortedSites(st.base.Sites) {
				if err := visit(x.ID, x.FirmID); err != nil {
					return err
				}
			}
		case Staff:
			if err := st.s.staffPages(ctx, st.base.AsOf, func(ps []StaffIn) error {
				for _, p := range ps {
					if err := visit(p.ID, p.FirmID); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				return err
			}
		}
	}
	_, err := upTo("", true) // the statistics of ids after the last subject
	return err
}

func sortedFirms(fs []FirmIn) []FirmIn {
	out := append([]FirmIn(nil), fs...)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func sortedSites(ss []SiteIn) []SiteIn {
	out := append([]SiteIn(nil), ss...)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// statCursor reads one kind's statistics a page at a time.
type statCursor struct {
	st   *stream
	kind SubjectKind
	page []tracking.SubjectTotals
	i    int
	done bool
}

// peek is the current row, reading the next page when the current one is used up; false at
// the end.
func (c *statCursor) peek(ctx context.Context) (tracking.SubjectTotals, bool, error) {
	if c.i < len(c.page) {
		return c.page[c.i], true, nil
	}
	if c.done {
		return tracking.SubjectTotals{}, false, nil
	}
	after := ""
	if len(c.page) > 0 {
		after = c.page[len(c.page)-1].ID
	}
	page, err := c.st.s.tracker.TotalsPage(ctx, tracking.SubjectKind(c.kind), c.st.from, c.st.to, after, c.st.s.page)
	if err != nil {
		return tracking.SubjectTotals{}, false, fmt.Errorf("statistics of %s after %q: %w", c.kind, after, err)
	}
	for i, t := range page {
		if (i == 0 && after != "" && t.ID <= after) || (i > 0 && t.ID <= page[i-1].ID) {
			return tracking.SubjectTotals{}, false, fmt.Errorf("statistics of %s out of id order: %q", c.kind, t.ID)
		}
	}
	c.page, c.i, c.done = page, 0, len(page) < c.st.s.page
	if len(page) == 0 {
		return tracking.SubjectTotals{}, false, nil
	}
	return c.page[0], true, nil
}

func (c *statCursor) next() { c.i++ }

// read is pass 1: it hashes the inputs' lines as InputsHash does, counts them as a run
// reports them, and sets the rating priors, for which it keeps the rated subjects' volumes.
func (st *stream) read(ctx context.Context) (string, map[string]int, error) {
	h := sha256.New()
	enc := json.NewEncoder(h)
	enc.SetEscapeHTML(false)
	put := func(ls ...inputLine) {
		for _, l := range ls {
			enc.Encode(l) // a hash.Hash never fails to write
		}
	}
	b := st.base
	put(inputLines(Inputs{Firms: b.Firms, Sites: b.Sites})...)
	// The subjects with ratings, for the priors: Compute's subjects but those without a rating,
	// which add nothing to any group's sums.
	rated := map[string]*subjectData{}
	note := func(kind SubjectKind, id, firm string) {
		if k := key(kind, id); st.ratings[k] != nil {
			rated[k] = st.subject(kind, id, firm, Counts{})
		}
	}
	for _, f := range b.Firms {
		note(Firm, f.ID, f.ID)
	}
	for _, x := range b.Sites {
		note(Site, x.ID, x.FirmID)
	}
	staff, last := 0, ""
	if err := st.s.staffPages(ctx, b.AsOf, func(ps []StaffIn) error {
		for _, p := range ps {
			if last != "" && p.ID <= last {
				return fmt.Errorf("staff out of id order: %q after %q", p.ID, last)
			}
			last = p.ID
			put(staffLine(p))
			note(Staff, p.ID, p.FirmID)
			staff++
		}
		return nil
	}); err != nil {
		return "", nil, err
	}
	put(inputLines(Inputs{Records: b.Records})...)
	counts := map[string]int{"firms": len(b.Firms), "sites": len(b.Sites), "staff": staff, "records": len(b.Records), "ratings": len(b.Ratings)}
	for _, kind := range []SubjectKind{Firm, Site, Staff} {
		n := 0
		if err := st.eachSubject(ctx, kind, nil, func(id string, c Counts) error {
			put(statLine(kind, id, c))
			if d := rated[key(kind, id)]; d != nil {
				d.counts = c
			}
			n++
			return nil
		}); err != nil {
			return "", nil, err
		}
		counts["stat_subjects_"+string(kind)] = n
	}
	put(inputLines(Inputs{Ratings: b.Ratings, Commitments: b.Commitments})...)
	st.priors = peerPriors(st.m, rated, firmPrior(st.m, rated), st.peerOf)
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), counts, nil
}

// firmPrior is Compute's rating prior: by rater kind, the weighted mean of the firms' ratings,
// else the methodology's.
func firmPrior(m Methodology, subjects map[string]*subjectData) map[RaterKind]float64 {
	keys := make([]string, 0, len(subjects))
	for k := range subjects {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	prior := map[RaterKind]float64{}
	for _, rk := range []RaterKind{RaterMerchant, RaterConsumer} {
		sum, w := 0.0, 0.0
		for _, k := range keys {
			d := subjects[k]
			if d.kind != Firm {
				continue
			}
			for _, r := range d.ratings[rk] {
				sum += float64(r.Stars) * r.Weight
				w += r.Weight
			}
		}
		prior[rk] = m.PriorMean
		if w >= 1 {
			prior[rk] = sum / w
		}
	}
	return prior
}

// ranking is what pass 2 learns of all subjects for each one's score: the peer groups' values
// and the firms' scores in brief, the HQs' rolled up.
type ranking struct {
	subjects int
	groups   map[string]*peerValues
	firms    map[string]*Score // key → value, uncertainty, parcels, grade; an HQ's roll-up component
}

// rank is pass 2: every subject scored, the HQs rolled up over their trees as Compute rolls
// them, and each graded subject's value counted in its peer group.
func (st *stream) rank(ctx context.Context) (*ranking, error) {
	rk := &ranking{groups: map[string]*peerValues{}, firms: map[string]*Score{}}
	add := func(sc *Score) {
		if sc.Grade == Insufficient {
			return
		}
		g := st.peerOf(sc.Subject, sc.SubjectID, sc.Parcels)
		if rk.groups[g] == nil {
			rk.groups[g] = &peerValues{counts: map[float64]int{}}
		}
		rk.groups[g].add(sc.Value)
	}
	for _, kind := range []SubjectKind{Firm, Site, Staff} {
		if err := st.eachSubject(ctx, kind, func(id, firm string, c Counts) error {
			d := st.subject(kind, id, firm, c)
			sc := scoreOne(st.m, st.base, d, st.priors(d))
			rk.subjects++
			if kind == Firm {
				rk.firms[key(Firm, id)] = &Score{Subject: Firm, SubjectID: id, Parcels: sc.Parcels, Value: sc.Value, Uncertainty: sc.Uncertainty, Grade: sc.Grade}
				return nil
			}
			add(&sc)
			return nil
		}, nil); err != nil {
			return nil, err
		}
		if kind != Firm {
			continue
		}
		children := map[string][]string{}
		for _, f := range st.base.Firms {
			if f.ParentID != "" {
				children[f.ParentID] = append(children[f.ParentID], f.ID)
			}
		}
		for _, ids := range children {
			sort.Strings(ids)
		}
		for _, f := range st.base.Firms {
			if f.Kind == "hq" && len(children[f.ID]) > 0 {
				rollUp(st.m, rk.firms, children, f.ID)
			}
		}
		for _, sc := range rk.firms {
			add(sc)
		}
	}
	for _, g := range rk.groups {
		g.seal()
	}
	return rk, nil
}

// finish completes a subject's score as Compute does after scoring it alone: an HQ's
// roll-up, its peer group, the grade's range, its percentile among its peers.
func (st *stream) finish(rk *ranking, sc *Score) {
	if sc.Subject == Firm {
		if b := rk.firms[key(Firm, sc.SubjectID)]; b != nil && len(b.Components) > 0 {
			sc.Components = append(sc.Components, b.Components...)
			sc.Value, sc.Uncertainty, sc.Parcels, sc.Grade = b.Value, b.Uncertainty, b.Parcels, b.Grade
		}
	}
	sc.PeerGroup = st.peerOf(sc.Subject, sc.SubjectID, sc.Parcels)
	if st.m.Evidence != nil {
		gradeRange(st.m, sc)
	}
	if sc.Grade != Insufficient {
		if g := rk.groups[sc.PeerGroup]; g != nil && g.n > 1 {
			sc.Percentile = round2(100 * float64(g.better(sc.Value)) / float64(g.n-1))
		}
	}
}

// peerValues is one peer group's graded scores, as a count per distinct value.
type peerValues struct {
	n      int
	counts map[float64]int
	values []float64 // distinct, ascending (seal)
	above  []int     // above[i]: the scores from values[i] up
}

func (p *peerValues) add(v float64) {
	p.n++
	if !math.IsNaN(v) { // a NaN is neither above nor below a score, as in Compute's comparison
		p.counts[v]++
	}
}

func (p *peerValues) seal() {
	p.values = make([]float64, 0, len(p.counts))
	for v := range p.counts {
		p.values = append(p.values, v)
	}
	sort.Float64s(p.values)
	p.above = make([]int, len(p.values)+1)
	for i := len(p.values) - 1; i >= 0; i-- {
		p.above[i] = p.above[i+1] + p.counts[p.values[i]]
	}
}

// better is how many of the group scored more than v.
func (p *peerValues) better(v float64) int {
	if math.IsNaN(v) {
		return 0
	}
	return p.above[sort.Search(len(p.values), func(i int) bool { return p.values[i] > v })]
}

// execute gathers the inputs as of the run's time, scores, stores, and (for a publishing run)
// turns the grades into proposals; every run lifts sanctions whose records were repaired. It
// streams the subjects (see stream): its memory follows the firms, sites, records and
// ratings, not the staff or their statistics.
func (s *Service) execute(ctx context.Context, m Methodology, r *Run, holder string) error {
	st, err := s.newStream(ctx, m, r.AsOf)
	if err != nil {
		return fmt.Errorf("gather inputs: %w", err)
	}
	if r.InputsHash, r.Inputs, err = st.read(ctx); err != nil {
		return fmt.Errorf("gather inputs: %w", err)
	}
	rk, err := st.rank(ctx)
	if err != nil {
		return fmt.Errorf("gather inputs: %w", err)
	}
	r.Total = rk.subjects
	var firms []Score // the grades the proposals follow
	batch := make([]Score, 0, scoreBatch)
	flush := func() error {
		if err := s.store.PutScores(ctx, batch); err != nil {
			return fmt.Errorf("store scores: %w", err)
		}
		r.Progress += len(batch)
		batch = make([]Score, 0, scoreBatch)
		// Keep the lease while a long run goes on, and show the progress.
		now := s.Now()
		if ok, err := s.store.AcquireLease(ctx, LeaseName, holder, now.Add(leaseTTL), now); err != nil {
			return err
		} else if !ok {
			return fmt.Errorf("lost the scoring lease to another instance: %w", ErrLeaseHeld)
		}
		r.Version++
		return s.store.UpdateRun(ctx, *r)
	}
	for _, kind := range []SubjectKind{Firm, Site, Staff} {
		var stored error // a store's error, told apart from a read's
		if err := st.eachSubject(ctx, kind, func(id, firm string, c Counts) error {
			d := st.subject(kind, id, firm, c)
			sc := scoreOne(m, st.base, d, st.priors(d))
			sc.RunID = r.ID
			st.finish(rk, &sc)
			sc.Published, sc.MethodHash, sc.Period = r.Publish, r.MethodHash, r.Period
			if kind == Firm && r.Publish {
				firms = append(firms, Score{Subject: Firm, SubjectID: id, Grade: sc.Grade})
			}
			batch = append(batch, sc)
			if len(batch) == scoreBatch {
				stored = flush()
				return stored
			}
			return nil
		}, nil); err != nil {
			if stored != nil {
				return err
			}
			return fmt.Errorf("gather inputs: %w", err)
		}
	}
	if len(batch) > 0 {
		if err := flush(); err != nil {
			return err
		}
	}
	if r.Publish {
		n, err := s.propose(ctx, m, *r, firms, Inputs{Sites: st.base.Sites, Records: st.base.Records})
		if err != nil {
			return fmt.Errorf("proposals: %w", err)
		}
		r.Proposals = n
	}
	return s.liftRepaired(ctx)
}
