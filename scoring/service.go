package scoring

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/tracking"
)

// Archive is what scoring reads of the credit archive (a subset of courier.Store).
type Archive interface {
	Firms(ctx context.Context, q courier.FirmQuery) ([]courier.Firm, error)
	Firm(ctx context.Context, id string) (courier.Firm, error)
	FirmByUSCC(ctx context.Context, uscc string) (courier.Firm, error)
	Sites(ctx context.Context, q courier.SiteQuery) ([]courier.Site, error)
	Site(ctx context.Context, id string) (courier.Site, error)
	Staff(ctx context.Context, id string) (courier.Staff, error)
	StaffList(ctx context.Context, q courier.StaffQuery) ([]courier.Staff, error)
	Records(ctx context.Context, q courier.RecordQuery) ([]courier.Record, error)
	Record(ctx context.Context, id string) (courier.Record, error)
	Commitments(ctx context.Context, q courier.CommitmentQuery) ([]courier.Commitment, error)
}

// Tracker is what scoring asks of parcel traceability (a subset of *tracking.Service).
type Tracker interface {
	Totals(ctx context.Context, kind tracking.SubjectKind, from, to string) (map[string]map[tracking.Metric]int, error)
	// TotalsPage is Totals a page at a time: the subjects after after, in id order, at most
	// limit, so that a run streams the statistics instead of holding them all.
	TotalsPage(ctx context.Context, kind tracking.SubjectKind, from, to, after string, limit int) ([]tracking.SubjectTotals, error)
	TraceParcel(ctx context.Context, c credtrace.Caller, waybill, carrier, phone4 string) (tracking.Trace, error)
	Suspect(ctx context.Context, k tracking.ParcelKey) ([]tracking.AnomalyKind, error)
}

// Service is scoring: ratings, methodology, runs, scores, lists and sanctions.
type Service struct {
	store    Store
	archive  Archive
	tracker  Tracker
	inTree   func(ctx context.Context, root, id string) (bool, error)
	now      func() time.Time
	instance string   // this process's lease holder name
	cal      Calendar // the evaluation periods
	auditor  Auditor  // nil: decisions are not audited (see SetAuditor)
	page     int      // subjects a run reads at a time (courier.MaxLimit; smaller in tests)
}

// NewService returns a Service. inTree answers firm scoping (courier.Service.InTree).
func NewService(store Store, archive Archive, tracker Tracker, inTree func(ctx context.Context, root, id string) (bool, error), now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, archive: archive, tracker: tracker, inTree: inTree, now: now, instance: uuid.NewString(), cal: DefaultCalendar(), page: courier.MaxLimit}
}

// SetCalendar sets the evaluation periods (default: DefaultCalendar); call it before use. A
// setter rather than a parameter keeps NewService's callers as they are, since nearly all of
// them want the default.
func (s *Service) SetCalendar(c Calendar) {
	if !c.Kind.Valid() {
		c.Kind = Month
	}
	if c.Loc == nil {
		c.Loc = DefaultCalendar().Loc
	}
	s.cal = c
}

// Calendar returns the evaluation periods.
func (s *Service) Calendar() Calendar { return s.cal }

// Now is the service clock in UTC at millisecond precision.
func (s *Service) Now() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// ----- methodology -----

// method returns the methodology of a version ("" for the one in force now).
func (s *Service) method(ctx context.Context, version string) (Methodology, error) {
	if version == "" {
		m, _, err := s.CurrentMethod(ctx)
		return m, err
	}
	d, err := s.MethodVersion(ctx, version)
	if err != nil {
		return Methodology{}, err
	}
	return ParseMethod(d.Doc)
}

// ----- ratings -----

// RatingInput is one rating of a delivery.
type RatingInput struct {
	Waybill string
	Carrier string // chooses the parcel when several carriers use the waybill
	Stars   int
	Tags    []string
	Comment string
	Phone4  string // consumers: the last four digits of the recipient's phone
}

