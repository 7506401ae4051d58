package courier

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/credtrace/credtrace"
)

// Policy holds the configurable periods of the credit rules, in months by severity.
type Policy struct {
	// PublicityMonths is how long a confirmed record shows in the public disclosure.
	PublicityMonths map[Severity]int
	// RepairMonths is the minimum period served before credit repair may be asked for.
	RepairMonths map[Severity]int
}

// DefaultPolicy follows the NDRC credit repair rules in force from 2026-04-01: minor records
// public for at most 3 months, general for at most a year, serious for three years; repair after
// nothing, three months and a year served.
func DefaultPolicy() Policy {
	return Policy{
		PublicityMonths: map[Severity]int{SevMinor: 3, SevGeneral: 12, SevSerious: 36},
		RepairMonths:    map[Severity]int{SevMinor: 0, SevGeneral: 3, SevSerious: 12},
	}
}

// publicityLimits are the statutory ranges of the publicity periods, in months.
var publicityLimits = map[Severity][2]int{SevMinor: {0, 3}, SevGeneral: {3, 12}, SevSerious: {12, 36}}

// Validate reports a period outside the statutory ranges: the one check of them (config only
// parses the settings; serve refuses to start on this error).
func (p Policy) Validate() error {
	v := &credtrace.Validation{}
	for _, sev := range []Severity{SevMinor, SevGeneral, SevSerious} {
		lim := publicityLimits[sev]
		m, ok := p.PublicityMonths[sev]
		if !ok {
			v.Add("publicity."+string(sev), "missing")
		} else if m < lim[0] || m > lim[1] {
			v.Add("publicity."+string(sev), "must be between %d and %d months", lim[0], lim[1])
		}
		r, ok := p.RepairMonths[sev]
		if !ok {
			v.Add("repair."+string(sev), "missing")
		} else if r < 0 || r > m {
			v.Add("repair."+string(sev), "must be between 0 and the publicity period (%d months)", m)
		}
	}
	return v.Err()
}

// Statutory clocks of the 2017 courier credit measures, Art. 17-19.
const (
	ReviewDays  = 10 // an objection is reviewed within 10 days of filing
	CorrectDays = 10 // and the file corrected within 10 days of the decision
)

// List limits.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// Service applies the rules of the credit archive. Its methods take the calling credtrace.Caller and
// answer credtrace.ErrNotFound for objects outside the actor's scope, so that one firm cannot even learn
// whether another firm's private objects exist.
type Service struct {
	store   Store
	hasher  *Hasher
	policy  Policy
	now     func() time.Time
	watcher Watcher
	// notifier is told of each audit entry in its Atomic block; nil: none.
	notifier Notifier
	// auditKey signs checkpoints of the audit trail; nil until SetAuditKey.
	auditKey ed25519.PrivateKey
	// tokenGrace is how long a rotated-out secret keeps working.
	tokenGrace time.Duration
	// tokens are the tokens that authenticated lately (see TokenCacheFor).
	tokens *tokenCache
}

// Watcher is told when a record starts or stops counting against its subject (Status.InForce):
// a regulator confirmed it, or it was revoked on objection or repaired. It is how the
// statistics kept outside the archive (tracking's complaints) count verified inputs only,
// without the archive importing them; cmd wires it. It is told after the change is stored, so
// that it never counts a change that did not happen; an implementation must be idempotent per
// record and direction, since a retried call tells it again.
type Watcher interface {
	RecordInForce(ctx context.Context, r Record, inForce bool) error
}

// SetWatcher installs the Watcher (nil: none). It is set after construction because the
// watcher's own service usually needs this one first.
func (s *Service) SetWatcher(w Watcher) { s.watcher = w }

// Notifier is told of every audit entry, through st, the Store of the Atomic block the entry
// and its change are written in (the audit entries of scoring's and tracking's decisions
// included, which come through an Auditor): what it writes there commits with the change (on
// SQLite one transaction). cmd wires the webhooks' outbox here. An error undoes the change
// where the backend can (SQLite) and is the change's error.
type Notifier interface {
	Audited(ctx context.Context, st Store, e AuditEntry) error
}

