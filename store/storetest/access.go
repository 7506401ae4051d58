package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
)

// ----- tokens -----

var tokenBehaviours = []behaviour{
	{"TokenRoundTrip", testTokenRoundTrip},
	{"TokenCreateConflict", testTokenCreateConflict},
	{"TokenRevoke", testTokenRevoke},
	{"TokenCount", testTokenCount},
	{"TokenList", testTokenList},
	{"TokenRotate", testTokenRotate},
	{"TokenTouch", testTokenTouch},
}

// firmToken is a rotated, used and then revoked firm token, so every field but MerchantID
// and StaffID is set.
func firmToken() courier.Token {
	return courier.Token{
		ID: "t1", Hash: "sha256-t1", Role: credtrace.RoleFirm, FirmID: "f1",
		Label: "顺丰北京 API", CreatedAt: at(1), CreatedBy: "t0", RevokedAt: at(2),
		ExpiresAt: at(30), LastUsedAt: at(2), RotatedAt: at(1), RetiredHash: "sha256-t1-old", RetiredUntil: at(3),
	}
}

// staffToken is a live staff token.
func staffToken() courier.Token {
	return courier.Token{
		ID: "t3", Hash: "sha256-t3", Role: credtrace.RoleStaff, StaffID: "p1",
		Label: "张三", CreatedAt: at(4), CreatedBy: "t1",
	}
}

// merchantToken is a live merchant token.
func merchantToken() courier.Token {
	return courier.Token{
		ID: "t2", Hash: "sha256-t2", Role: credtrace.RoleMerchant, MerchantID: "m1",
		Label: "shop", CreatedAt: at(3), CreatedBy: "t0",
	}
}

func testTokenRoundTrip(ctx context.Context, t *testing.T, s courier.Store) {
	for _, v := range []courier.Token{firmToken(), merchantToken(), staffToken()} {
		must(t, "create "+v.ID, s.CreateToken(ctx, v))
	}
	for _, v := range []courier.Token{firmToken(), merchantToken(), staffToken()} {
		checkGet(ctx, t, "Token("+v.ID+")", s.Token, v.ID, v)
		checkGet(ctx, t, "TokenByHash("+v.Hash+")", s.TokenByHash, v.Hash, v)
	}
}

func testTokenCreateConflict(ctx context.Context, t *testing.T, s courier.Store) {
	sameID := merchantToken()
	sameID.ID = firmToken().ID
	sameHash := merchantToken()
	sameHash.Hash = firmToken().Hash
	checkCreateConflict(ctx, t, s.CreateToken, s.Token, func(v courier.Token) string { return v.ID }, firmToken(),
		dupCase[courier.Token]{"same id, other hash", sameID},
		dupCase[courier.Token]{"other id, taken hash", sameHash},
	)
}

func testTokenRevoke(ctx context.Context, t *testing.T, s courier.Store) {
	live := merchantToken()
	must(t, "create", s.CreateToken(ctx, live))
	must(t, "revoke", s.RevokeToken(ctx, live.ID, at(9)))
	want := live
	want.RevokedAt = at(9)
	checkGet(ctx, t, "Token after revoke", s.Token, live.ID, want)
	checkGet(ctx, t, "TokenByHash after revoke", s.TokenByHash, live.Hash, want)
	wantErr(t, "revoke of an unknown id", s.RevokeToken(ctx, "t9", at(9)), credtrace.ErrNotFound)
}

func testTokenCount(ctx context.Context, t *testing.T, s courier.Store) {
	n, err := s.CountTokens(ctx)
	must(t, "count on an empty store", err)
	if n != 0 {
		t.Errorf("count on an empty store: got %d, want 0", n)
	}
	for _, v := range []courier.Token{firmToken(), merchantToken()} {
		must(t, "create "+v.ID, s.CreateToken(ctx, v))
	}
	n, err = s.CountTokens(ctx)
	must(t, "count", err)
	if n != 2 {
		t.Errorf("count after two creates: got %d, want 2", n)
	}
}

