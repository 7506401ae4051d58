package mongodb_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/scoring"
	"github.com/credtrace/credtrace/store/mongodb"
	"github.com/credtrace/credtrace/store/mongodb/mongotest"
	"github.com/credtrace/credtrace/store/storetest"
	"github.com/credtrace/credtrace/tracking"
)

// These tests run the store through mongotest.TxnProxy, which makes the embedded FerretDB look
// like a replica-set primary and records every command the driver sends. They show that each
// operation of an Atomic block goes out in the block's transaction (its lsid and txnNumber) and
// that the block ends with commitTransaction, or abortTransaction when it fails. They cannot
// show the rollback: FerretDB applies every write when it arrives and the proxy answers the
// abort itself, so that all-or-nothing stays the server's guarantee, untested here.

// txnStore opens a store through a new proxy on a fresh database.
func txnStore(t *testing.T) (*mongodb.Store, *mongotest.TxnProxy) {
	t.Helper()
	p := mongotest.NewTxnProxy(t)
	_, db := mongotest.NewDB(t)
	return openAt(t, p.URI(), db), p
}

func openAt(t testing.TB, uri, db string, opts ...mongodb.Option) *mongodb.Store {
	t.Helper()
	st, err := mongodb.Open(auditCtx(t), uri, db, opts...)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := st.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return st
}

// txnService is a courier service on st whose trail holds its bootstrap entry, with its
// regulator, and one firm.
func txnService(t *testing.T, st *mongodb.Store) (*courier.Service, credtrace.Caller, courier.Firm) {
	t.Helper()
	svc, reg := bootstrapped(t, st)
	code := auditUSCCs[0]
	f, err := svc.CreateFirm(auditCtx(t), reg, courier.FirmInput{USCC: code, Name: "顺达速运", Kind: courier.KindHQ, Region: "130102",
		Licence: courier.Licence{Number: "冀邮" + code, Status: courier.LicenceActive, ValidFrom: svc.Now().AddDate(-1, 0, 0), ValidTo: svc.Now().AddDate(4, 0, 0)}})
	if err != nil {
		t.Fatalf("create firm: %v", err)
	}
	return svc, reg, f
}

// monitoring reports the driver's own heartbeats, sent on connections of their own.
func monitoring(c mongotest.Command) bool {
	switch c.Name {
	case "hello", "isMaster", "ismaster":
		return true
	}
	return false
}

// block checks that cmds, the commands sent while one Atomic block ran, are that block's and
// nothing else: the first starts a transaction, every one carries its lsid and txnNumber, and
// the last ends it with end (commitTransaction or abortTransaction). It returns the number of
// operations in the block.
func block(t *testing.T, what string, cmds []mongotest.Command, end string) int {
	t.Helper()
	var ops []mongotest.Command
	for _, c := range cmds {
		if !monitoring(c) {
			ops = append(ops, c)
		}
	}
	if len(ops) < 2 {
		t.Fatalf("%s: %d commands %v; want the block's operations and its end", what, len(ops), ops)
	}
	first, last := ops[0], ops[len(ops)-1]
	if !first.StartTransaction || first.LSID == "" || first.TxnNumber == 0 {
		t.Errorf("%s: first command %+v does not start a transaction", what, first)
	}
	for i, c := range ops {
		if c.LSID != first.LSID || c.TxnNumber != first.TxnNumber {
			t.Errorf("%s: command %d %+v is outside the transaction (lsid %s, txnNumber %d)", what, i, c, first.LSID, first.TxnNumber)
		}
		if i > 0 && c.StartTransaction {
			t.Errorf("%s: command %d %+v starts a second transaction", what, i, c)
		}
		if i < len(ops)-1 && (c.Name == "commitTransaction" || c.Name == "abortTransaction") {
			t.Errorf("%s: command %d is %s before the block ended", what, i, c.Name)
		}
	}
	if last.Name != end {
		t.Errorf("%s: last command is %s, want %s", what, last.Name, end)
	}
	return len(ops) - 1
}

// since returns the commands p saw after the first n.
func since(p *mongotest.TxnProxy, n int) []mongotest.Command { return p.Commands()[n:] }

func names(cmds []mongotest.Command) string {
	var out []string
	for _, c := range cmds {
		if !monitoring(c) {
			out = append(out, c.Name)
		}
	}
	return strings.Join(out, ",")
}

// TestTransactionsDetectedBehindPrimary: behind the proxy, which answers hello as a replica-set
// primary, Open finds transactions (TestTransactionsDetected: without it, none).
func TestTransactionsDetectedBehindPrimary(t *testing.T) {
	st, _ := txnStore(t)
	if !st.Transactions() {
		t.Errorf("Transactions() behind the replica-set proxy = false, want true")
	}
}