// SetNotifier installs the Notifier (nil: none).
func (s *Service) SetNotifier(n Notifier) { s.notifier = n }

// tell tells the watcher when a change moved r in or out of force. The change is stored
// already: a failure here is returned wrapped, so that the caller sees that the statistic lags.
func (s *Service) tell(ctx context.Context, was bool, r Record) error {
	if s.watcher == nil || was == r.Status.InForce() {
		return nil
	}
	if err := s.watcher.RecordInForce(ctx, r, r.Status.InForce()); err != nil {
		return fmt.Errorf("record %s stored %s; telling the statistics: %w", r.ID, r.Status, err)
	}
	return nil
}

// NewService returns a Service over store. now may be nil for the wall clock.
func NewService(store Store, hasher *Hasher, policy Policy, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, hasher: hasher, policy: policy, now: now, tokenGrace: DefaultTokenGrace, tokens: newTokenCache()}
}

// Now returns the service clock's time, in UTC at millisecond precision (what every backend keeps).
func (s *Service) Now() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// Hasher returns the keyed hasher of personal data.
func (s *Service) Hasher() *Hasher { return s.hasher }

func newID() string {
	return uuid.Must(uuid.NewV7()).String()
}

func norm(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Millisecond)
}

// EncodeCursor makes an opaque list cursor from the last id of a page.
func EncodeCursor(id string) string {
	if id == "" {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte("v1:" + id))
}

// DecodeCursor reverses EncodeCursor; a malformed cursor is credtrace.ErrInvalid naming "cursor".
func DecodeCursor(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !strings.HasPrefix(string(b), "v1:") {
		return "", credtrace.InvalidField("cursor", "malformed cursor")
	}
	return strings.TrimPrefix(string(b), "v1:"), nil
}

// pageOf turns a cursor and limit into a store Page that asks for one extra row, so that the
// caller learns whether a next page exists.
func pageOf(cursor string, limit int) (Page, int, error) {
	after, err := DecodeCursor(cursor)
	if err != nil {
		return Page{}, 0, err
	}
	if limit <= 0 {
		limit = DefaultLimit
	}
	if limit > MaxLimit {
		return Page{}, 0, credtrace.InvalidField("limit", "must be at most %d", MaxLimit)
	}
	return Page{After: after, Limit: limit + 1}, limit, nil
}

// trim cuts a page fetched with one extra row and returns the next cursor.
func trim[T any](items []T, limit int, id func(T) string) ([]T, string) {
	if len(items) <= limit {
		return items, ""
	}
	items = items[:limit]
	return items, EncodeCursor(id(items[len(items)-1]))
}

// all pages through a store list to the end.
func all[T any](fetch func(Page) ([]T, error), id func(T) string) ([]T, error) {
	var out []T
	p := Page{Limit: MaxLimit}
	for {
		items, err := fetch(p)
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
		if len(items) < p.Limit {
			return out, nil
		}
		p.After = id(items[len(items)-1])
	}
}

func firmID(f Firm) string             { return f.ID }
func siteID(s Site) string             { return s.ID }
func staffID(s Staff) string           { return s.ID }
func recordID(r Record) string         { return r.ID }
func objectionID(o Objection) string   { return o.ID }
func commitmentID(c Commitment) string { return c.ID }

// FirmLister lists firms: the part of a Store that a firm tree is read from.
type FirmLister interface {
	Firms(ctx context.Context, q FirmQuery) ([]Firm, error)
}

// Subtree returns root and every firm below it, read from st level by level (one query per
// level and page): the ids a firm's scope filters lists by.
func Subtree(ctx context.Context, st FirmLister, root string) ([]string, error) {
	return subtree(ctx, st, root)
}

// subtree returns root and every firm below it.
func subtree(ctx context.Context, st FirmLister, root string) ([]string, error) {
	ids := []string{root}
	frontier := []string{root}
	for depth := 0; len(frontier) > 0; depth++ {
		if depth > 64 {
			return nil, fmt.Errorf("firm tree under %s deeper than 64 levels", root)
		}
		children, err := all(func(p Page) ([]Firm, error) {
			return st.Firms(ctx, FirmQuery{ParentIDs: frontier, Page: p})
		}, firmID)
		if err != nil {
			return nil, err
		}
		frontier = frontier[:0:0]
		for _, c := range children {
			ids = append(ids, c.ID)
			frontier = append(frontier, c.ID)
		}
	}
	return ids, nil
}

