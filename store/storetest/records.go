package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
)

// ----- records -----

var recordBehaviours = []behaviour{
	{"RecordRoundTrip", testRecordRoundTrip},
	{"RecordCreateConflict", testRecordCreateConflict},
	{"RecordUpdate", testRecordUpdate},
	{"RecordPaging", testRecordPaging},
	{"RecordFilters", testRecordFilters},
	{"RecordFilterFollowsUpdate", testRecordFilterFollowsUpdate},
	{"RecordChangedSince", testRecordChangedSince},
}

// fullRecord sets every field: evidence, a history of two steps and two repairs, one decided
// and one pending (with a zero DecidedAt).
func fullRecord() courier.Record {
	return courier.Record{
		ID:         "r1",
		Subject:    courier.Subject{Kind: courier.SubjectStaff, ID: "p1"},
		FirmID:     "f1",
		Category:   courier.CatDeliverySafety,
		Source:     courier.SrcRegulator,
		Severity:   courier.SevGeneral,
		OccurredAt: at(1),
		DecidedAt:  at(2).Add(-time.Hour), // the penalty decision, after the event and before the entry
		Summary:    "未按规定查验寄件人身份（实名收寄）",
		Evidence: []courier.Evidence{
			{Kind: "waybill", Ref: "SF1234567890123"},
			{Kind: "document", Ref: "京邮罚〔2026〕12 号"},
			{Kind: "link", Ref: "https://example.org/notice?id=12&lang=zh"},
		},
		LegalBasis:       "《快递暂行条例》第二十二条",
		Status:           courier.StatusConfirmed,
		CreatedBy:        "t1",
		CreatedAt:        at(2),
		ConfirmedAt:      at(3),
		PublicUntil:      at(3).AddDate(1, 0, 0),
		RepairEligibleAt: at(3).AddDate(0, 3, 0),
		History: []courier.Transition{
			{From: "", To: courier.StatusPending, At: at(2), By: "t1", Reason: "filed"},
			{From: courier.StatusPending, To: courier.StatusConfirmed, At: at(3), By: "t2", Reason: "核实无误"},
		},
		Repairs: []courier.Repair{
			{
				ID: "rp1", RequestedAt: at(4), RequestedBy: "t3",
				Evidence:   []courier.Evidence{{Kind: "document", Ref: "整改报告 1"}},
				Commitment: "c1", Status: courier.RepairRejected,
				DecidedAt: at(5), DecidedBy: "t2", Reason: "整改材料不全",
			},
			{
				ID: "rp2", RequestedAt: at(6), RequestedBy: "t3",
				Evidence: []courier.Evidence{{Kind: "document", Ref: "整改报告 2"}, {Kind: "link", Ref: "https://example.org/r2"}},
				Status:   courier.RepairPending,
			},
		},
		Version: 1,
	}
}

// sparseRecord is a fresh record: no evidence, history or repairs, and zero clocks (a zero
// DecidedAt too, as records stored before decision dates read back).
func sparseRecord() courier.Record {
	return courier.Record{
		ID:         "r2",
		Subject:    courier.Subject{Kind: courier.SubjectFirm, ID: "f1"},
		FirmID:     "f1",
		Category:   courier.CatComplaint,
		Source:     courier.SrcConsumer,
		Severity:   courier.SevMinor,
		OccurredAt: at(1),
		Status:     courier.StatusPending,
		CreatedAt:  at(1),
		Version:    1,
	}
}

func testRecordRoundTrip(ctx context.Context, t *testing.T, s courier.Store) {
	for _, r := range []courier.Record{fullRecord(), sparseRecord()} {
		must(t, "create "+r.ID, s.CreateRecord(ctx, r))
	}
	for _, r := range []courier.Record{fullRecord(), sparseRecord()} {
		checkGet(ctx, t, "Record("+r.ID+")", s.Record, r.ID, r)
	}
}

func testRecordCreateConflict(ctx context.Context, t *testing.T, s courier.Store) {
	sameID := sparseRecord()
	sameID.ID = fullRecord().ID
	checkCreateConflict(ctx, t, s.CreateRecord, s.Record, recordID, fullRecord(),
		dupCase[courier.Record]{"same id", sameID})
}

