package mongodb

import (
	"cmp"
	"slices"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/credtrace/credtrace/scoring"
)

// The documents of the scoring collections, with the conventions of docs.go: times are BSON
// datetimes with the zero time absent, and empty slices and maps come back nil.

type ratingDoc struct {
	ID        string         `bson:"_id"`
	RaterKind string         `bson:"rater_kind"`
	RaterID   string         `bson:"rater_id"`
	Waybill   string         `bson:"waybill"`
	FirmID    string         `bson:"firm_id"`
	SiteID    string         `bson:"site_id"`
	StaffID   string         `bson:"staff_id"`
	Stars     int64          `bson:"stars"`
	Tags      []string       `bson:"tags"`
	Comment   string         `bson:"comment"`
	CreatedAt *bson.DateTime `bson:"created_at,omitempty"`
	UpdatedAt *bson.DateTime `bson:"updated_at,omitempty"`
	// RatedAt is absent from ratings stored before it was kept: those were given at their
	// last update (see scoring.Rating.GivenAt and Scoring.Ratings).
	RatedAt *bson.DateTime `bson:"rated_at,omitempty"`
	Weight  float64        `bson:"weight"`
	Flags   []string       `bson:"flags"`
	Version int64          `bson:"version"`
}

func toRatingDoc(r scoring.Rating) ratingDoc {
	return ratingDoc{
		ID:        r.ID,
		RaterKind: string(r.RaterKind),
		RaterID:   r.RaterID,
		Waybill:   r.Waybill,
		FirmID:    r.FirmID,
		SiteID:    r.SiteID,
		StaffID:   r.StaffID,
		Stars:     int64(r.Stars),
		Tags:      strs(r.Tags),
		Comment:   r.Comment,
		CreatedAt: datetime(r.CreatedAt),
		UpdatedAt: datetime(r.UpdatedAt),
		RatedAt:   datetime(r.RatedAt),
		Weight:    r.Weight,
		Flags:     strs(r.Flags),
		Version:   int64(r.Version),
	}
}

func fromRatingDoc(d ratingDoc) scoring.Rating {
	return scoring.Rating{
		ID:        d.ID,
		RaterKind: scoring.RaterKind(d.RaterKind),
		RaterID:   d.RaterID,
		Waybill:   d.Waybill,
		FirmID:    d.FirmID,
		SiteID:    d.SiteID,
		StaffID:   d.StaffID,
		Stars:     int(d.Stars),
		Tags:      strs(d.Tags),
		Comment:   d.Comment,
		CreatedAt: fromDatetime(d.CreatedAt),
		UpdatedAt: fromDatetime(d.UpdatedAt),
		RatedAt:   fromDatetime(d.RatedAt),
		Weight:    d.Weight,
		Flags:     strs(d.Flags),
		Version:   int(d.Version),
	}
}

// ratingVersionDoc is one version of a rating, under its own key.
type ratingVersionDoc struct {
	Key      string    `bson:"_id"`
	RatingID string    `bson:"rating_id"`
	Version  int64     `bson:"version"`
	Rating   ratingDoc `bson:"rating"`
}

// inputDoc is one count of a run's inputs. The counts are a list rather than a subdocument so
// that their names never have to be field names.
type inputDoc struct {
	Name string `bson:"name"`
	N    int64  `bson:"n"`
}

type runDoc struct {
	ID         string         `bson:"_id"`
	AsOf       *bson.DateTime `bson:"as_of,omitempty"`
	Method     string         `bson:"method"`
	MethodHash string         `bson:"method_hash"`
	Trigger    string         `bson:"trigger"`
	Publish    bool           `bson:"publish"`
	Status     string         `bson:"status"`
	StartedAt  *bson.DateTime `bson:"started_at,omitempty"`
	FinishedAt *bson.DateTime `bson:"finished_at,omitempty"`
	Inputs     []inputDoc     `bson:"inputs"`
	Progress   int64          `bson:"progress"`
	Total      int64          `bson:"total"`
	Error      string         `bson:"error"`
	Proposals  int64          `bson:"proposals"`
	Version    int64          `bson:"version"`
	Period     string         `bson:"period"`
	Reason     string         `bson:"reason"`
	Replaces   string         `bson:"replaces"`
	Superseded string         `bson:"superseded_by"`
	InputsHash string         `bson:"inputs_hash"`
}

func toRunDoc(r scoring.Run) runDoc {
	var inputs []inputDoc
	for name, n := range r.Inputs {
		inputs = append(inputs, inputDoc{Name: name, N: int64(n)})
	}
	slices.SortFunc(inputs, func(a, b inputDoc) int { return cmp.Compare(a.Name, b.Name) })
	return runDoc{
		ID:         r.ID,
		AsOf:       datetime(r.AsOf),
		Method:     r.Method,
		MethodHash: r.MethodHash,
		Trigger:    r.Trigger,
		Publish:    r.Publish,
		Status:     string(r.Status),
		StartedAt:  datetime(r.StartedAt),
		FinishedAt: datetime(r.FinishedAt),
		Inputs:     inputs,
		Progress:   int64(r.Progress),
		Total:      int64(r.Total),
		Error:      r.Error,
		Proposals:  int64(r.Proposals),
		Version:    int64(r.Version),
		Period:     r.Period,
		Reason:     r.Reason,
		Replaces:   r.Replaces,
		Superseded: r.SupersededBy,
		InputsHash: r.InputsHash,
	}
}