// inTree reports whether firm id is root or below it.
func inTree(ctx context.Context, st Store, root, id string) (bool, error) {
	for depth := 0; id != ""; depth++ {
		if id == root {
			return true, nil
		}
		if depth > 64 {
			return false, fmt.Errorf("firm tree above %s deeper than 64 levels", id)
		}
		f, err := st.Firm(ctx, id)
		if errors.Is(err, credtrace.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		id = f.ParentID
	}
	return false, nil
}

// InScope reports whether actor may see the private data of firm id.
func (s *Service) InScope(ctx context.Context, a credtrace.Caller, id string) (bool, error) {
	switch a.Role {
	case credtrace.RoleRegulator:
		return true, nil
	case credtrace.RoleFirm:
		if id == "" {
			return false, nil
		}
		return inTree(ctx, s.store, a.FirmID, id)
	}
	return false, nil
}

// scopeIDs returns the firm ids an actor may see, or nil for everything (regulators).
func (s *Service) scopeIDs(ctx context.Context, a credtrace.Caller) ([]string, error) {
	switch a.Role {
	case credtrace.RoleRegulator:
		return nil, nil
	case credtrace.RoleFirm:
		return subtree(ctx, s.store, a.FirmID)
	}
	return nil, credtrace.ErrForbidden
}

// requireScope answers credtrace.ErrNotFound when actor may not see firm id.
func (s *Service) requireScope(ctx context.Context, a credtrace.Caller, id string) error {
	ok, err := s.InScope(ctx, a, id)
	if err != nil {
		return err
	}
	if !ok {
		return credtrace.ErrNotFound
	}
	return nil
}

func requireRegulator(a credtrace.Caller) error {
	if !a.IsRegulator() {
		return credtrace.ErrForbidden
	}
	return nil
}

// audit appends one entry to the hash chain inside the caller's Atomic block. Racing writers on
// a backend without transactions meet a taken Seq and retry on the new tail.
func (s *Service) audit(ctx context.Context, st Store, a credtrace.Caller, action, entity, id, detail string) error {
	actor := a.TokenID
	if actor == "" {
		actor = string(a.Role)
	}
	for attempt := 0; attempt < 20; attempt++ {
		last, ok, err := st.LastAudit(ctx)
		if err != nil {
			return fmt.Errorf("audit tail: %w", err)
		}
		e := AuditEntry{Seq: 1, At: s.Now(), Actor: actor, Action: action, Entity: entity, EntityID: id, Detail: detail}
		if ok {
			e.Seq = last.Seq + 1
			e.PrevHash = last.Hash
		}
		e.Hash = AuditHash(e)
		err = st.AppendAudit(ctx, e)
		if errors.Is(err, credtrace.ErrConflict) {
			continue
		}
		if err != nil {
			return fmt.Errorf("append audit: %w", err)
		}
		if s.notifier != nil {
			if err := s.notifier.Audited(ctx, st, e); err != nil {
				return fmt.Errorf("announce %s %s: %w", action, id, err)
			}
		}
		return nil
	}
	return fmt.Errorf("append audit: %w: too many concurrent writers", credtrace.ErrConflict)
}

// AuditHash is the SHA-256 over an entry's fields and its predecessor's hash.
func AuditHash(e AuditEntry) string {
	h := sha256.New()
	for _, part := range []string{
		fmt.Sprint(e.Seq), e.At.UTC().Format(time.RFC3339Nano), e.Actor, e.Action, e.Entity, e.EntityID, e.Detail, e.PrevHash,
	} {
		h.Write([]byte(part))
		h.Write([]byte{0x1f})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// VerifyResult tells whether the audit chain is intact and, if not, where it breaks.
type VerifyResult struct {
	OK       bool
	Entries  int64
	FirstBad int64 // Seq of the first altered or missing entry
	Reason   string
	// Checkpoint is the Seq of the latest checkpoint the chain was checked against (0: none).
	Checkpoint int64
	// CutFrom and CutTo are the Seqs cut off the end of the trail: entries the latest
	// checkpoint saw that are no longer there (both 0 when the tail is whole).
	CutFrom, CutTo int64
}

// VerifyAudit recomputes the whole chain (regulators only).
func (s *Service) VerifyAudit(ctx context.Context, a credtrace.Caller) (VerifyResult, error) {
	if err := requireRegulator(a); err != nil {
		return VerifyResult{}, err
	}
	var res VerifyResult
	cp, hasCP, err := s.store.LatestCheckpoint(ctx)
	if err != nil {
		return VerifyResult{}, fmt.Errorf("verify audit: %w", err)
	}
	if hasCP {
		res.Checkpoint = cp.Seq
		if pub := s.AuditPublicKey(); pub != nil && !VerifyCheckpoint(pub, cp) {
			res.FirstBad, res.Reason = cp.Seq, "the latest checkpoint's signature does not verify with the audit key"
			return res, nil
		}
	}
	var after int64
	prev := ""
	for {
		batch, err := s.store.AuditEntries(ctx, after, 1000)
		if err != nil {
			return VerifyResult{}, fmt.Errorf("verify audit: %w", err)
		}
		for _, e := range batch {
			res.Entries++
			switch {
			case e.Seq != after+1:
				res.FirstBad, res.Reason = after+1, "entry missing"
			case e.PrevHash != prev:
				res.FirstBad, res.Reason = e.Seq, "previous-hash link broken"
			case AuditHash(e) != e.Hash:
				res.FirstBad, res.Reason = e.Seq, "content does not match its hash"
			}
			if res.FirstBad == 0 && hasCP && e.Seq == cp.Seq && e.Hash != cp.Hash {
				res.FirstBad, res.Reason = e.Seq, "entry does not match the signed checkpoint: the trail was rewritten"
			}
			if res.FirstBad != 0 {
				return res, nil
			}
			after, prev = e.Seq, e.Hash
		}
		if len(batch) < 1000 {
			if hasCP && after < cp.Seq {
				// A valid but shorter chain: the newest entries were deleted.
				res.FirstBad, res.CutFrom, res.CutTo = after+1, after+1, cp.Seq
				res.Reason = fmt.Sprintf("tail cut: entries %d to %d, which the checkpoint of %s saw, are missing", after+1, cp.Seq, cp.At.UTC().Format(time.RFC3339))
				return res, nil
			}
			res.OK = true
			return res, nil
		}
	}
}

// AuditList returns audit entries after seq (regulators only).
func (s *Service) AuditList(ctx context.Context, a credtrace.Caller, after int64, limit int) ([]AuditEntry, error) {
	if err := requireRegulator(a); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > MaxLimit {
		limit = DefaultLimit
	}
	return s.store.AuditEntries(ctx, after, limit)
}

// ----- tokens -----

// TokenInput describes a token to issue.
type TokenInput struct {
	Role       credtrace.Role
	FirmID     string
	MerchantID string
	StaffID    string // staff tokens: the person the token belongs to
	Label      string
	ExpiresAt  time.Time // zero: the token does not expire; else within MaxTokenLifetime
}

// HashToken is how token secrets are kept: they carry 256 random bits, so an unkeyed hash is
// enough to make a stolen table useless.
func HashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

func newSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return "ct_" + base64.RawURLEncoding.EncodeToString(b)
}

// IssueToken creates a token and returns it with its secret, shown only once. Regulators issue
// every role; a firm issues only staff tokens, for a person its tree employs now (a token is
// the person's own view of their file, which they keep after leaving).
func (s *Service) IssueToken(ctx context.Context, a credtrace.Caller, in TokenInput) (Token, string, error) {
	switch {
	case a.IsRegulator():
	case a.Role == credtrace.RoleFirm && in.Role == credtrace.RoleStaff:
	default:
		return Token{}, "", credtrace.ErrForbidden
	}
	v := &credtrace.Validation{}
	if in.Role != credtrace.RoleFirm && in.FirmID != "" {
		v.Add("firm_id", "only firm tokens have a firm")
	}
	if in.Role != credtrace.RoleMerchant && in.MerchantID != "" {
		v.Add("merchant_id", "only merchant tokens have a merchant")
	}
	if in.Role != credtrace.RoleStaff && in.StaffID != "" {
		v.Add("staff_id", "only staff tokens have a person")
	}
	switch in.Role {
	case credtrace.RoleRegulator, credtrace.RolePlatform, credtrace.RoleMetrics:
	case credtrace.RoleFirm:
		if in.FirmID == "" {
			v.Add("firm_id", "required for a firm token")
		} else if _, err := s.store.Firm(ctx, in.FirmID); errors.Is(err, credtrace.ErrNotFound) {
			v.Add("firm_id", "no such firm")
		} else if err != nil {
			return Token{}, "", err
		}
	case credtrace.RoleMerchant:
		if strings.TrimSpace(in.MerchantID) == "" {
			v.Add("merchant_id", "required for a merchant token")
		}
	case credtrace.RoleStaff:
		if in.StaffID == "" {
			v.Add("staff_id", "required for a staff token")
			break
		}
		p, err := s.store.Staff(ctx, in.StaffID)
		if errors.Is(err, credtrace.ErrNotFound) {
			v.Add("staff_id", "no such person")
			break
		} else if err != nil {
			return Token{}, "", err
		}
		acc, err := s.staffAccess(ctx, a, p)
		if err != nil {
			return Token{}, "", err
		}
		switch acc {
		case accessNone:
			v.Add("staff_id", "no such person")
		case accessFormer:
			v.Add("staff_id", "the person does not work for this firm now")
		}
	default:
		v.Add("role", "must be one of regulator, firm, merchant, platform, staff, metrics")
	}
	if len(in.Label) > 200 {
		v.Add("label", "at most 200 characters")
	}
	now := s.Now()
	switch exp := norm(in.ExpiresAt); {
	case exp.IsZero():
	case !exp.After(now):
		v.Add("expires_at", "must be in the future")
	case exp.Sub(now) > MaxTokenLifetime:
		v.Add("expires_at", "at most %d days from now (the maximum lifetime of a token)", int(MaxTokenLifetime.Hours()/24))
	}
	if err := v.Err(); err != nil {
		return Token{}, "", err
	}
	secret := newSecret()
	t := Token{ID: newID(), Hash: HashToken(secret), Role: in.Role, FirmID: in.FirmID, MerchantID: in.MerchantID,
		StaffID: in.StaffID, Label: in.Label, CreatedAt: now, CreatedBy: a.TokenID, ExpiresAt: norm(in.ExpiresAt)}
	detail := "role=" + string(t.Role) + " firm=" + t.FirmID + " merchant=" + t.MerchantID + " staff=" + t.StaffID
	if !t.ExpiresAt.IsZero() {
		detail += " expires=" + t.ExpiresAt.Format(time.RFC3339)
	}
	err := s.store.Atomic(ctx, func(st Store) error {
		if err := st.CreateToken(ctx, t); err != nil {
			return err
		}
		return s.audit(ctx, st, a, "token.issue", "token", t.ID, detail)
	})
	if err != nil {
		return Token{}, "", fmt.Errorf("issue token: %w", err)
	}
	return t, secret, nil
}

// RevokeToken ends a token (regulators only). A token cannot revoke itself, so that the last
// regulator is not locked out by a slip.
func (s *Service) RevokeToken(ctx context.Context, a credtrace.Caller, id string) error {
	if err := requireRegulator(a); err != nil {
		return err
	}
	if id == a.TokenID {
		return stateErr("a token cannot revoke itself")
	}
	// Dropped from the cache once stored, so that this instance refuses it from the next request;
	// a request that read the token before the revocation cannot put it back (see tokenCache.gen).
	defer s.tokens.drop(id)
	return s.store.Atomic(ctx, func(st Store) error {
		t, err := st.Token(ctx, id)
		if err != nil {
			return err
		}
		if !t.RevokedAt.IsZero() {
			return stateErr("token already revoked")
		}
		if err := st.RevokeToken(ctx, id, s.Now()); err != nil {
			return err
		}
		return s.audit(ctx, st, a, "token.revoke", "token", id, "")
	})
}

// Authenticate resolves a bearer secret; unknown and revoked tokens are credtrace.ErrNotFound,
// an expired token ErrTokenExpired and a rotated-out secret past its grace ErrTokenRotated
// (both of kind credtrace.NotFound, with a message that says what to do).
func (s *Service) Authenticate(ctx context.Context, secret string) (credtrace.Caller, error) {
	h := HashToken(secret)
	now := s.Now()
	t, ok, gen := s.tokens.get(h, now)
	if !ok {
		var err error
		if t, err = s.store.TokenByHash(ctx, h); err != nil {
			return credtrace.Caller{}, err
		}
		if t.RevokedAt.IsZero() {
			s.tokens.put(h, t, now, gen)
		}
	}
	if h != t.Hash && !now.Before(t.RetiredUntil) {
		return credtrace.Caller{}, &credtrace.Error{Kind: credtrace.NotFound, Code: ErrTokenRotated.Code,
			Msg: fmt.Sprintf("this secret of token %s was replaced at %s and its grace period ended at %s: use the new secret", t.ID, t.RotatedAt.Format(time.RFC3339), t.RetiredUntil.Format(time.RFC3339))}
	}
	return s.live(ctx, t, now)
}

// ActorOf returns the actor of token id while the token is not revoked (credtrace.ErrNotFound otherwise)
// nor expired (ErrTokenExpired): sessions hold a token id and ask again on each request, so a
// revocation or the expiry ends them at once.
func (s *Service) ActorOf(ctx context.Context, id string) (credtrace.Caller, error) {
	t, err := s.store.Token(ctx, id)
	if err != nil {
		return credtrace.Caller{}, err
	}
	return s.live(ctx, t, s.Now())
}

// BootstrapTokenID is the id of the regulator token generated on a first start. It is fixed so
// that replicas starting at once on an empty store create one token between them: the id is
// unique, and every insert but the first is refused.
const BootstrapTokenID = "00000000-0000-7000-8000-000000000001"

// Bootstrap makes sure a regulator can sign in. With a given secret it registers that secret as a
// regulator token when it is not yet known. Without one, on a store with no token at all, it
// issues a regulator token and returns its secret (to be printed once); otherwise it returns "".
// Replicas bootstrapping at once make one token: the others find theirs refused as a
// duplicate (of the secret's hash, or of BootstrapTokenID) and return "".
func (s *Service) Bootstrap(ctx context.Context, given string) (string, error) {
	system := credtrace.Caller{Role: credtrace.RoleRegulator, TokenID: "system"}
	create := func(t Token) (bool, error) {
		err := s.store.Atomic(ctx, func(st Store) error {
			if err := st.CreateToken(ctx, t); err != nil {
				return err
			}
			return s.audit(ctx, st, system, "token.bootstrap", "token", t.ID, "role=regulator")
		})
		if errors.Is(err, credtrace.ErrConflict) {
			return false, nil // another replica bootstrapped first
		}
		return err == nil, err
	}
	if given != "" {
		_, err := s.store.TokenByHash(ctx, HashToken(given))
		if err == nil {
			return "", nil
		}
		if !errors.Is(err, credtrace.ErrNotFound) {
			return "", err
		}
		_, err = create(Token{ID: newID(), Hash: HashToken(given), Role: credtrace.RoleRegulator, Label: "admin (CREDTRACE_ADMIN_TOKEN)", CreatedAt: s.Now(), CreatedBy: "system"})
		return "", err
	}
	n, err := s.store.CountTokens(ctx)
	if err != nil || n > 0 {
		return "", err
	}
	secret := newSecret()
	made, err := create(Token{ID: BootstrapTokenID, Hash: HashToken(secret), Role: credtrace.RoleRegulator, Label: "admin (generated on first start)", CreatedAt: s.Now(), CreatedBy: "system"})
	if err != nil || !made {
		return "", err
	}
	return secret, nil
}