// RatingTags are the tags a rating may carry.
var RatingTags = []string{"late", "damaged", "rude", "false_signature", "lost", "good_service", "careful", "on_time"}

// Rate records a merchant's rating of one of its own delivered waybills, or a consumer's with
// the phone check. One rating per rater and waybill, editable for the methodology's edit time.
// The answer carries the weight the rating will count for and why it is less than one.
func (s *Service) Rate(ctx context.Context, c credtrace.Caller, in RatingInput) (Rating, error) {
	if err := checkRating(in); err != nil {
		return Rating{}, err
	}
	m, err := s.method(ctx, "")
	if err != nil {
		return Rating{}, err
	}
	var kind RaterKind
	var rater string
	const noParcelForPhone = "no delivered parcel with this waybill and phone"
	// The rater's own view decides which parcel is rated: a waybill that several carriers use is
	// resolved among the parcels this rater may see (ambiguous among those: tracking's
	// *AmbiguousError), never among all of them.
	var seen tracking.Trace
	switch c.Role {
	case credtrace.RoleMerchant:
		kind, rater = RaterMerchant, c.MerchantID
		t, err := s.tracker.TraceParcel(ctx, credtrace.Caller{Role: credtrace.RoleMerchant, MerchantID: c.MerchantID, TokenID: c.TokenID}, in.Waybill, in.Carrier, "")
		if errors.Is(err, credtrace.ErrNotFound) || (err == nil && t.MerchantID != c.MerchantID) {
			return Rating{}, credtrace.InvalidField("waybill", "not a parcel this merchant shipped")
		}
		if err != nil {
			return Rating{}, err
		}
		seen = t
	case credtrace.RolePublic:
		kind = RaterConsumer
		if len(in.Phone4) != 4 {
			return Rating{}, credtrace.InvalidField("phone4", "the last four digits of the recipient's phone are required")
		}
		t, err := s.tracker.TraceParcel(ctx, credtrace.Caller{Role: credtrace.RolePublic}, in.Waybill, in.Carrier, in.Phone4)
		if errors.Is(err, credtrace.ErrNotFound) {
			return Rating{}, credtrace.InvalidField("waybill", noParcelForPhone)
		} else if err != nil {
			return Rating{}, err
		}
		seen = t
	default:
		return Rating{}, credtrace.ErrForbidden
	}
	t, err := s.tracker.TraceParcel(ctx, credtrace.System, in.Waybill, seen.Carrier, "")
	if err != nil {
		return Rating{}, err
	}
	if t.DeliveredAt.IsZero() {
		if kind == RaterConsumer {
			// Answered as a wrong phone is, so that the answer tells a guesser nothing.
			return Rating{}, credtrace.InvalidField("waybill", noParcelForPhone)
		}
		return Rating{}, credtrace.InvalidField("waybill", "the parcel has not been delivered: only delivered parcels can be rated")
	}
	if kind == RaterConsumer {
		rater = recipientOf(t)
		if rater == "" {
			return Rating{}, credtrace.InvalidField("waybill", noParcelForPhone)
		}
	}
	return s.keepRating(ctx, m, kind, rater, t, in, time.Time{}, map[string]string{})
}

// checkRating checks a rating's own fields.
func checkRating(in RatingInput) error {
	v := &credtrace.Validation{}
	if strings.TrimSpace(in.Waybill) == "" {
		v.Add("waybill", "required")
	}
	if in.Stars < 1 || in.Stars > 5 {
		v.Add("stars", "must be 1 to 5")
	}
	if len(in.Tags) > 8 {
		v.Add("tags", "at most 8")
	}
	for i, t := range in.Tags {
		if !slices.Contains(RatingTags, t) {
			v.Add(fmt.Sprintf("tags[%d]", i), "must be one of %s", strings.Join(RatingTags, ", "))
		}
	}
	if utf8.RuneCountInString(in.Comment) > 500 {
		v.Add("comment", "at most 500 characters")
	}
	return v.Err()
}