// testTokenList: tokens in id order, filtered by firm, paged.
func testTokenList(ctx context.Context, t *testing.T, s courier.Store) {
	second := firmToken()
	second.ID, second.Hash, second.RetiredHash, second.RevokedAt = "t4", "sha256-t4", "", time.Time{}
	all := []courier.Token{firmToken(), merchantToken(), staffToken(), second}
	for _, v := range all {
		must(t, "create "+v.ID, s.CreateToken(ctx, v))
	}
	got, err := s.Tokens(ctx, courier.TokenQuery{})
	must(t, "Tokens", err)
	check(t, "Tokens", got, []courier.Token{firmToken(), merchantToken(), staffToken(), second})
	got, err = s.Tokens(ctx, courier.TokenQuery{FirmID: "f1", Page: courier.Page{Limit: 1}})
	must(t, "Tokens of f1, first page", err)
	check(t, "Tokens of f1, first page", got, []courier.Token{firmToken()})
	got, err = s.Tokens(ctx, courier.TokenQuery{FirmID: "f1", Page: courier.Page{After: "t1", Limit: 10}})
	must(t, "Tokens of f1 after t1", err)
	check(t, "Tokens of f1 after t1", got, []courier.Token{second})
	got, err = s.Tokens(ctx, courier.TokenQuery{FirmID: "f9"})
	must(t, "Tokens of f9", err)
	if len(got) != 0 {
		t.Errorf("Tokens of a firm without any: %v", got)
	}
}

// testTokenRotate: a rotation replaces the hash; the token is found by the new hash and, as
// a retired one, by the old; an unknown id and a taken hash are refused.
func testTokenRotate(ctx context.Context, t *testing.T, s courier.Store) {
	live, other := merchantToken(), staffToken()
	must(t, "create", s.CreateToken(ctx, live))
	must(t, "create other", s.CreateToken(ctx, other))
	r := courier.Rotation{Hash: "sha256-t2-new", RetiredHash: live.Hash, RetiredUntil: at(8), At: at(7)}
	must(t, "rotate", s.RotateToken(ctx, live.ID, r))
	want := live
	want.Hash, want.RetiredHash, want.RetiredUntil, want.RotatedAt = r.Hash, live.Hash, at(8), at(7)
	checkGet(ctx, t, "Token after rotate", s.Token, live.ID, want)
	checkGet(ctx, t, "TokenByHash(new)", s.TokenByHash, r.Hash, want)
	checkGet(ctx, t, "TokenByHash(retired)", s.TokenByHash, live.Hash, want)
	checkGet(ctx, t, "TokenByHash(other)", s.TokenByHash, other.Hash, other)
	wantErr(t, "rotate an unknown id", s.RotateToken(ctx, "t9", courier.Rotation{Hash: "sha256-t9", At: at(7)}), credtrace.ErrNotFound)
	wantErr(t, "rotate onto a taken hash", s.RotateToken(ctx, live.ID, courier.Rotation{Hash: other.Hash, RetiredHash: r.Hash, At: at(9)}), credtrace.ErrConflict)
	checkGet(ctx, t, "Token after a refused rotate", s.Token, live.ID, want)
	if _, err := s.TokenByHash(ctx, "sha256-none"); !errors.Is(err, credtrace.ErrNotFound) {
		t.Errorf("TokenByHash of an unknown hash: %v, want ErrNotFound", err)
	}
}

// testTokenTouch: the last use moves forward, never back.
func testTokenTouch(ctx context.Context, t *testing.T, s courier.Store) {
	live := merchantToken()
	must(t, "create", s.CreateToken(ctx, live))
	want := live
	for _, tc := range []struct {
		touch, want int
	}{{5, 5}, {3, 5}, {7, 7}} {
		must(t, fmt.Sprint("touch at ", tc.touch), s.TouchToken(ctx, live.ID, at(tc.touch)))
		want.LastUsedAt = at(tc.want)
		checkGet(ctx, t, fmt.Sprint("Token after touch at ", tc.touch), s.Token, live.ID, want)
	}
	wantErr(t, "touch an unknown id", s.TouchToken(ctx, "t9", at(1)), credtrace.ErrNotFound)
}