func testRecordUpdate(ctx context.Context, t *testing.T, s courier.Store) {
	unknown := fullRecord()
	unknown.ID = "r9"
	checkUpdate(ctx, t, updateCheck[courier.Record]{
		create: s.CreateRecord, update: s.UpdateRecord, get: s.Record, id: recordID,
		stored:  fullRecord(),
		unknown: unknown,
		// A repair is decided, another is asked for and the record is disputed: every
		// nested list changes.
		edit: func(r courier.Record, version int, mark string) courier.Record {
			r.Summary = "更正：" + mark
			r.Status = courier.StatusDisputed
			r.Evidence = append(slices.Clone(r.Evidence), courier.Evidence{Kind: "event", Ref: "ev-" + mark})
			r.History = append(slices.Clone(r.History), courier.Transition{
				From: courier.StatusConfirmed, To: courier.StatusDisputed, At: at(10 + version), By: "t4", Reason: mark,
			})
			r.Repairs = slices.Clone(r.Repairs)
			last := &r.Repairs[len(r.Repairs)-1]
			last.Status, last.DecidedAt, last.DecidedBy, last.Reason = courier.RepairApproved, at(10+version), "t2", mark
			r.Repairs = append(r.Repairs, courier.Repair{ID: "rp-" + mark, RequestedAt: at(20 + version), RequestedBy: "t3", Status: courier.RepairPending})
			r.PublicUntil = at(30 + version)
			r.DecidedAt = at(1).Add(time.Duration(version) * time.Minute) // a corrected decision date
			r.Version = version
			return r
		},
	})
}

func testRecordPaging(ctx context.Context, t *testing.T, s courier.Store) {
	var sorted []courier.Record
	for _, id := range []string{"r1", "r2", "r3"} {
		r := fullRecord()
		r.ID = id
		sorted = append(sorted, r)
	}
	for _, i := range []int{1, 2, 0} {
		must(t, "create", s.CreateRecord(ctx, sorted[i]))
	}
	checkPaging(ctx, t, func(ctx context.Context, p courier.Page) ([]courier.Record, error) {
		return s.Records(ctx, courier.RecordQuery{Page: p})
	}, recordID, sorted)
}