// TestFileObjectionInOneTransaction files an objection, which marks the record disputed, stores
// the objection and appends its audit entry: every operation is the block's, and it commits.
// Filing it again fails on the record's status after reading it: the block aborts.
func TestFileObjectionInOneTransaction(t *testing.T) {
	st, p := txnStore(t)
	svc, reg, f := txnService(t, st)
	ctx := auditCtx(t)
	r, err := svc.CreateRecord(ctx, reg, courier.RecordInput{Subject: courier.Subject{Kind: courier.SubjectFirm, ID: f.ID},
		Category: courier.CatSupervision, Source: courier.SrcRegulator, Severity: courier.SevGeneral,
		OccurredAt: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC), Summary: "双随机抽查：未落实收寄验视",
		Evidence: []courier.Evidence{{Kind: "document", Ref: "冀邮检〔2026〕12号"}}})
	if err != nil {
		t.Fatalf("create record: %v", err)
	}

	mark := len(p.Commands())
	o, err := svc.FileObjection(ctx, reg, courier.ObjectionInput{RecordID: r.ID, Reasons: "the inspection visited another site"})
	if err != nil {
		t.Fatalf("file objection: %v", err)
	}
	cmds := since(p, mark)
	n := block(t, "file objection", cmds, "commitTransaction")
	// The record read and updated, the objection inserted, the trail's tail read, its head read,
	// moved, and the entry inserted: a store that ran any of them outside the session would fail
	// above; this guards against the block doing less than it should.
	if n < 6 {
		t.Errorf("file objection: %d operations in the block (%s), want at least 6", n, names(cmds))
	}
	got, err := st.Record(ctx, r.ID)
	if err != nil || got.Status != courier.StatusDisputed {
		t.Errorf("record after filing: status %q, error %v; want disputed", got.Status, err)
	}
	last, _, err := st.LastAudit(ctx)
	if err != nil || last.Action != "objection.file" || last.EntityID != o.ID {
		t.Errorf("last audit entry = %+v, %v; want objection.file of %s", last, err, o.ID)
	}
	var head struct {
		Seq  int64  `bson:"seq"`
		Hash string `bson:"hash"`
	}
	if err := st.DB().Collection("counters").FindOne(ctx, bson.D{{Key: "_id", Value: "audit_head"}}).Decode(&head); err != nil {
		t.Fatalf("audit head: %v", err)
	}
	if head.Seq != last.Seq || head.Hash != last.Hash {
		t.Errorf("audit head = %d %s, want the last entry's %d %s", head.Seq, head.Hash, last.Seq, last.Hash)
	}

	mark = len(p.Commands())
	_, err = svc.FileObjection(ctx, reg, courier.ObjectionInput{RecordID: r.ID, Reasons: "again"})
	if !errors.Is(err, credtrace.ErrState) {
		t.Fatalf("filing on a disputed record: %v, want ErrState", err)
	}
	cmds = since(p, mark)
	block(t, "refused objection", cmds, "abortTransaction")
	for _, c := range cmds {
		if c.Name == "commitTransaction" {
			t.Errorf("refused objection: commitTransaction sent")
		}
	}
}