// ----- audit -----

var auditBehaviours = []behaviour{
	{"AuditAppend", testAuditAppend},
	{"AuditSeqTaken", testAuditSeqTaken},
	{"AuditNumericOrder", testAuditNumericOrder},
	{"Checkpoints", testCheckpoints},
}

// checkpoint returns a checkpoint of seq with every field set.
func checkpoint(seq int64) courier.Checkpoint {
	return courier.Checkpoint{Seq: seq, Hash: fmt.Sprintf("hash-%d", seq), At: at(int(seq)), KeyID: "0123456789abcdef0123456789abcdef",
		Signature: fmt.Sprintf("c2lnbmF0dXJl%d==", seq)}
}

// testCheckpoints: checkpoints round-trip, the latest is the highest Seq in numeric order
// (10 after 9), a taken Seq is ErrConflict, and the list pages by Seq.
func testCheckpoints(ctx context.Context, t *testing.T, s courier.Store) {
	if _, ok, err := s.LatestCheckpoint(ctx); err != nil || ok {
		t.Fatalf("LatestCheckpoint with none: got ok %v, error %v; want false, nil", ok, err)
	}
	for _, seq := range []int64{2, 9, 10} {
		must(t, fmt.Sprintf("put checkpoint %d", seq), s.PutCheckpoint(ctx, checkpoint(seq)))
	}
	rival := checkpoint(9)
	rival.Hash = "rival"
	wantErr(t, "put a checkpoint with a taken seq", s.PutCheckpoint(ctx, rival), credtrace.ErrConflict)
	last, ok, err := s.LatestCheckpoint(ctx)
	if err != nil || !ok {
		t.Fatalf("LatestCheckpoint: got ok %v, error %v; want true, nil", ok, err)
	}
	check(t, "LatestCheckpoint", last, checkpoint(10))
	got, err := s.Checkpoints(ctx, 2, 1)
	must(t, "Checkpoints after 2", err)
	check(t, "Checkpoints after 2, limit 1", got, []courier.Checkpoint{checkpoint(9)})
	got, err = s.Checkpoints(ctx, 0, 10)
	must(t, "Checkpoints", err)
	check(t, "Checkpoints", got, []courier.Checkpoint{checkpoint(2), checkpoint(9), checkpoint(10)})
}

// entry returns audit entry seq with every field set and linked to its predecessor.
func entry(seq int64) courier.AuditEntry {
	e := courier.AuditEntry{
		Seq: seq, At: at(int(seq)), Actor: "t1", Action: "record.confirm", Entity: "record",
		EntityID: fmt.Sprintf("r%d", seq), Detail: "status=confirmed 备注", PrevHash: fmt.Sprintf("hash-%d", seq-1),
	}
	if seq == 1 {
		e.PrevHash = ""
	}
	e.Hash = courier.AuditHash(e)
	return e
}

func testAuditAppend(ctx context.Context, t *testing.T, s courier.Store) {
	if _, ok, err := s.LastAudit(ctx); err != nil || ok {
		t.Errorf("LastAudit on an empty trail: got ok %v, error %v; want false, nil", ok, err)
	}
	got, err := s.AuditEntries(ctx, 0, 10)
	must(t, "entries of an empty trail", err)
	checkIDs(t, "entries of an empty trail", got, seqID)

	all := []courier.AuditEntry{entry(1), entry(2), entry(3)}
	for _, e := range all {
		must(t, fmt.Sprintf("append %d", e.Seq), s.AppendAudit(ctx, e))
	}
	last, ok, err := s.LastAudit(ctx)
	if err != nil || !ok {
		t.Fatalf("LastAudit: got ok %v, error %v; want true, nil", ok, err)
	}
	check(t, "LastAudit", last, entry(3))

	got, err = s.AuditEntries(ctx, 0, 10)
	must(t, "entries", err)
	checkList(t, "all entries", got, all, seqID)

	cases := []struct {
		name  string
		after int64
		limit int
		want  []string
	}{
		{"after 1", 1, 10, []string{"2", "3"}},
		{"limit 2", 0, 2, []string{"1", "2"}},
		{"after 1, limit 1", 1, 1, []string{"2"}},
		{"after the last", 3, 10, nil},
	}
	for _, c := range cases {
		got, err := s.AuditEntries(ctx, c.after, c.limit)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		checkIDs(t, c.name, got, seqID, c.want...)
	}
}