func testRecordFilters(ctx context.Context, t *testing.T, s courier.Store) {
	record := func(id string, subj courier.Subject, firm string, cat courier.Category, st courier.RecordStatus, repairs ...courier.RepairStatus) courier.Record {
		r := sparseRecord()
		r.ID, r.Subject, r.FirmID, r.Category, r.Status = id, subj, firm, cat, st
		for i, rs := range repairs {
			r.Repairs = append(r.Repairs, courier.Repair{ID: fmt.Sprintf("%s-rp%d", id, i), RequestedAt: at(i), Status: rs})
		}
		return r
	}
	firm := func(id string) courier.Subject { return courier.Subject{Kind: courier.SubjectFirm, ID: id} }
	for _, r := range []courier.Record{
		record("r5", firm("f1"), "f1", courier.CatEnforcement, courier.StatusDisputed),
		record("r3", courier.Subject{Kind: courier.SubjectStaff, ID: "p1"}, "f2", courier.CatComplaint, courier.StatusConfirmed, courier.RepairRejected, courier.RepairPending),
		record("r1", firm("f1"), "f1", courier.CatSupervision, courier.StatusConfirmed, courier.RepairRejected),
		record("r4", firm("f2"), "f2", courier.CatDeliverySafety, courier.StatusRepaired, courier.RepairApproved),
		record("r2", courier.Subject{Kind: courier.SubjectSite, ID: "s1"}, "f1", courier.CatComplaint, courier.StatusPending),
	} {
		must(t, "create "+r.ID, s.CreateRecord(ctx, r))
	}
	cases := []struct {
		name string
		q    courier.RecordQuery
		want []string
	}{
		{"no filter", courier.RecordQuery{}, []string{"r1", "r2", "r3", "r4", "r5"}},
		{"firm subject", courier.RecordQuery{Subject: &courier.Subject{Kind: courier.SubjectFirm, ID: "f1"}}, []string{"r1", "r5"}},
		{"site subject", courier.RecordQuery{Subject: &courier.Subject{Kind: courier.SubjectSite, ID: "s1"}}, []string{"r2"}},
		{"subject kind must match too", courier.RecordQuery{Subject: &courier.Subject{Kind: courier.SubjectStaff, ID: "f1"}}, nil},
		{"any of subjects, in id order", courier.RecordQuery{Subjects: []courier.Subject{{Kind: courier.SubjectSite, ID: "s1"}, {Kind: courier.SubjectFirm, ID: "f1"}, {Kind: courier.SubjectFirm, ID: "nobody"}}}, []string{"r1", "r2", "r5"}},
		{"any of subjects, kinds must match", courier.RecordQuery{Subjects: []courier.Subject{{Kind: courier.SubjectStaff, ID: "f1"}, {Kind: courier.SubjectStaff, ID: "s1"}}}, nil},
		{"no subjects match nothing", courier.RecordQuery{Subjects: []courier.Subject{}}, nil},
		{"subjects and category", courier.RecordQuery{Subjects: []courier.Subject{{Kind: courier.SubjectFirm, ID: "f1"}, {Kind: courier.SubjectSite, ID: "s1"}}, Category: courier.CatEnforcement}, []string{"r5"}},
		{"one firm", courier.RecordQuery{FirmIDs: []string{"f2"}}, []string{"r3", "r4"}},
		{"any of two firms", courier.RecordQuery{FirmIDs: []string{"f9", "f2"}}, []string{"r3", "r4"}},
		{"one status", courier.RecordQuery{Status: []courier.RecordStatus{courier.StatusConfirmed}}, []string{"r1", "r3"}},
		{"any of two statuses", courier.RecordQuery{Status: []courier.RecordStatus{courier.StatusDisputed, courier.StatusConfirmed}}, []string{"r1", "r3", "r5"}},
		{"category", courier.RecordQuery{Category: courier.CatComplaint}, []string{"r2", "r3"}},
		{"repair pending", courier.RecordQuery{RepairPending: true}, []string{"r3"}},
		{"firm and statuses", courier.RecordQuery{FirmIDs: []string{"f1"}, Status: []courier.RecordStatus{courier.StatusConfirmed, courier.StatusPending}}, []string{"r1", "r2"}},
		{"subject and category", courier.RecordQuery{Subject: &courier.Subject{Kind: courier.SubjectFirm, ID: "f1"}, Category: courier.CatEnforcement}, []string{"r5"}},
		{"firm and repair pending", courier.RecordQuery{FirmIDs: []string{"f1"}, RepairPending: true}, nil},
		{"firm with limit", courier.RecordQuery{FirmIDs: []string{"f1"}, Page: courier.Page{Limit: 2}}, []string{"r1", "r2"}},
		{"firm after a page", courier.RecordQuery{FirmIDs: []string{"f1"}, Page: courier.Page{After: "r2"}}, []string{"r5"}},
	}
	for _, c := range cases {
		got, err := s.Records(ctx, c.q)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		checkIDs(t, c.name, got, recordID, c.want...)
	}
}