// keepRating stores rater's rating of the delivered parcel t (a new one, or the edit of its
// rating of the waybill within the edit time), weighed by the rules: ratedAt is when the rater
// gave it (zero: now). roots caches firms' tree roots across the calls of one batch.
func (s *Service) keepRating(ctx context.Context, m Methodology, kind RaterKind, rater string, t tracking.Trace, in RatingInput, ratedAt time.Time, roots map[string]string) (Rating, error) {
	var del tracking.Event
	for _, e := range t.Events {
		if e.Code == tracking.Delivered {
			del = e
		}
	}
	now := s.Now()
	if ratedAt.IsZero() {
		ratedAt = now
	}
	r, err := s.store.RatingByRater(ctx, kind, rater, t.Waybill)
	fresh := errors.Is(err, credtrace.ErrNotFound)
	if err != nil && !fresh {
		return Rating{}, err
	}
	if !fresh && now.Sub(r.CreatedAt) > time.Duration(m.RatingEditHours)*time.Hour {
		return Rating{}, stateErr("a rating can be changed for %d hours after it is given", m.RatingEditHours)
	}
	if fresh {
		r = Rating{ID: newID(), RaterKind: kind, RaterID: rater, Waybill: t.Waybill, CreatedAt: now}
	}
	r.FirmID, r.SiteID, r.StaffID = t.Carrier, del.SiteID, del.StaffID
	if del.FirmID != "" {
		r.FirmID = del.FirmID
	}
	r.Stars, r.Tags, r.Comment, r.UpdatedAt, r.RatedAt = in.Stars, in.Tags, strings.TrimSpace(in.Comment), now, ratedAt
	suspect, err := s.tracker.Suspect(ctx, tracking.ParcelKey{Carrier: t.Carrier, Waybill: t.Waybill})
	if err != nil {
		return Rating{}, err
	}
	// The rater's ratings given within a window either side: a burst window holding this one
	// may start before it or end after it (a platform pushes ratings in any order).
	// Under BurstPace, from the baseline before it, for the rater's pace.
	from := ratedAt.Add(-BurstWindow)
	if m.BurstPace > 0 {
		from = ratedAt.Add(-BurstBaseline)
	}
	recent, err := s.store.Ratings(ctx, RatingQuery{RaterKind: kind, RaterID: rater, RatedFrom: from, RatedTo: ratedAt.Add(BurstWindow)})
	if err != nil {
		return Rating{}, err
	}
	if m.BurstScope == BurstPerTree {
		own, err := s.treeRoot(ctx, r.FirmID, roots)
		if err != nil {
			return Rating{}, err
		}
		same := recent[:0:0]
		for _, o := range recent {
			root, err := s.treeRoot(ctx, o.FirmID, roots)
			if err != nil {
				return Rating{}, err
			}
			if root == own {
				same = append(same, o)
			}
		}
		recent = same
	}
	r.Weight, r.Flags = assess(m, r, recent, suspect)
	if fresh {
		r.Version = 1
		err = s.store.CreateRating(ctx, r)
	} else {
		r.Version++
		err = s.store.UpdateRating(ctx, r)
	}
	if err != nil {
		return Rating{}, fmt.Errorf("rate %s: %w", t.Waybill, err)
	}
	return r, nil
}

// treeRoot returns the root of firm id's tree from the archive (a firm the archive does not
// know is its own root), remembering it in roots.
func (s *Service) treeRoot(ctx context.Context, id string, roots map[string]string) (string, error) {
	if r, ok := roots[id]; ok {
		return r, nil
	}
	at, seen := id, map[string]bool{}
	for !seen[at] {
		seen[at] = true
		f, err := s.archive.Firm(ctx, at)
		if errors.Is(err, credtrace.ErrNotFound) {
			break
		} else if err != nil {
			return "", fmt.Errorf("tree of firm %s: %w", id, err)
		}
		if f.ParentID == "" {
			break
		}
		at = f.ParentID
	}
	roots[id] = at
	return at, nil
}