func testAuditSeqTaken(ctx context.Context, t *testing.T, s courier.Store) {
	for _, seq := range []int64{1, 2} {
		must(t, fmt.Sprintf("append %d", seq), s.AppendAudit(ctx, entry(seq)))
	}
	rival := entry(2)
	rival.Actor, rival.Action = "t7", "firm.update"
	rival.Hash = courier.AuditHash(rival)
	wantErr(t, "append with a taken seq", s.AppendAudit(ctx, rival), credtrace.ErrConflict)

	got, err := s.AuditEntries(ctx, 0, 10)
	must(t, "entries", err)
	checkList(t, "entries after the refused append", got, []courier.AuditEntry{entry(1), entry(2)}, seqID)
}

// testAuditNumericOrder catches a backend that orders Seq as text, where 10 sorts before 9.
func testAuditNumericOrder(ctx context.Context, t *testing.T, s courier.Store) {
	for _, seq := range []int64{8, 9, 10} {
		must(t, fmt.Sprintf("append %d", seq), s.AppendAudit(ctx, entry(seq)))
	}
	last, ok, err := s.LastAudit(ctx)
	if err != nil || !ok {
		t.Fatalf("LastAudit: got ok %v, error %v; want true, nil", ok, err)
	}
	if last.Seq != 10 {
		t.Errorf("LastAudit: got seq %d, want 10", last.Seq)
	}
	got, err := s.AuditEntries(ctx, 0, 10)
	must(t, "entries", err)
	checkIDs(t, "entries", got, seqID, "8", "9", "10")
	got, err = s.AuditEntries(ctx, 9, 10)
	must(t, "entries after 9", err)
	checkIDs(t, "entries after 9", got, seqID, "10")
}

// ----- settings -----

// ----- tree generation and guesses -----

var counterBehaviours = []behaviour{
	{"TreeGeneration", testTreeGeneration},
	{"GuessesCount", testGuessesCount},
	{"GuessesStartAgain", testGuessesStartAgain},
}

func testTreeGeneration(ctx context.Context, t *testing.T, s courier.Store) {
	g, err := s.TreeGeneration(ctx)
	must(t, "generation of an empty store", err)
	if g != 0 {
		t.Errorf("generation of an empty store = %d, want 0", g)
	}
	must(t, "bump", s.BumpTreeGeneration(ctx))
	must(t, "bump inside Atomic", s.Atomic(ctx, func(st courier.Store) error { return st.BumpTreeGeneration(ctx) }))
	g, err = s.TreeGeneration(ctx)
	must(t, "generation", err)
	if g != 2 {
		t.Errorf("generation after two bumps = %d, want 2", g)
	}
}

func testGuessesCount(ctx context.Context, t *testing.T, s courier.Store) {
	g, err := s.Guesses(ctx, "person:h1")
	must(t, "guesses of an unknown key", err)
	check(t, "guesses of an unknown key", g, courier.Guesses{})
	for i := 1; i <= 3; i++ {
		g, err = s.AddGuess(ctx, "person:h1", at(i), 2*time.Hour)
		must(t, "add guess", err)
		check(t, fmt.Sprintf("guess %d", i), g, courier.Guesses{Count: i, Last: at(i)})
	}
	g, err = s.AddGuess(ctx, "address:a1", at(3), 2*time.Hour)
	must(t, "add guess to another key", err)
	check(t, "another key", g, courier.Guesses{Count: 1, Last: at(3)})
	checkGet(ctx, t, "Guesses(person:h1)", s.Guesses, "person:h1", courier.Guesses{Count: 3, Last: at(3)})
}