// testRecordFilterFollowsUpdate catches a backend that derives RepairPending (or any filtered
// column) on create only.
func testRecordFilterFollowsUpdate(ctx context.Context, t *testing.T, s courier.Store) {
	r := fullRecord() // rp2 is pending
	must(t, "create", s.CreateRecord(ctx, r))
	expect := func(what string, q courier.RecordQuery, want ...string) {
		t.Helper()
		got, err := s.Records(ctx, q)
		if err != nil {
			t.Errorf("%s: %v", what, err)
			return
		}
		checkIDs(t, what, got, recordID, want...)
	}
	expect("repair pending before the decision", courier.RecordQuery{RepairPending: true}, r.ID)

	r.Repairs = slices.Clone(r.Repairs)
	r.Repairs[1].Status, r.Repairs[1].DecidedAt, r.Repairs[1].DecidedBy = courier.RepairApproved, at(8), "t2"
	r.Status = courier.StatusRepaired
	r.Version = 2
	must(t, "update", s.UpdateRecord(ctx, r))
	expect("repair pending after the decision", courier.RecordQuery{RepairPending: true})
	expect("old status after the update", courier.RecordQuery{Status: []courier.RecordStatus{courier.StatusConfirmed}})
	expect("new status after the update", courier.RecordQuery{Status: []courier.RecordStatus{courier.StatusRepaired}}, r.ID)

	r.Repairs = append(slices.Clone(r.Repairs), courier.Repair{ID: "rp3", RequestedAt: at(9), RequestedBy: "t3", Status: courier.RepairPending})
	r.Version = 3
	must(t, "second update", s.UpdateRecord(ctx, r))
	expect("repair pending after a new request", courier.RecordQuery{RepairPending: true}, r.ID)
}

// testRecordChangedSince checks the store-side filter of export increments: a record is found
// from its last change (entry, transition, repair request or decision) on, and moves with it
// when it changes again.
func testRecordChangedSince(ctx context.Context, t *testing.T, s courier.Store) {
	full := fullRecord() // last change: rp2 requested at(6)
	sparse := sparseRecord()
	sparse.CreatedAt = at(3) // entered, never changed since
	must(t, "create full", s.CreateRecord(ctx, full))
	must(t, "create sparse", s.CreateRecord(ctx, sparse))
	expect := func(what string, q courier.RecordQuery, want ...string) {
		t.Helper()
		got, err := s.Records(ctx, q)
		if err != nil {
			t.Errorf("%s: %v", what, err)
			return
		}
		checkIDs(t, what, got, recordID, want...)
	}
	expect("since the beginning", courier.RecordQuery{ChangedSince: at(0)}, full.ID, sparse.ID)
	expect("since the sparse record's entry (inclusive)", courier.RecordQuery{ChangedSince: at(3)}, full.ID, sparse.ID)
	expect("since the last repair request (inclusive)", courier.RecordQuery{ChangedSince: at(6)}, full.ID)
	expect("since a moment after it", courier.RecordQuery{ChangedSince: at(6).Add(time.Millisecond)})
	expect("since, with a status", courier.RecordQuery{ChangedSince: at(3), Status: []courier.RecordStatus{courier.StatusConfirmed}}, full.ID)
	expect("since, paged", courier.RecordQuery{ChangedSince: at(0), Page: courier.Page{After: full.ID, Limit: 1}}, sparse.ID)

	full.Repairs = slices.Clone(full.Repairs)
	full.Repairs[1].Status, full.Repairs[1].DecidedAt, full.Repairs[1].DecidedBy = courier.RepairApproved, at(9), "t2"
	full.Version = 2
	must(t, "update", s.UpdateRecord(ctx, full))
	expect("since the decision of the repair", courier.RecordQuery{ChangedSince: at(9)}, full.ID)
	expect("since after the decision", courier.RecordQuery{ChangedSince: at(10)})
}

// ----- objections -----

var objectionBehaviours = []behaviour{
	{"ObjectionRoundTrip", testObjectionRoundTrip},
	{"ObjectionCreateConflict", testObjectionCreateConflict},
	{"ObjectionUpdate", testObjectionUpdate},
	{"ObjectionPaging", testObjectionPaging},
	{"ObjectionFilters", testObjectionFilters},
}

// fullObjection is decided and corrected, so every clock is set.
func fullObjection() courier.Objection {
	return courier.Objection{
		ID:          "o1",
		RecordID:    "r1",
		FirmID:      "f1",
		FiledBy:     "t3",
		Reasons:     "运单号录入错误，涉事快件并非本公司承运",
		Evidence:    []courier.Evidence{{Kind: "waybill", Ref: "YT9876543210"}, {Kind: "document", Ref: "承运证明"}},
		FiledAt:     at(1),
		ReviewBy:    at(1).AddDate(0, 0, 10),
		Status:      courier.ObjectionRevoked,
		DecidedAt:   at(2),
		DecidedBy:   "t2",
		Decision:    "异议成立，撤销记录",
		CorrectBy:   at(2).AddDate(0, 0, 10),
		CorrectedAt: at(3),
		Version:     1,
	}
}