// recipientOf returns the keyed identity of the parcel's recipient from its collection.
func recipientOf(t tracking.Trace) string {
	for _, e := range t.Events {
		if e.RecipientID != "" {
			return e.RecipientID
		}
	}
	return ""
}

// assess decides what a rating counts for when it is given. A burst (see burstOnes) counts
// BurstWeight; a 5-star rating of a parcel with empty-parcel signals counts SuspectFiveStar.
func assess(m Methodology, r Rating, recent []Rating, suspect []tracking.AnomalyKind) (float64, []string) {
	w := 1.0
	var flags []string
	if ones := burstOnes(m, r, recent); ones >= m.BurstCount {
		w = m.BurstWeight
		flags = append(flags, burstFlag(ones))
	}
	if r.Stars == 5 && len(suspect) > 0 {
		names := make([]string, len(suspect))
		for i, k := range suspect {
			names[i] = string(k)
		}
		w = m.SuspectFiveStar
		flags = append(flags, "five stars on an empty-parcel suspect ("+strings.Join(names, ", ")+")")
	}
	return w, flags
}

// BurstWindow is the span of the burst rule: BurstCount or more one-star ratings by one rater
// within it (as after a dispute) each count BurstWeight.
const BurstWindow = 24 * time.Hour

// burstOnes returns, for a one-star rating r, the most one-star ratings in any BurstWindow that
// holds r, among r and the rater's others (r itself is counted once, by id); 0 for other stars.
// Windows are of the times the ratings were given (GivenAt), so that a platform's day of
// ratings pushed at once is judged by when each was given, not by when it arrived.
// The rating's own call (assess) and the run's look at all ratings at once (reassess) both ask
// it, so that a rating is a burst by the same rule whenever it is looked at.
//
// Under m.BurstPace > 0 only the ones chained to r by gaps shorter than the rater's pace (see
// burstLink) count.
func burstOnes(m Methodology, r Rating, others []Rating) int {
	if r.Stars != 1 {
		return 0
	}
	at := r.GivenAt()
	ones := []time.Time{at}
	for _, o := range others {
		if o.ID != r.ID && o.Stars == 1 {
			ones = append(ones, o.GivenAt())
		}
	}
	if m.BurstPace > 0 {
		ones = chained(ones, at, burstLink(m, r, others))
	}
	most := 0
	for _, start := range ones {
		if start.After(at) || at.Sub(start) >= BurstWindow {
			continue
		}
		n := 0
		for _, t := range ones {
			if !t.Before(start) && t.Sub(start) < BurstWindow {
				n++
			}
		}
		most = max(most, n)
	}
	return most
}

// BurstBaseline is the span before a rating over which BurstPace takes the rater's pace.
const BurstBaseline = 30 * 24 * time.Hour

// burstLink is the longest gap between two one-star ratings of a burst under BurstPace: that
// share of the rater's pace, the mean time between its ratings (any stars) given in the
// BurstBaseline before r, and at most BurstWindow (a rater with no ratings before r has the
// window).
func burstLink(m Methodology, r Rating, others []Rating) time.Duration {
	at, n := r.GivenAt(), 0
	for _, o := range others {
		if t := o.GivenAt(); o.ID != r.ID && t.Before(at) && at.Sub(t) <= BurstBaseline {
			n++
		}
	}
	if n == 0 {
		return BurstWindow
	}
	return min(BurstWindow, time.Duration(m.BurstPace*float64(BurstBaseline)/float64(n)))
}

// chained returns the times of ts (which hold at) linked to at by steps shorter than link,
// in order.
func chained(ts []time.Time, at time.Time, link time.Duration) []time.Time {
	ts = append([]time.Time(nil), ts...)
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	i := sort.Search(len(ts), func(i int) bool { return !ts[i].Before(at) })
	lo, hi := i, i
	for lo > 0 && ts[lo].Sub(ts[lo-1]) < link {
		lo--
	}
	for hi+1 < len(ts) && ts[hi+1].Sub(ts[hi]) < link {
		hi++
	}
	return ts[lo : hi+1]
}