// TestAtomicBlocks runs blocks through Atomic directly: a scoring decision and its audit entry
// through the Auditor cmd wires (the scoring view of the block's store), a nested Atomic that
// joins its block, and a block whose function fails.
func TestAtomicBlocks(t *testing.T) {
	st, p := txnStore(t)
	svc, _, f := txnService(t, st)
	ctx := auditCtx(t)

	t.Run("scoring decision with its entry", func(t *testing.T) {
		aud := courier.NewAuditor(svc, func(cs courier.Store) scoring.Store { return cs.(*mongodb.Store).Scoring() })
		x := scoring.Sanction{ID: "sx-1", Kind: scoring.PublicExposure, FirmID: f.ID, Rule: "r1", Status: scoring.Proposed,
			ProposedAt: time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC), ProposedBy: "run-1", Version: 1}
		mark := len(p.Commands())
		err := aud.Atomic(ctx, func(sst scoring.Store, audit func(actor, action, entity, id, detail string) error) error {
			if err := sst.CreateSanction(ctx, x); err != nil {
				return err
			}
			return audit("run-1", "sanction.propose", "sanction", x.ID, "kind=public_exposure")
		})
		if err != nil {
			t.Fatalf("atomic: %v", err)
		}
		block(t, "sanction and entry", since(p, mark), "commitTransaction")
		if _, err := st.Scoring().Sanction(ctx, x.ID); err != nil {
			t.Errorf("sanction after the block: %v", err)
		}
	})

	t.Run("nested Atomic joins", func(t *testing.T) {
		mark := len(p.Commands())
		err := st.Atomic(ctx, func(cs courier.Store) error {
			if err := cs.BumpTreeGeneration(ctx); err != nil {
				return err
			}
			if err := cs.Atomic(ctx, func(inner courier.Store) error { return inner.BumpTreeGeneration(ctx) }); err != nil {
				return err
			}
			return cs.(*mongodb.Store).Tracking().Atomic(ctx, func(tst tracking.Store) error {
				_, err := tst.Incident(ctx, "none")
				if err == nil {
					return fmt.Errorf("incident none found")
				}
				return nil
			})
		})
		if err != nil {
			t.Fatalf("atomic: %v", err)
		}
		block(t, "nested", since(p, mark), "commitTransaction")
	})

	t.Run("failing block aborts", func(t *testing.T) {
		stop := errors.New("stop")
		mark := len(p.Commands())
		err := st.Atomic(ctx, func(cs courier.Store) error {
			if err := cs.BumpTreeGeneration(ctx); err != nil {
				return err
			}
			return stop
		})
		if !errors.Is(err, stop) {
			t.Fatalf("atomic: %v, want fn's error", err)
		}
		block(t, "failing", since(p, mark), "abortTransaction")
	})
}

// TestAuditAppendLosesRace has another writer append to the trail between the block's read of
// the tail and its append. The block's append loses (here on the taken Seq, since FerretDB
// gives no snapshot; on MongoDB at the head, as a write conflict), its transaction is aborted,
// and WithTransaction runs the block again, which appends after the other writer's entry.
func TestAuditAppendLosesRace(t *testing.T) {
	st, p := txnStore(t)
	svc, reg, _ := txnService(t, st)
	other := openAt(t, p.URI(), st.DB().Name())
	otherSvc := courier.NewService(other, courier.NewHasher([]byte("test-pii-key-0123456789abcdefghij")), courier.DefaultPolicy(), nil)
	ctx := auditCtx(t)

	runs := 0
	mark := len(p.Commands())
	err := st.Atomic(ctx, func(cs courier.Store) error {
		runs++
		racer := cs
		if runs == 1 {
			racer = &racing{Store: cs, race: func() error {
				return other.Atomic(ctx, func(ocs courier.Store) error {
					return otherSvc.AuditIn(ctx, ocs, "other", "test.race", "test", "o1", "")
				})
			}}
		}
		return svc.AuditIn(ctx, racer, "mine", "test.mine", "test", "m1", "")
	})
	if err != nil {
		t.Fatalf("atomic: %v", err)
	}
	if runs != 2 {
		t.Errorf("the block ran %d times, want 2 (lost the race, then won)", runs)
	}
	var ends []string
	for _, c := range since(p, mark) {
		if c.Name == "commitTransaction" || c.Name == "abortTransaction" {
			ends = append(ends, c.Name)
		}
	}
	// The other writer commits inside the first run, which then aborts; the second run commits.
	if got, want := strings.Join(ends, ","), "commitTransaction,abortTransaction,commitTransaction"; got != want {
		t.Errorf("transaction ends = %s, want %s", got, want)
	}
	entries, err := st.AuditEntries(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action)
	}
	if got, want := strings.Join(actions[len(actions)-2:], ","), "test.race,test.mine"; got != want {
		t.Errorf("last two entries = %s, want %s", got, want)
	}
	if res, err := svc.VerifyAudit(ctx, reg); err != nil || !res.OK {
		t.Errorf("VerifyAudit = %+v, %v; want OK", res, err)
	}
}

// racing is a block's store whose AppendAudit first lets another writer append.
type racing struct {
	courier.Store
	race func() error
}

func (r *racing) AppendAudit(ctx context.Context, e courier.AuditEntry) error {
	if err := r.race(); err != nil {
		return fmt.Errorf("the other writer: %w", err)
	}
	return r.Store.AppendAudit(ctx, e)
}

// TestContractBehindPrimary runs the store's contract suite with transactions on: Atomic's
// blocks (and their audit appends, through the head) then go through WithTransaction.
func TestContractBehindPrimary(t *testing.T) {
	storetest.Run(t, func(t *testing.T) courier.Store {
		st, _ := txnStore(t)
		// The proxy answers commitTransaction itself and FerretDB writes each update on
		// arrival, so the races are FerretDB's, without the server's write conflicts.
		return embeddedCourier{st}
	})
}