func testGuessesStartAgain(ctx context.Context, t *testing.T, s courier.Store) {
	for i := 1; i <= 2; i++ {
		_, err := s.AddGuess(ctx, "k", at(i), time.Hour)
		must(t, "add guess", err)
	}
	// at(4) is three hours after at(2): the window has passed, so the count starts again.
	g, err := s.AddGuess(ctx, "k", at(4), time.Hour)
	must(t, "add guess after the window", err)
	check(t, "after the window", g, courier.Guesses{Count: 1, Last: at(4)})
	checkGet(ctx, t, "Guesses(k)", s.Guesses, "k", courier.Guesses{Count: 1, Last: at(4)})
}

var settingBehaviours = []behaviour{
	{"SettingInit", testSettingInit},
}

func testSettingInit(ctx context.Context, t *testing.T, s courier.Store) {
	_, err := s.Setting(ctx, "hasher.key")
	wantErr(t, "Setting before InitSetting", err, credtrace.ErrNotFound)

	steps := []struct {
		name       string
		key, value string
		want       string
	}{
		{"first InitSetting stores its value", "hasher.key", "k1", "k1"},
		{"second InitSetting keeps the first value", "hasher.key", "k2", "k1"},
		{"another key is independent", "scoring.method", "v2026", "v2026"},
	}
	for _, st := range steps {
		got, err := s.InitSetting(ctx, st.key, st.value)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got != st.want {
			t.Errorf("%s: InitSetting returned %q, want %q", st.name, got, st.want)
		}
		got, err = s.Setting(ctx, st.key)
		if err != nil || got != st.want {
			t.Errorf("%s: Setting(%q) = %q, %v; want %q, nil", st.name, st.key, got, err, st.want)
		}
	}

	must(t, "DeleteSetting", s.DeleteSetting(ctx, "hasher.key"))
	_, err = s.Setting(ctx, "hasher.key")
	wantErr(t, "Setting after DeleteSetting", err, credtrace.ErrNotFound)
	if got, err := s.Setting(ctx, "scoring.method"); err != nil || got != "v2026" {
		t.Errorf("DeleteSetting removed another key: Setting(scoring.method) = %q, %v", got, err)
	}
	must(t, "DeleteSetting of an unset key", s.DeleteSetting(ctx, "hasher.key"))
	if got, err := s.InitSetting(ctx, "hasher.key", "k3"); err != nil || got != "k3" {
		t.Errorf("InitSetting after DeleteSetting = %q, %v; want the new value k3", got, err)
	}
}

// ----- Atomic -----

var atomicBehaviours = []behaviour{
	{"AtomicWritesLand", testAtomicWritesLand},
	{"AtomicReturnsError", testAtomicReturnsError},
}

func testAtomicWritesLand(ctx context.Context, t *testing.T, s courier.Store) {
	err := s.Atomic(ctx, func(st courier.Store) error {
		if err := st.CreateFirm(ctx, fullFirm()); err != nil {
			return fmt.Errorf("create firm: %w", err)
		}
		// The service reads its own writes inside one block (the audit tail, a new firm).
		checkGet(ctx, t, "Firm inside Atomic", st.Firm, fullFirm().ID, fullFirm())
		if err := st.CreateToken(ctx, merchantToken()); err != nil {
			return fmt.Errorf("create token: %w", err)
		}
		if err := st.AppendAudit(ctx, entry(1)); err != nil {
			return fmt.Errorf("append audit: %w", err)
		}
		if last, ok, err := st.LastAudit(ctx); err != nil || !ok || last.Seq != 1 {
			t.Errorf("LastAudit inside Atomic: got seq %d, ok %v, error %v; want 1, true, nil", last.Seq, ok, err)
		}
		if _, err := st.InitSetting(ctx, "hasher.key", "k1"); err != nil {
			return fmt.Errorf("init setting: %w", err)
		}
		return nil
	})
	must(t, "Atomic", err)

	checkGet(ctx, t, "Firm after Atomic", s.Firm, fullFirm().ID, fullFirm())
	checkGet(ctx, t, "TokenByHash after Atomic", s.TokenByHash, merchantToken().Hash, merchantToken())
	last, ok, err := s.LastAudit(ctx)
	if err != nil || !ok {
		t.Errorf("LastAudit after Atomic: got ok %v, error %v; want true, nil", ok, err)
	} else {
		check(t, "LastAudit after Atomic", last, entry(1))
	}
	if v, err := s.Setting(ctx, "hasher.key"); err != nil || v != "k1" {
		t.Errorf("Setting after Atomic: got %q, %v; want \"k1\", nil", v, err)
	}
}