func fromRunDoc(d runDoc) scoring.Run {
	var inputs map[string]int
	if len(d.Inputs) > 0 {
		inputs = make(map[string]int, len(d.Inputs))
		for _, in := range d.Inputs {
			inputs[in.Name] = int(in.N)
		}
	}
	return scoring.Run{
		ID:           d.ID,
		AsOf:         fromDatetime(d.AsOf),
		Method:       d.Method,
		MethodHash:   d.MethodHash,
		Trigger:      d.Trigger,
		Publish:      d.Publish,
		Status:       scoring.RunStatus(d.Status),
		StartedAt:    fromDatetime(d.StartedAt),
		FinishedAt:   fromDatetime(d.FinishedAt),
		Inputs:       inputs,
		Progress:     int(d.Progress),
		Total:        int(d.Total),
		Error:        d.Error,
		Proposals:    int(d.Proposals),
		Version:      int(d.Version),
		Period:       d.Period,
		Reason:       d.Reason,
		Replaces:     d.Replaces,
		SupersededBy: d.Superseded,
		InputsHash:   d.InputsHash,
	}
}

type itemDoc struct {
	Kind   string  `bson:"kind"`
	Ref    string  `bson:"ref"`
	Effect float64 `bson:"effect"`
	Detail string  `bson:"detail"`
}

type componentDoc struct {
	Party       string    `bson:"party"`
	Value       float64   `bson:"value"`
	Weight      float64   `bson:"weight"`
	Uncertainty float64   `bson:"uncertainty"`
	Detail      string    `bson:"detail"`
	Items       []itemDoc `bson:"items"`
}

// scoreDoc is one subject's score in one run, under scoreKey.
type scoreDoc struct {
	Key         string         `bson:"_id"`
	RunID       string         `bson:"run_id"`
	Subject     string         `bson:"subject"`
	SubjectID   string         `bson:"subject_id"`
	FirmID      string         `bson:"firm_id"`
	AsOf        *bson.DateTime `bson:"as_of,omitempty"`
	Method      string         `bson:"method"`
	MethodHash  string         `bson:"method_hash"`
	Value       float64        `bson:"value"`
	Uncertainty float64        `bson:"uncertainty"`
	Grade       string         `bson:"grade"`
	PeerGroup   string         `bson:"peer_group"`
	Percentile  float64        `bson:"percentile"`
	Parcels     int64          `bson:"parcels"`
	Components  []componentDoc `bson:"components"`
	Published   bool           `bson:"published"`
	Period      string         `bson:"period"`
}

// scoreKey is the _id of a score: run, subject kind and subject id.
func scoreKey(s scoring.Score) string {
	return s.RunID + "|" + string(s.Subject) + "|" + s.SubjectID
}

func toScoreDoc(s scoring.Score) scoreDoc {
	return scoreDoc{
		Key:         scoreKey(s),
		RunID:       s.RunID,
		Subject:     string(s.Subject),
		SubjectID:   s.SubjectID,
		FirmID:      s.FirmID,
		AsOf:        datetime(s.AsOf),
		Method:      s.Method,
		MethodHash:  s.MethodHash,
		Value:       s.Value,
		Uncertainty: s.Uncertainty,
		Grade:       string(s.Grade),
		PeerGroup:   s.PeerGroup,
		Percentile:  s.Percentile,
		Parcels:     int64(s.Parcels),
		Components: convSlice(s.Components, func(c scoring.Component) componentDoc {
			return componentDoc{Party: c.Party, Value: c.Value, Weight: c.Weight, Uncertainty: c.Uncertainty, Detail: c.Detail,
				Items: convSlice(c.Items, func(it scoring.Item) itemDoc {
					return itemDoc{Kind: it.Kind, Ref: it.Ref, Effect: it.Effect, Detail: it.Detail}
				})}
		}),
		Published: s.Published,
		Period:    s.Period,
	}
}

func fromScoreDoc(d scoreDoc) scoring.Score {
	return scoring.Score{
		RunID:       d.RunID,
		Subject:     scoring.SubjectKind(d.Subject),
		SubjectID:   d.SubjectID,
		FirmID:      d.FirmID,
		AsOf:        fromDatetime(d.AsOf),
		Method:      d.Method,
		MethodHash:  d.MethodHash,
		Value:       d.Value,
		Uncertainty: d.Uncertainty,
		Grade:       scoring.Grade(d.Grade),
		PeerGroup:   d.PeerGroup,
		Percentile:  d.Percentile,
		Parcels:     int(d.Parcels),
		Components: convSlice(d.Components, func(c componentDoc) scoring.Component {
			return scoring.Component{Party: c.Party, Value: c.Value, Weight: c.Weight, Uncertainty: c.Uncertainty, Detail: c.Detail,
				Items: convSlice(c.Items, func(it itemDoc) scoring.Item {
					return scoring.Item{Kind: it.Kind, Ref: it.Ref, Effect: it.Effect, Detail: it.Detail}
				})}
		}),
		Published: d.Published,
		Period:    d.Period,
	}
}