// sparseObjection is pending: no evidence and zero decision clocks.
func sparseObjection() courier.Objection {
	return courier.Objection{ID: "o2", RecordID: "r1", FirmID: "f1", FiledAt: at(1), ReviewBy: at(1).AddDate(0, 0, 10), Status: courier.ObjectionPending, Version: 1}
}

func testObjectionRoundTrip(ctx context.Context, t *testing.T, s courier.Store) {
	for _, o := range []courier.Objection{fullObjection(), sparseObjection()} {
		must(t, "create "+o.ID, s.CreateObjection(ctx, o))
	}
	for _, o := range []courier.Objection{fullObjection(), sparseObjection()} {
		checkGet(ctx, t, "Objection("+o.ID+")", s.Objection, o.ID, o)
	}
}

func testObjectionCreateConflict(ctx context.Context, t *testing.T, s courier.Store) {
	sameID := sparseObjection()
	sameID.ID = fullObjection().ID
	checkCreateConflict(ctx, t, s.CreateObjection, s.Objection, objectionID, fullObjection(),
		dupCase[courier.Objection]{"same id", sameID})
}

func testObjectionUpdate(ctx context.Context, t *testing.T, s courier.Store) {
	unknown := sparseObjection()
	unknown.ID = "o9"
	checkUpdate(ctx, t, updateCheck[courier.Objection]{
		create: s.CreateObjection, update: s.UpdateObjection, get: s.Objection, id: objectionID,
		stored:  sparseObjection(),
		unknown: unknown,
		edit: func(o courier.Objection, version int, mark string) courier.Objection {
			o.Status = courier.ObjectionUpheld
			o.DecidedAt = at(10 + version)
			o.DecidedBy = "t2"
			o.Decision = "维持原记录：" + mark
			o.CorrectBy = at(10+version).AddDate(0, 0, 10)
			o.Evidence = append(slices.Clone(o.Evidence), courier.Evidence{Kind: "document", Ref: mark})
			o.Version = version
			return o
		},
	})
}

func testObjectionPaging(ctx context.Context, t *testing.T, s courier.Store) {
	var sorted []courier.Objection
	for _, id := range []string{"o1", "o2", "o3"} {
		o := fullObjection()
		o.ID = id
		sorted = append(sorted, o)
	}
	for _, i := range []int{2, 0, 1} {
		must(t, "create", s.CreateObjection(ctx, sorted[i]))
	}
	checkPaging(ctx, t, func(ctx context.Context, p courier.Page) ([]courier.Objection, error) {
		return s.Objections(ctx, courier.ObjectionQuery{Page: p})
	}, objectionID, sorted)
}