var errFromFn = errors.New("error from fn")

func testAtomicReturnsError(ctx context.Context, t *testing.T, s courier.Store) {
	must(t, "create", s.CreateFirm(ctx, fullFirm()))
	cases := []struct {
		name string
		fn   func(courier.Store) error
		want error
	}{
		{"fn's own error, wrapped", func(courier.Store) error {
			return fmt.Errorf("deciding: %w", errFromFn)
		}, errFromFn},
		{"ErrNotFound met inside", func(st courier.Store) error {
			_, err := st.Firm(ctx, "f9")
			return err
		}, credtrace.ErrNotFound},
		{"ErrConflict met inside", func(st courier.Store) error {
			return st.CreateFirm(ctx, fullFirm())
		}, credtrace.ErrConflict},
	}
	for _, c := range cases {
		wantErr(t, c.name, s.Atomic(ctx, c.fn), c.want)
	}
	// A failed block must not leave the store wedged (an open transaction, a held lock).
	checkGet(ctx, t, "Firm after the failed blocks", s.Firm, fullFirm().ID, fullFirm())
	must(t, "create after the failed blocks", s.CreateFirm(ctx, sparseFirm()))
	must(t, "Atomic after the failed blocks", s.Atomic(ctx, func(st courier.Store) error {
		return st.CreateToken(ctx, merchantToken())
	}))
	checkGet(ctx, t, "Token after the last Atomic", s.Token, merchantToken().ID, merchantToken())
}

// ----- not found -----

// testNotFound stores one object of each kind first, so that a backend answering any row for
// an unknown key fails too.
func testNotFound(ctx context.Context, t *testing.T, s courier.Store) {
	must(t, "create firm", s.CreateFirm(ctx, fullFirm()))
	must(t, "create site", s.CreateSite(ctx, fullSite()))
	must(t, "create staff", s.CreateStaff(ctx, fullStaff()))
	must(t, "create record", s.CreateRecord(ctx, fullRecord()))
	must(t, "create objection", s.CreateObjection(ctx, fullObjection()))
	must(t, "create token", s.CreateToken(ctx, firmToken()))
	_, err := s.InitSetting(ctx, "hasher.key", "k1")
	must(t, "init setting", err)

	lookups := []struct {
		name string
		get  func() error
	}{
		{"Firm", func() error { _, err := s.Firm(ctx, "f9"); return err }},
		{"FirmByUSCC", func() error { _, err := s.FirmByUSCC(ctx, "91000000000000009X"); return err }},
		{"FirmByGLN", func() error { _, err := s.FirmByGLN(ctx, "0614141009992"); return err }},
		{"Site", func() error { _, err := s.Site(ctx, "s9"); return err }},
		{"SiteByGLN", func() error { _, err := s.SiteByGLN(ctx, "0614141009992"); return err }},
		{"Staff", func() error { _, err := s.Staff(ctx, "p9"); return err }},
		{"StaffByIDHash", func() error { _, err := s.StaffByIDHash(ctx, "idhash-p9"); return err }},
		{"Record", func() error { _, err := s.Record(ctx, "r9"); return err }},
		{"Objection", func() error { _, err := s.Objection(ctx, "o9"); return err }},
		{"Token", func() error { _, err := s.Token(ctx, "t9"); return err }},
		{"TokenByHash", func() error { _, err := s.TokenByHash(ctx, "sha256-t9"); return err }},
		{"Setting", func() error { _, err := s.Setting(ctx, "no.such.key"); return err }},
	}
	for _, l := range lookups {
		wantErr(t, l.name+" of an unknown key", l.get(), credtrace.ErrNotFound)
	}
}
