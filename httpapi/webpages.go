package httpapi

import (
	"errors"
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/scoring"
	"github.com/credtrace/credtrace/tracking"
)

// barChart draws counts as an SVG bar chart; labels are the grade letters, so nothing but
// numbers and fixed text reaches the markup.
func barChart(labels []string, counts []int) template.HTML {
	max := 1
	for _, n := range counts {
		if n > max {
			max = n
		}
	}
	const h, bar, gap, top = 140, 44, 24, 18
	w := gap + len(counts)*(bar+gap)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg role="img" aria-label="grade distribution" viewBox="0 0 %d %d" width="100%%" style="max-width:%dpx">`, w, top+h+24, w)
	for i, n := range counts {
		bh := h * n / max
		x := gap + i*(bar+gap)
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="#a3262a"></rect>`, x, top+h-bh, bar, bh)
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" font-size="12">%d</text>`, x+bar/2, top+h-bh-4, n)
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" font-size="12">%s</text>`, x+bar/2, top+h+16, template.HTMLEscapeString(labels[i]))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// lineChart draws scores (0-1000), oldest first, as an SVG line with its points.
func lineChart(values []float64) template.HTML {
	if len(values) == 0 {
		return template.HTML(`<p><small>no score yet</small></p>`)
	}
	const w, h = 320, 120
	var pts []string
	for i, v := range values {
		x := 10.0
		if len(values) > 1 {
			x = 10 + float64(i)*float64(w-20)/float64(len(values)-1)
		}
		y := float64(h) - v/1000*float64(h-10)
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg role="img" aria-label="score history" viewBox="0 0 %d %d" width="100%%" style="max-width:%dpx">`, w, h+10, w)
	fmt.Fprintf(&b, `<polyline fill="none" stroke="#a3262a" stroke-width="2" points="%s"></polyline>`, strings.Join(pts, " "))
	for i, p := range pts {
		xy := strings.Split(p, ",")
		fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="3" fill="#1d2733"><title>%.0f</title></circle>`, xy[0], xy[1], values[i])
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

type rankRow struct {
	ID, Name, Grade string
	Score, Delta    float64
}

type anomalyRow struct {
	Kind, Waybill, Detail, FirmName string
	firm                            string
}

// webOverview is the regulators' overview.
func (s *Server) webOverview(c *fiber.Ctx) error {
	a := actor(c)
	data := map[string]any{}
	sc := a
	var names map[string]courier.Firm
	name := func(id string) string {
		if f, ok := names[id]; ok {
			return f.Name
		}
		return id
	}
	grades := []string{"A", "B", "C", "D", "insufficient"}
	labels := []string{"A", "B", "C", "D", "n/a"}
	counts := make([]int, len(grades))
	if s.deps.Scoring != nil {
		latest, prev, err := s.deps.Scoring.FirmScores(ctx(c), sc)
		if err != nil {
			return err
		}
		for _, x := range latest {
			for i, g := range grades {
				if string(x.Grade) == g {
					counts[i]++
				}
			}
		}
		lowest, rose := scoring.Rank(latest, prev, 5)
		var ids []string
		for _, x := range lowest {
			ids = append(ids, x.SubjectID)
		}
		for _, x := range rose {
			ids = append(ids, x.SubjectID)
		}
		if names, err = s.deps.Courier.FirmIdentities(ctx(c), ids); err != nil {
			return err
		}
		var worst, improved []rankRow
		for _, x := range lowest {
			worst = append(worst, rankRow{ID: x.SubjectID, Name: name(x.SubjectID), Grade: string(x.Grade), Score: x.Value})
		}
		for _, x := range rose {
			improved = append(improved, rankRow{ID: x.SubjectID, Name: name(x.SubjectID), Grade: string(x.Grade), Score: x.Value, Delta: x.Delta})
		}
		data["Worst"], data["Improved"] = worst, improved
		data["RunNote"] = fmt.Sprintf("latest run: %d firms", len(latest))
		ps, err := s.deps.Scoring.CountSanctions(ctx(c), sc, scoring.SanctionQuery{Status: []scoring.SanctionStatus{scoring.Proposed, scoring.Reviewed}})
		if err != nil {
			return err
		}
		data["Proposals"] = ps
	}
	data["Chart"] = barChart(labels, counts)
	// The figures are counted by the store; only the latest few anomalies are read.
	overdue, err := s.deps.Courier.CountOverdue(ctx(c), a)
	if err != nil {
		return err
	}
	data["Overdue"] = overdue
	if s.deps.Tracking != nil {
		tc := a
		open, err := s.deps.Tracking.CountAnomalies(ctx(c), tc, tracking.AnomalyQuery{Open: true})
		if err != nil {
			return err
		}
		data["Anomalies"] = open
		as, err := s.deps.Tracking.Anomalies(ctx(c), tc, tracking.AnomalyQuery{Open: true, Newest: true, Limit: overviewAnomalies})
		if err != nil {
			return err
		}
		var rows []anomalyRow
		var carriers []string
		for _, x := range as {
			rows = append(rows, anomalyRow{Kind: string(x.Kind), Waybill: x.Waybill, Detail: x.Detail, firm: x.Carrier})
			carriers = append(carriers, x.Carrier)
		}
		firms, err := s.deps.Courier.FirmIdentities(ctx(c), carriers)
		if err != nil {
			return err
		}
		for i := range rows {
			rows[i].FirmName = firms[rows[i].firm].Name
		}
		data["AnomalyRows"] = rows
		incs, err := s.deps.Tracking.CountIncidents(ctx(c), tc)
		if err != nil {
			return err
		}
		data["Incidents"] = incs
	}
	return s.render(c, "overview", "监管总览", data, "")
}

// overviewAnomalies is how many of the latest open anomalies the overview lists.
const overviewAnomalies = 10

type fileRecord struct{ ID, Date, Category, Severity, Status, Summary string }

// webFile is a firm's credit file with its score, its history and its explanation, for
// regulators and the firm's own tree.
func (s *Server) webFile(c *fiber.Ctx) error {
	a := actor(c)
	f, err := s.deps.Courier.FirmFile(ctx(c), a, c.Params("id"))
	if err != nil {
		if errors.Is(err, credtrace.ErrNotFound) {
			c.Status(fiber.StatusNotFound)
			return s.render(c, "firms", "企业查询", nil, "未找到该企业 · no such firm")
		}
		return err
	}
	data := map[string]any{"ID": f.Firm.ID, "Name": f.Firm.Name, "USCC": f.Firm.USCC, "Licence": string(f.Firm.Licence.Status),
		"Region": f.Firm.Region, "Regulator": a.IsRegulator()}
	var recs []fileRecord
	for _, r := range f.Records {
		recs = append(recs, fileRecord{r.ID, r.OccurredAt.In(tracking.CST).Format(day), string(r.Category), string(r.Severity), string(r.Status), r.Summary})
	}
	data["Records"] = recs
	data["Chart"] = lineChart(nil)
	if s.deps.Scoring != nil {
		v, err := s.deps.Scoring.SubjectScore(ctx(c), a, scoring.Firm, f.Firm.ID)
		if err != nil {
			return err
		}
		if v.Current != nil {
			data["Score"], data["Grade"], data["Uncertainty"] = v.Current.Value, string(v.Current.Grade), v.Current.Uncertainty
			data["Components"] = v.Current.Components
			var vals []float64
			for i := len(v.History) - 1; i >= 0; i-- {
				vals = append(vals, v.History[i].Value)
			}
			data["Chart"] = lineChart(vals)
		}
	}
	return s.render(c, "file", f.Firm.Name, data, "")
}

// webRecordDecision confirms or dismisses a pending record from the file page (regulators).
func (s *Server) webRecordDecision(c *fiber.Ctx) error {
	if err := s.checkCSRF(c); err != nil {
		return err
	}
	a := actor(c)
	var err error
	if c.FormValue("confirm") == "true" {
		_, err = s.deps.Courier.ConfirmRecord(ctx(c), a, c.Params("id"), c.FormValue("reason"))
	} else {
		_, err = s.deps.Courier.DismissRecord(ctx(c), a, c.Params("id"), c.FormValue("reason"))
	}
	if err != nil {
		return err
	}
	back := c.FormValue("back")
	if back == "" || strings.ContainsAny(back, "/?#:") {
		back = ""
	}
	return c.Redirect("/ui/firms/"+back+"/file", fiber.StatusSeeOther)
}

type objectionRow struct {
	FirmID, FirmName, Record, Filed, ReviewBy, Status, Reasons string
	Overdue                                                    bool
}

// webObjections lists a firm's (or, for regulators, every) objection with its clock, and lets a
// firm dispute one of its confirmed records.
func (s *Server) webObjections(c *fiber.Ctx) error {
	a := actor(c)
	os, _, err := s.deps.Courier.Objections(ctx(c), a, false, "", courier.MaxLimit)
	if err != nil {
		return err
	}
	now := s.deps.Courier.Now()
	ids := make([]string, len(os))
	for i, o := range os {
		ids[i] = o.FirmID
	}
	firms, err := s.deps.Courier.FirmIdentities(ctx(c), ids)
	if err != nil {
		return err
	}
	var rows []objectionRow
	for _, o := range os {
		rows = append(rows, objectionRow{o.FirmID, firms[o.FirmID].Name, o.RecordID, o.FiledAt.In(tracking.CST).Format(day), o.ReviewBy.In(tracking.CST).Format(day),
			string(o.Status), o.Reasons, o.Overdue(now)})
	}
	recs, _, err := s.deps.Courier.Records(ctx(c), a, courier.RecordQuery{Status: []courier.RecordStatus{courier.StatusConfirmed}}, "", courier.MaxLimit)
	if err != nil {
		return err
	}
	type disputableRow struct{ ID, Date, CategoryText, Summary string }
	var disputable []disputableRow
	for _, r := range recs {
		cat := string(r.Category)
		if zh, ok := terms["category"][cat]; ok {
			cat = zh + " " + cat // an <option> holds text only
		}
		disputable = append(disputable, disputableRow{r.ID, r.OccurredAt.In(tracking.CST).Format(day), cat, r.Summary})
	}
	return s.render(c, "objections", "异议", map[string]any{"Objections": rows, "Disputable": disputable}, "")
}

func (s *Server) webFileObjection(c *fiber.Ctx) error {
	if err := s.checkCSRF(c); err != nil {
		return err
	}
	a := actor(c)
	if _, err := s.deps.Courier.FileObjection(ctx(c), a, courier.ObjectionInput{RecordID: c.FormValue("record_id"), Reasons: c.FormValue("reasons")}); err != nil {
		return err
	}
	return c.Redirect("/ui/objections", fiber.StatusSeeOther)
}

// webRatings lets a merchant rate a delivery of its own parcels.
func (s *Server) webRatings(c *fiber.Ctx) error {
	a := actor(c)
	data := map[string]any{"Stars": []int{5, 4, 3, 2, 1}}
	if s.deps.Tracking != nil {
		ps, err := s.deps.Tracking.MerchantParcels(ctx(c), a, 30, 50)
		if err != nil {
			return err
		}
		type row struct{ Waybill, Collected, Status string }
		var rows []row
		for _, p := range ps {
			rows = append(rows, row{p.Waybill, p.CollectedAt.In(tracking.CST).Format("2006-01-02 15:04"), string(p.Status)})
		}
		data["Parcels"] = rows
	}
	if c.Method() == fiber.MethodPost {
		if err := s.checkCSRF(c); err != nil {
			return err
		}
		stars := 0
		fmt.Sscan(c.FormValue("stars"), &stars)
		r, err := s.deps.Scoring.Rate(ctx(c), a,
			scoring.RatingInput{Waybill: c.FormValue("waybill"), Stars: stars, Comment: c.FormValue("comment")})
		if err != nil {
			var ve *credtrace.Error
			if errors.As(err, &ve) && len(ve.Fields) > 0 {
				c.Status(fiber.StatusUnprocessableEntity)
				return s.render(c, "ratings", "评价配送", data, ve.Fields[0].Field+": "+ve.Fields[0].Reason)
			}
			return err
		}
		data["Rated"] = r
	}
	return s.render(c, "ratings", "评价配送", data, "")
}

type tokenRow struct {
	ID, Label, Role, For, Created, Expires, LastUsed, State, GraceUntil string
}

// webTokens lists the tokens for regulators, a page at a time: who they act for (firms by
// name, read in one query), their expiry, last use and rotation, never their secrets.
func (s *Server) webTokens(c *fiber.Ctx) error {
	ts, next, err := s.deps.Courier.Tokens(ctx(c), actor(c), courier.TokenQuery{}, c.Query("cursor"), courier.MaxLimit)
	if err != nil {
		return err
	}
	ids := make([]string, len(ts))
	for i, t := range ts {
		ids[i] = t.FirmID
	}
	firms, err := s.deps.Courier.FirmIdentities(ctx(c), ids)
	if err != nil {
		return err
	}
	now := s.deps.Courier.Now()
	when := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.In(tracking.CST).Format("2006-01-02 15:04")
	}
	var rows []tokenRow
	for _, t := range ts {
		r := tokenRow{ID: t.ID, Label: t.Label, Role: string(t.Role), Created: when(t.CreatedAt), Expires: when(t.ExpiresAt), LastUsed: when(t.LastUsedAt), State: "active"}
		switch {
		case t.FirmID != "":
			r.For = firms[t.FirmID].Name
			if r.For == "" {
				r.For = t.FirmID
			}
		case t.MerchantID != "":
			r.For = "商家 merchant " + t.MerchantID
		case t.StaffID != "":
			r.For = "人员 staff " + t.StaffID
		}
		switch {
		case !t.RevokedAt.IsZero():
			r.State = "revoked"
		case !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt):
			r.State = "expired"
		case now.Before(t.RetiredUntil):
			r.State, r.GraceUntil = "grace", when(t.RetiredUntil)
		}
		rows = append(rows, r)
	}
	return s.render(c, "tokens", "令牌", map[string]any{"Tokens": rows, "Next": next, "Grace": s.deps.Courier.TokenGrace().String()}, "")
}