func testObjectionFilters(ctx context.Context, t *testing.T, s courier.Store) {
	objection := func(id, record, firm string, st courier.ObjectionStatus) courier.Objection {
		o := sparseObjection()
		o.ID, o.RecordID, o.FirmID, o.Status = id, record, firm, st
		if id == "o4" {
			o.ReviewBy = at(1) // the others' clocks run out ten days later
		}
		return o
	}
	for _, o := range []courier.Objection{
		objection("o4", "r4", "f2", courier.ObjectionPending),
		objection("o2", "r1", "f1", courier.ObjectionUpheld),
		objection("o1", "r1", "f1", courier.ObjectionPending),
		objection("o3", "r3", "f2", courier.ObjectionRevoked),
	} {
		must(t, "create "+o.ID, s.CreateObjection(ctx, o))
	}
	cases := []struct {
		name string
		q    courier.ObjectionQuery
		want []string
	}{
		{"no filter", courier.ObjectionQuery{}, []string{"o1", "o2", "o3", "o4"}},
		{"record", courier.ObjectionQuery{RecordID: "r1"}, []string{"o1", "o2"}},
		{"record without objections", courier.ObjectionQuery{RecordID: "r9"}, nil},
		{"firm", courier.ObjectionQuery{FirmIDs: []string{"f2"}}, []string{"o3", "o4"}},
		{"one status", courier.ObjectionQuery{Status: []courier.ObjectionStatus{courier.ObjectionPending}}, []string{"o1", "o4"}},
		{"any of two statuses", courier.ObjectionQuery{Status: []courier.ObjectionStatus{courier.ObjectionRevoked, courier.ObjectionUpheld}}, []string{"o2", "o3"}},
		{"record and status", courier.ObjectionQuery{RecordID: "r1", Status: []courier.ObjectionStatus{courier.ObjectionPending}}, []string{"o1"}},
		{"firms and status", courier.ObjectionQuery{FirmIDs: []string{"f1", "f2"}, Status: []courier.ObjectionStatus{courier.ObjectionPending}}, []string{"o1", "o4"}},
		{"firms with a page", courier.ObjectionQuery{FirmIDs: []string{"f1", "f2"}, Page: courier.Page{After: "o1", Limit: 2}}, []string{"o2", "o3"}},
		{"pending, review clock run out", courier.ObjectionQuery{Status: []courier.ObjectionStatus{courier.ObjectionPending}, ReviewBefore: at(1).Add(time.Millisecond)}, []string{"o4"}},
		{"pending, review clock run out later", courier.ObjectionQuery{Status: []courier.ObjectionStatus{courier.ObjectionPending}, ReviewBefore: at(1).AddDate(0, 0, 10).Add(time.Millisecond)}, []string{"o1", "o4"}},
		{"review clock run out, of a firm", courier.ObjectionQuery{FirmIDs: []string{"f2"}, ReviewBefore: at(2)}, []string{"o4"}},
		{"review clock not run out yet", courier.ObjectionQuery{ReviewBefore: at(1)}, nil},
	}
	for _, c := range cases {
		got, err := s.Objections(ctx, c.q)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		checkIDs(t, c.name, got, objectionID, c.want...)
		if c.q.Page != (courier.Page{}) {
			continue
		}
		// CountObjections counts what the same query lists.
		if n, err := s.CountObjections(ctx, c.q); err != nil || n != len(c.want) {
			t.Errorf("CountObjections, %s = %d, %v; want %d", c.name, n, err, len(c.want))
		}
	}
}

// ----- commitments -----

var commitmentBehaviours = []behaviour{
	{"CommitmentRoundTrip", testCommitmentRoundTrip},
	{"CommitmentCreateConflict", testCommitmentCreateConflict},
	{"CommitmentPaging", testCommitmentPaging},
	{"CommitmentFilters", testCommitmentFilters},
}

func fullCommitment() courier.Commitment {
	return courier.Commitment{
		ID:        "c1",
		Subject:   courier.Subject{Kind: courier.SubjectFirm, ID: "f1"},
		FirmID:    "f1",
		Text:      "本公司承诺严格执行收寄验视、实名收寄和过机安检制度。",
		Scope:     "寄递安全",
		Signer:    "王总经理",
		SignedAt:  at(1),
		CreatedAt: at(2),
		CreatedBy: "t3",
	}
}

func sparseCommitment() courier.Commitment {
	return courier.Commitment{ID: "c2", Subject: courier.Subject{Kind: courier.SubjectStaff, ID: "p1"}, FirmID: "f1", Text: "I will scan every parcel.", CreatedAt: at(1)}
}

// getCommitment reads one commitment back; the Store has no getter, so it lists them all.
func getCommitment(s courier.Store) func(context.Context, string) (courier.Commitment, error) {
	return func(ctx context.Context, id string) (courier.Commitment, error) {
		all, err := s.Commitments(ctx, courier.CommitmentQuery{})
		if err != nil {
			return courier.Commitment{}, err
		}
		for _, c := range all {
			if c.ID == id {
				return c, nil
			}
		}
		return courier.Commitment{}, fmt.Errorf("commitment %s: %w", id, credtrace.ErrNotFound)
	}
}