// FlagKind is the rule that made a rating weigh less than one. A rating keeps its flags as the
// sentences people read ("burst: 5 one-star ratings ..."); the kind is the word before the
// colon, written by flagOf and read by FlagKindOf only.
type FlagKind string

// The kinds of flag.
const (
	FlagBurst  FlagKind = "burst"  // see burstOnes
	FlagNetted FlagKind = "netted" // a rater's ratings of one firm in one ISO week count as one
)

// flagOf writes a flag of kind.
func flagOf(kind FlagKind, format string, args ...any) string {
	return string(kind) + ": " + fmt.Sprintf(format, args...)
}

// burstFlag is the flag of a burst of ones one-star ratings.
func burstFlag(ones int) string {
	return flagOf(FlagBurst, "%d one-star ratings by this rater within %d hours", ones, int(BurstWindow.Hours()))
}

// FlagKindOf returns the kind of a flag, "" for a flag of no kind (five stars on a suspect).
func FlagKindOf(flag string) FlagKind {
	for _, k := range []FlagKind{FlagBurst, FlagNetted} {
		if strings.HasPrefix(flag, string(k)+": ") {
			return k
		}
	}
	return ""
}

// hasFlag reports whether flags hold one of kind.
func hasFlag(flags []string, kind FlagKind) bool {
	for _, f := range flags {
		if FlagKindOf(f) == kind {
			return true
		}
	}
	return false
}

// ----- scopes -----

// canSeeFirm reports whether c may see firm id's private scores.
func (s *Service) canSeeFirm(ctx context.Context, c credtrace.Caller, id string) (bool, error) {
	switch c.Role {
	case credtrace.RoleRegulator:
		return true, nil
	case credtrace.RoleFirm:
		return s.inTree(ctx, c.FirmID, id)
	}
	return false, nil
}

// ----- scores -----

// ScoreView is a subject's current score and its history.
type ScoreView struct {
	Current *Score
	History []Score
}

// SubjectScore returns the latest score of a subject with its history, to a regulator or a firm
// whose tree holds the subject: the firm itself or one below it, one of such a firm's sites, or
// a person such a firm employs or employed (whom the archive lets that firm see). Scoring
// resolves the subject to its firms through the archive and decides from c's own scope; it
// answers credtrace.ErrNotFound for a subject the archive does not know or c may not see.
func (s *Service) SubjectScore(ctx context.Context, c credtrace.Caller, kind SubjectKind, id string) (ScoreView, error) {
	firms, err := s.subjectFirms(ctx, kind, id)
	if err != nil {
		return ScoreView{}, err
	}
	visible := false
	for _, f := range firms {
		if visible, err = s.canSeeFirm(ctx, c, f); err != nil {
			return ScoreView{}, err
		} else if visible {
			break
		}
	}
	if !visible {
		return ScoreView{}, credtrace.ErrNotFound
	}
	hist, err := s.store.ScoreHistory(ctx, kind, id, 24)
	if err != nil {
		return ScoreView{}, err
	}
	if len(hist) == 0 {
		return ScoreView{History: []Score{}}, nil
	}
	cur := hist[0]
	return ScoreView{Current: &cur, History: hist}, nil
}

// subjectFirms returns the firms a subject belongs to in the archive's firm tree: a firm is its
// own, a site its firm's, a person every firm of their employment history.
func (s *Service) subjectFirms(ctx context.Context, kind SubjectKind, id string) ([]string, error) {
	switch kind {
	case Firm:
		f, err := s.archive.Firm(ctx, id)
		if err != nil {
			return nil, err
		}
		return []string{f.ID}, nil
	case Site:
		site, err := s.archive.Site(ctx, id)
		if err != nil {
			return nil, err
		}
		return []string{site.FirmID}, nil
	case Staff:
		p, err := s.archive.Staff(ctx, id)
		if err != nil {
			return nil, err
		}
		return p.FirmIDs(), nil
	}
	return nil, credtrace.InvalidField("kind", "must be one of firm, site, staff")
}