type sanctionDoc struct {
	ID         string         `bson:"_id"`
	Kind       string         `bson:"kind"`
	FirmID     string         `bson:"firm_id"`
	Rule       string         `bson:"rule"`
	Reason     string         `bson:"reason"`
	LegalBasis string         `bson:"legal_basis"`
	RecordIDs  []string       `bson:"record_ids"`
	ScoreRuns  []string       `bson:"score_runs"`
	Status     string         `bson:"status"`
	ProposedAt *bson.DateTime `bson:"proposed_at,omitempty"`
	ProposedBy string         `bson:"proposed_by"`
	ReviewedAt *bson.DateTime `bson:"reviewed_at,omitempty"`
	ReviewedBy string         `bson:"reviewed_by"`
	ReviewNote string         `bson:"review_reason"`
	DecidedAt  *bson.DateTime `bson:"decided_at,omitempty"`
	DecidedBy  string         `bson:"decided_by"`
	Decision   string         `bson:"decision"`
	Start      *bson.DateTime `bson:"start,omitempty"`
	End        *bson.DateTime `bson:"end,omitempty"`
	LiftedAt   *bson.DateTime `bson:"lifted_at,omitempty"`
	LiftReason string         `bson:"lift_reason"`
	Version    int64          `bson:"version"`
	Period     string         `bson:"period"`
	// ChangedAt is Sanction.ChangedAt, kept on every write for export increments, as a
	// record's (backfillChangedAt gives it to sanctions stored before).
	ChangedAt bson.DateTime `bson:"changed_at"`
}

func toSanctionDoc(s scoring.Sanction) sanctionDoc {
	return sanctionDoc{
		ChangedAt:  bson.NewDateTimeFromTime(s.ChangedAt()),
		ID:         s.ID,
		Kind:       string(s.Kind),
		FirmID:     s.FirmID,
		Rule:       s.Rule,
		Reason:     s.Reason,
		LegalBasis: s.LegalBasis,
		RecordIDs:  strs(s.RecordIDs),
		ScoreRuns:  strs(s.ScoreRuns),
		Status:     string(s.Status),
		ProposedAt: datetime(s.ProposedAt),
		ProposedBy: s.ProposedBy,
		ReviewedAt: datetime(s.ReviewedAt),
		ReviewedBy: s.ReviewedBy,
		ReviewNote: s.ReviewReason,
		DecidedAt:  datetime(s.DecidedAt),
		DecidedBy:  s.DecidedBy,
		Decision:   s.Decision,
		Start:      datetime(s.Start),
		End:        datetime(s.End),
		LiftedAt:   datetime(s.LiftedAt),
		LiftReason: s.LiftReason,
		Version:    int64(s.Version),
		Period:     s.Period,
	}
}

func fromSanctionDoc(d sanctionDoc) scoring.Sanction {
	return scoring.Sanction{
		ID:           d.ID,
		Kind:         scoring.SanctionKind(d.Kind),
		FirmID:       d.FirmID,
		Rule:         d.Rule,
		Reason:       d.Reason,
		LegalBasis:   d.LegalBasis,
		RecordIDs:    strs(d.RecordIDs),
		ScoreRuns:    strs(d.ScoreRuns),
		Status:       scoring.SanctionStatus(d.Status),
		ProposedAt:   fromDatetime(d.ProposedAt),
		ProposedBy:   d.ProposedBy,
		ReviewedAt:   fromDatetime(d.ReviewedAt),
		ReviewedBy:   d.ReviewedBy,
		ReviewReason: d.ReviewNote,
		DecidedAt:    fromDatetime(d.DecidedAt),
		DecidedBy:    d.DecidedBy,
		Decision:     d.Decision,
		Start:        fromDatetime(d.Start),
		End:          fromDatetime(d.End),
		LiftedAt:     fromDatetime(d.LiftedAt),
		LiftReason:   d.LiftReason,
		Version:      int(d.Version),
		Period:       d.Period,
	}
}

type methodDoc struct {
	Version   string         `bson:"_id"`
	Doc       string         `bson:"doc"`
	CreatedAt *bson.DateTime `bson:"created_at,omitempty"`
	CreatedBy string         `bson:"created_by"`
}

func toMethodDoc(m scoring.MethodDoc) methodDoc {
	return methodDoc{Version: m.Version, Doc: m.Doc, CreatedAt: datetime(m.CreatedAt), CreatedBy: m.CreatedBy}
}

func fromMethodDoc(d methodDoc) scoring.MethodDoc {
	return scoring.MethodDoc{Version: d.Version, Doc: d.Doc, CreatedAt: fromDatetime(d.CreatedAt), CreatedBy: d.CreatedBy}
}