func testCommitmentRoundTrip(ctx context.Context, t *testing.T, s courier.Store) {
	for _, c := range []courier.Commitment{fullCommitment(), sparseCommitment()} {
		must(t, "create "+c.ID, s.CreateCommitment(ctx, c))
	}
	got, err := s.Commitments(ctx, courier.CommitmentQuery{})
	if err != nil {
		t.Fatalf("Commitments: %v", err)
	}
	checkList(t, "Commitments", got, []courier.Commitment{fullCommitment(), sparseCommitment()}, commitmentID)
}

func testCommitmentCreateConflict(ctx context.Context, t *testing.T, s courier.Store) {
	sameID := sparseCommitment()
	sameID.ID = fullCommitment().ID
	checkCreateConflict(ctx, t, s.CreateCommitment, getCommitment(s), commitmentID, fullCommitment(),
		dupCase[courier.Commitment]{"same id", sameID})
}

func testCommitmentPaging(ctx context.Context, t *testing.T, s courier.Store) {
	var sorted []courier.Commitment
	for _, id := range []string{"c1", "c2", "c3"} {
		c := fullCommitment()
		c.ID = id
		sorted = append(sorted, c)
	}
	for _, i := range []int{1, 0, 2} {
		must(t, "create", s.CreateCommitment(ctx, sorted[i]))
	}
	checkPaging(ctx, t, func(ctx context.Context, p courier.Page) ([]courier.Commitment, error) {
		return s.Commitments(ctx, courier.CommitmentQuery{Page: p})
	}, commitmentID, sorted)
}

func testCommitmentFilters(ctx context.Context, t *testing.T, s courier.Store) {
	commitment := func(id string, subj courier.Subject, firm string) courier.Commitment {
		c := sparseCommitment()
		c.ID, c.Subject, c.FirmID = id, subj, firm
		return c
	}
	for _, c := range []courier.Commitment{
		commitment("c3", courier.Subject{Kind: courier.SubjectFirm, ID: "f2"}, "f2"),
		commitment("c1", courier.Subject{Kind: courier.SubjectFirm, ID: "f1"}, "f1"),
		commitment("c2", courier.Subject{Kind: courier.SubjectStaff, ID: "p1"}, "f1"),
	} {
		must(t, "create "+c.ID, s.CreateCommitment(ctx, c))
	}
	cases := []struct {
		name string
		q    courier.CommitmentQuery
		want []string
	}{
		{"no filter", courier.CommitmentQuery{}, []string{"c1", "c2", "c3"}},
		{"firm", courier.CommitmentQuery{FirmIDs: []string{"f1"}}, []string{"c1", "c2"}},
		{"two firms", courier.CommitmentQuery{FirmIDs: []string{"f2", "f1"}}, []string{"c1", "c2", "c3"}},
		{"firm subject", courier.CommitmentQuery{Subject: &courier.Subject{Kind: courier.SubjectFirm, ID: "f2"}}, []string{"c3"}},
		{"staff subject", courier.CommitmentQuery{Subject: &courier.Subject{Kind: courier.SubjectStaff, ID: "p1"}}, []string{"c2"}},
		{"subject kind must match too", courier.CommitmentQuery{Subject: &courier.Subject{Kind: courier.SubjectFirm, ID: "p1"}}, nil},
		{"any of subjects", courier.CommitmentQuery{Subjects: []courier.Subject{{Kind: courier.SubjectStaff, ID: "p1"}, {Kind: courier.SubjectFirm, ID: "f2"}}}, []string{"c2", "c3"}},
		{"no subjects match nothing", courier.CommitmentQuery{Subjects: []courier.Subject{}}, nil},
		{"firm and subject", courier.CommitmentQuery{FirmIDs: []string{"f2"}, Subject: &courier.Subject{Kind: courier.SubjectFirm, ID: "f1"}}, nil},
		{"firm with a page", courier.CommitmentQuery{FirmIDs: []string{"f1"}, Page: courier.Page{After: "c1", Limit: 1}}, []string{"c2"}},
	}
	for _, c := range cases {
		got, err := s.Commitments(ctx, c.q)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		checkIDs(t, c.name, got, commitmentID, c.want...)
	}
}