// PublishedGrade returns a firm's grade in the latest published run, or "" when none.
func (s *Service) PublishedGrade(ctx context.Context, firmID string) (Score, bool, error) {
	runs, err := s.store.Runs(ctx, RunQuery{PublishedOnly: true, Limit: 1})
	if err != nil || len(runs) == 0 {
		return Score{}, false, err
	}
	sc, err := s.store.Scores(ctx, ScoreQuery{RunID: runs[0].ID, Subject: Firm, SubjectID: firmID, Limit: 1})
	if err != nil || len(sc) == 0 {
		return Score{}, false, err
	}
	return sc[0], true, nil
}

// Run returns a run (regulators).
func (s *Service) Run(ctx context.Context, c credtrace.Caller, id string) (Run, error) {
	if !c.IsRegulator() {
		return Run{}, credtrace.ErrForbidden
	}
	return s.store.Run(ctx, id)
}

// Runs lists recent runs (regulators).
func (s *Service) Runs(ctx context.Context, c credtrace.Caller, limit int) ([]Run, error) {
	if !c.IsRegulator() {
		return nil, credtrace.ErrForbidden
	}
	return s.store.Runs(ctx, RunQuery{Limit: limit})
}

// sortScores orders scores best first.
func sortScores(ss []Score) {
	sort.Slice(ss, func(i, j int) bool {
		if ss[i].Value != ss[j].Value {
			return ss[i].Value > ss[j].Value
		}
		return ss[i].SubjectID < ss[j].SubjectID
	})
}

// Change is a firm's score in the latest run and how far it rose since the run before.
type Change struct {
	Score
	Delta float64
}

// Rank ranks the firms' scores of the latest run (see FirmScores) for regulators' overviews: the
// n lowest of those with a grade (no grade is no ranking), lowest first, and the n that rose the
// most since previous, most first. Ties go by subject id.
func Rank(latest, previous []Score, n int) (worst []Score, improved []Change) {
	for _, x := range latest {
		if x.Grade != Insufficient {
			worst = append(worst, x)
		}
	}
	sort.Slice(worst, func(i, j int) bool {
		if worst[i].Value != worst[j].Value {
			return worst[i].Value < worst[j].Value
		}
		return worst[i].SubjectID < worst[j].SubjectID
	})
	before := map[string]float64{}
	for _, x := range previous {
		before[x.SubjectID] = x.Value
	}
	for _, x := range latest {
		if b, ok := before[x.SubjectID]; ok && x.Value > b {
			improved = append(improved, Change{Score: x, Delta: x.Value - b})
		}
	}
	sort.Slice(improved, func(i, j int) bool {
		if improved[i].Delta != improved[j].Delta {
			return improved[i].Delta > improved[j].Delta
		}
		return improved[i].SubjectID < improved[j].SubjectID
	})
	return worst[:min(n, len(worst))], improved[:min(n, len(improved))]
}

// FirmScores returns the firms' scores of the latest run and of the run before it (nil when
// there is none), for regulators' overviews.
func (s *Service) FirmScores(ctx context.Context, c credtrace.Caller) (latest, previous []Score, err error) {
	if !c.IsRegulator() {
		return nil, nil, credtrace.ErrForbidden
	}
	runs, err := s.store.Runs(ctx, RunQuery{Limit: 5})
	if err != nil {
		return nil, nil, err
	}
	var done []Run
	for _, r := range runs {
		if r.Status == RunSucceeded {
			done = append(done, r)
		}
	}
	for i, r := range done {
		if i > 1 {
			break
		}
		ss, err := s.store.Scores(ctx, ScoreQuery{RunID: r.ID, Subject: Firm})
		if err != nil {
			return nil, nil, err
		}
		if i == 0 {
			latest = ss
		} else {
			previous = ss
		}
	}
	return latest, previous, nil
}
