package scoring

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/tracking"
)

// Methodology is the evaluation committee's rule set for one year. It is a document (a file
// or a stored version), so it carries its own JSON shape here: the shape is part of the domain,
// not of the HTTP API.
type Methodology struct {
	Version string `json:"version"`
	// EffectiveFrom is when the version takes effect: a period is scored by the version that
	// took effect last at its start. A new version must take effect later than it is stored.
	EffectiveFrom time.Time `json:"effective_from"`
	Description   string    `json:"description"`
	WindowMonths  int       `json:"window_months"`
	// TimeWeights give a record's weight by age: the first band whose UpToMonths the age is
	// under. Older than the last band: weight 0.
	TimeWeights     []TimeBand         `json:"time_weights"`
	SeverityWeights map[string]float64 `json:"severity_weights"`
	CategoryWeights map[string]float64 `json:"category_weights"`
	// PartyWeights combine the components: regulator (records), tracking (objective service
	// quality), merchant and consumer (ratings). They sum to 1.
	PartyWeights map[string]float64 `json:"party_weights"`
	// Tracking measure: weighted rates of late deliveries, losses and damage per 10,000
	// parcels and verified complaints per million.
	TrackingWeights map[string]float64 `json:"tracking_weights"`
	// Ratings shrink toward the prior mean with PriorCount pseudo-ratings (Bayesian average).
	PriorMean  float64 `json:"prior_mean"`
	PriorCount float64 `json:"prior_count"`
	// Bonuses, in points, for commitments kept (one per commitment, up to the cap).
	CommitmentBonus float64 `json:"commitment_bonus"`
	BonusCap        float64 `json:"bonus_cap"`
	// Below MinParcels parcels in the window and MinRatings ratings and no record, the grade
	// is insufficient.
	MinParcels int `json:"min_parcels"`
	MinRatings int `json:"min_ratings"`
	// Peer groups: by kind and by volume band (upper bounds of parcels in the window).
	VolumeBands []int `json:"volume_bands"`
	// Grade cut-offs: a score at or above A is A, and so on; below C is D.
	Cutoffs map[string]float64 `json:"cutoffs"`
	// Rating rules.
	RatingEditHours int     `json:"rating_edit_hours"`
	BurstCount      int     `json:"burst_count"`       // this many 1-star ratings by one rater in a day is a burst
	BurstWeight     float64 `json:"burst_weight"`      // what a burst rating still counts for
	SuspectFiveStar float64 `json:"suspect_five_star"` // weight of a 5-star rating on an empty-parcel suspect
	// BurstScope is what one burst counts: BurstPerRater (or absent, 2026.1) one rater's
	// one-star ratings of all firms, BurstPerTree one rater's one-star ratings of one firm's
	// tree (the firms under one root), so that honest one-star ratings of several brands by a
	// busy merchant are not one burst.
	BurstScope string `json:"burst_scope,omitempty"`
	// NetBurstsApart keeps a burst's weight through the weekly netting: a rater's burst ratings
	// of a firm in a week net to one rating of at most the burst weight, apart from the rater's
	// other ratings of the firm that week (which net as before), so that honest ratings netted
	// with a burst do not lift it back to the weight of one (2026.2 on).
	NetBurstsApart bool `json:"net_bursts_apart,omitempty"`
	// BurstPace, from 2026.5 on, counts in a burst only the one-star ratings that follow one
	// another within this share of the rater's own pace: the mean time between its ratings (of
	// the burst's scope) in the BurstBaseline before the rating; the gap is at most BurstWindow.
	// A busy merchant that rates a parcel every few hours gives one-star ratings hours after a
	// burst at its usual pace, and those are not of the burst; a rater whose gap comes to
	// BurstWindow or more (at 0.1, a pace of ten days, or no rating in the baseline) keeps the
	// rule of the versions before (the ones within BurstWindow), which 0 (absent) is. Under it
	// the run judges bursts afresh from all the ratings it reads, not only adding to the flags
	// given when each rating arrived (which saw fewer of the rater's ratings).
	BurstPace          float64        `json:"burst_pace,omitempty"`
	Lists              Lists          `json:"lists"`
	InspectionsByGrade map[string]int `json:"inspections_by_grade"` // suggested random inspections a year
	// Evidence, from 2026.3 on: records as a rate of the volume handled, standard errors from
	// the sample sizes, grade ranges and the insufficient rule by the score's standard error,
	// ratings shrunk toward the peer group. Absent (nil) in earlier versions, which keep their
	// rules: MinParcels, MinRatings and the all-firms prior.
	Evidence *Evidence `json:"evidence,omitempty"`
	// SegmentNorms, from 2026.4 on, are the dwell norms in hours per custody segment kind
	// (pickup, sorting, line_haul, last_mile) by which the delay of a late parcel is
	// attributed: it is shared among the holders whose segment exceeded its norm, by how far,
	// and the tracking weight late_share_per_10k then weighs each subject's attributed share
	// of late parcels per 10,000 parcels it handled, in place of late_per_10k (the delivering
	// outlet's late count). The statistics are measured with these norms as parcels are
	// judged (cmd wires them into tracking), so a version that changes them measures only the
	// parcels judged after it is wired.
	SegmentNorms map[string]float64 `json:"segment_norms,omitempty"`
	// StaffCarriedShare, from 2026.5 on, takes a person's late share only from the segments
	// they had in hand (Counts.CarriedShare: a collection not handed in, a delivery round not
	// completed, in time), not from the wait at a site after an arrival they happened to scan,
	// which is the site's.
	StaffCarriedShare bool `json:"staff_carried_share,omitempty"`
}

// maxSegmentNorm is the longest norm a segment may have: the total delay within a city (3
// days), past which an open parcel is deemed lost, so that the open segment of a lost parcel
// always exceeds its norm.
const maxSegmentNorm = 72.0

// Evidence are the rules that weigh the evidence by its amount (2026.3 on).
type Evidence struct {
	// Record points are per 10,000 parcels handled, over at least ExposureFloor parcels, and
	// RecordHalf points per 10,000 halve the regulator component.
	ExposureFloor int     `json:"exposure_floor"`
	RecordHalf    float64 `json:"record_half"`
	// RecordUnit is the points of one record that could as well have been found: the record
	// count's Poisson error, sqrt(sum of squared points + unit²), over the exposure.
	RecordUnit float64 `json:"record_unit"`
	// StarVariance is the prior variance of stars, with the prior's pseudo-ratings.
	StarVariance float64 `json:"star_variance"`
	// Spread is how far, in score points, subjects' components truly differ: a component of
	// standard error SE weighs its party's weight × Spread²/(Spread² + SE²) (its credibility).
	Spread float64 `json:"spread"`
	// MaxSE: a score whose standard error exceeds it is insufficient, unless a record is in
	// force. With no evidence at all the error is Spread·√Σ w² (81.5 for 150 and 2026.1's weights).
	MaxSE float64 `json:"max_se"`
	// Shrink names the rating prior: "peer", the mean of the subject's peer group (kind and
	// volume band) without the subject itself; "all", the mean of all firms' ratings.
	Shrink string `json:"shrink"`
	// TimelinessShare, from 2026.4 on, parts the tracking component in two, each with its own
	// standard error and credibility: timeliness (the late rate) with this share of the
	// tracking weight, incidents (losses, damage, complaints, empty-parcel suspects) with the
	// rest. Absent (0): one component, as in 2026.3.
	TimelinessShare float64 `json:"timeliness_share,omitempty"`
	// RecordErrorByVolume, from 2026.4 on, takes the record count's error over the parcels
	// the subject handled, not over the exposure floor: the floor still bounds the rate, but
	// a small volume with no record weighs as little evidence as it is.
	RecordErrorByVolume bool `json:"record_error_by_volume,omitempty"`
}

// The burst scopes (Methodology.BurstScope).
const (
	BurstPerRater = "rater"
	BurstPerTree  = "firm_tree"
)

// TimeBand is an age band of records.
type TimeBand struct {
	UpToMonths int     `json:"up_to_months"`
	Weight     float64 `json:"weight"`
}

// Lists are the rules that turn published grades and records into proposals.
type Lists struct {
	RedConsecutiveA   int            `json:"red_consecutive_a"`     // grade A this many published periods in a row, and no serious record
	BlackConsecutiveD int            `json:"black_consecutive_d"`   // grade D this many published periods in a row
	RevocationGrade   []Class        `json:"revocation_grade"`      // records of these classes blacklist and propose revocation at once
	ReviewDecile      int            `json:"review_decile_periods"` // periods in the worst decile before a mandatory review
	SanctionMonths    map[string]int `json:"sanction_months"`       // how long an approved sanction lasts (0: until lifted)
}

// Class names a kind of record by category and severity.
type Class struct {
	Category string `json:"category"`
	Severity string `json:"severity"`
}

// DefaultMethod is the default methodology, written out in METHOD.md.
const DefaultMethod = `{
  "version": "2026.1",
  "effective_from": "2026-01-01T00:00:00+08:00",
  "description": "credtrace default: FMCSA-style time and severity weights, exposure per 10,000 parcels, Bayesian ratings, peer percentiles",
  "window_months": 24,
  "time_weights": [{"up_to_months": 6, "weight": 3}, {"up_to_months": 12, "weight": 2}, {"up_to_months": 24, "weight": 1}],
  "severity_weights": {"minor": 1, "general": 3, "serious": 8},
  "category_weights": {"supervision": 1, "enforcement": 1.5, "complaint": 0.8, "media": 0.8, "licence": 1.2, "service_quality": 1, "delivery_safety": 1.5},
  "party_weights": {"regulator": 0.4, "tracking": 0.3, "merchant": 0.15, "consumer": 0.15},
  "tracking_weights": {"late_per_10k": 0.02, "lost_per_10k": 1.0, "damaged_per_10k": 0.5, "complaints_per_million": 0.05},
  "prior_mean": 4.2,
  "prior_count": 10,
  "commitment_bonus": 10,
  "bonus_cap": 30,
  "min_parcels": 500,
  "min_ratings": 20,
  "volume_bands": [10000, 100000, 1000000],
  "cutoffs": {"A": 850, "B": 700, "C": 550},
  "rating_edit_hours": 168,
  "burst_count": 5,
  "burst_weight": 0.2,
  "suspect_five_star": 0,
  "lists": {
    "red_consecutive_a": 2,
    "black_consecutive_d": 2,
    "revocation_grade": [{"category": "delivery_safety", "severity": "serious"}],
    "review_decile_periods": 4,
    "sanction_months": {"redlist": 12, "blacklist": 12, "public_exposure": 3, "platform_restriction": 6, "suspension": 3, "revocation_proposal": 0}
  },
  "inspections_by_grade": {"A": 1, "B": 2, "C": 4, "D": 12, "insufficient": 2}
}`

// Method2026_2 is the next methodology version: 2026.1 with a weight for empty-parcel
// suspects (tracking weight empty_suspect_per_10k, per 10,000 parcels collected), bursts of
// one-star ratings counted per firm tree (burst_scope) and kept through the weekly netting
// (net_bursts_apart). It is not
// built in: a version is the evaluation committee's, fixed and published before the period it
// governs starts, so regulators store it (PUT /v1/scoring/method) before 2027-01-01, when it
// takes effect; 2026.1 stays as it is, since a version never changes and the grades already
// published under it must recompute to the same values. Under 2026.1 the suspects are already
// out of the handled and on-time counts (that is measurement, not methodology); 2026.2 makes
// them count against their collector.
const Method2026_2 = `{
  "version": "2026.2",
  "effective_from": "2027-01-01T00:00:00+08:00",
  "description": "2026.1 with empty-parcel suspects (空包) weighing against the firm, site and person that collected them, as much as a loss each; bursts counted per firm tree and kept through the weekly netting",
  "window_months": 24,
  "time_weights": [{"up_to_months": 6, "weight": 3}, {"up_to_months": 12, "weight": 2}, {"up_to_months": 24, "weight": 1}],
  "severity_weights": {"minor": 1, "general": 3, "serious": 8},
  "category_weights": {"supervision": 1, "enforcement": 1.5, "complaint": 0.8, "media": 0.8, "licence": 1.2, "service_quality": 1, "delivery_safety": 1.5},
  "party_weights": {"regulator": 0.4, "tracking": 0.3, "merchant": 0.15, "consumer": 0.15},
  "tracking_weights": {"late_per_10k": 0.02, "lost_per_10k": 1.0, "damaged_per_10k": 0.5, "complaints_per_million": 0.05, "empty_suspect_per_10k": 1.0},
  "prior_mean": 4.2,
  "prior_count": 10,
  "commitment_bonus": 10,
  "bonus_cap": 30,
  "min_parcels": 500,
  "min_ratings": 20,
  "volume_bands": [10000, 100000, 1000000],
  "cutoffs": {"A": 850, "B": 700, "C": 550},
  "rating_edit_hours": 168,
  "burst_count": 5,
  "burst_weight": 0.2,
  "suspect_five_star": 0,
  "burst_scope": "firm_tree",
  "net_bursts_apart": true,
  "lists": {
    "red_consecutive_a": 2,
    "black_consecutive_d": 2,
    "revocation_grade": [{"category": "delivery_safety", "severity": "serious"}],
    "review_decile_periods": 4,
    "sanction_months": {"redlist": 12, "blacklist": 12, "public_exposure": 3, "platform_restriction": 6, "suspension": 3, "revocation_proposal": 0}
  },
  "inspections_by_grade": {"A": 1, "B": 2, "C": 4, "D": 12, "insufficient": 2}
}`

// Method2026_3 is 2026.2 with the evidence weighed by its amount (issue 12 item 5): record
// points per 10,000 parcels over at least 500 parcels, halving at 50; a standard error for each
// component from its sample size, each component weighing its party's weight × its
// credibility 150²/(150² + SE²), and the score's error what the evidence leaves open; the
// grade range within one standard error in the explanation; insufficient when the score's
// standard error exceeds 70 points and no record is in force (in place of 500 parcels or 20 ratings); ratings shrunk toward the peer
// group's mean. A new version, not a change of 2026.2: 2026.2 has been published and may be
// stored, and a stored version never changes. It takes effect on 2027-04-01, the next quarter
// after 2026.2, since two versions cannot take effect at the same time.
const Method2026_3 = `{
  "version": "2026.3",
  "effective_from": "2027-04-01T00:00:00+08:00",
  "description": "2026.2 (bursts per firm tree, kept through the netting) with records as a rate of the volume handled, standard errors from the sample sizes, grade ranges, insufficient by the score's standard error, ratings shrunk toward the peer group",
  "window_months": 24,
  "time_weights": [{"up_to_months": 6, "weight": 3}, {"up_to_months": 12, "weight": 2}, {"up_to_months": 24, "weight": 1}],
  "severity_weights": {"minor": 1, "general": 3, "serious": 8},
  "category_weights": {"supervision": 1, "enforcement": 1.5, "complaint": 0.8, "media": 0.8, "licence": 1.2, "service_quality": 1, "delivery_safety": 1.5},
  "party_weights": {"regulator": 0.4, "tracking": 0.3, "merchant": 0.15, "consumer": 0.15},
  "tracking_weights": {"late_per_10k": 0.02, "lost_per_10k": 1.0, "damaged_per_10k": 0.5, "complaints_per_million": 0.05, "empty_suspect_per_10k": 1.0},
  "prior_mean": 4.2,
  "prior_count": 10,
  "commitment_bonus": 10,
  "bonus_cap": 30,
  "volume_bands": [10000, 100000, 1000000],
  "cutoffs": {"A": 850, "B": 700, "C": 550},
  "rating_edit_hours": 168,
  "burst_count": 5,
  "burst_weight": 0.2,
  "suspect_five_star": 0,
  "burst_scope": "firm_tree",
  "net_bursts_apart": true,
  "lists": {
    "red_consecutive_a": 2,
    "black_consecutive_d": 2,
    "revocation_grade": [{"category": "delivery_safety", "severity": "serious"}],
    "review_decile_periods": 4,
    "sanction_months": {"redlist": 12, "blacklist": 12, "public_exposure": 3, "platform_restriction": 6, "suspension": 3, "revocation_proposal": 0}
  },
  "inspections_by_grade": {"A": 1, "B": 2, "C": 4, "D": 12, "insufficient": 2},
  "evidence": {"exposure_floor": 500, "record_half": 50, "record_unit": 3, "star_variance": 1, "spread": 150, "max_se": 70, "shrink": "peer"}
}`

// Method2026_4 is 2026.3 with the delay of a late parcel attributed to whoever caused it
// (issue 12 item 3): the custody chain's segments each against the norm of its kind (pickup
// 24 h, sorting 24 h, line haul 48 h, last mile 36 h, segment_norms), a late parcel's delay
// shared among the holders whose segment exceeded its norm in proportion to how far, and the
// tracking measure weighing each subject's attributed late parcels per 10,000 it handled
// (late_share_per_10k) in place of the delivering outlet's late deliveries per 10,000 it
// delivered (late_per_10k, 0 here). A late parcel with no segment over its norm stays the
// delivering outlet's. Two evidence rules amended by the validity decomposition (issue 12
// item 6; METHOD.md): the tracking component in two parts, timeliness (the late rate) and
// incidents, each with its own error and credibility (timeliness_share), and the record
// count's error over the parcels handled rather than over the exposure floor
// (record_error_by_volume). A new version, not a change of 2026.3, which has been published;
// it takes effect on 2027-07-01, the quarter after 2026.3.
const Method2026_4 = `{
  "version": "2026.4",
  "effective_from": "2027-07-01T00:00:00+08:00",
  "description": "2026.3 (records as a rate, standard errors, grade ranges, peer shrinkage) with the delay of a late parcel attributed along its custody chain: shared among the holders whose segment exceeded its norm, by how far; the late rate weighed by its own error apart from the rare incidents; the record error over the parcels handled",
  "window_months": 24,
  "time_weights": [{"up_to_months": 6, "weight": 3}, {"up_to_months": 12, "weight": 2}, {"up_to_months": 24, "weight": 1}],
  "severity_weights": {"minor": 1, "general": 3, "serious": 8},
  "category_weights": {"supervision": 1, "enforcement": 1.5, "complaint": 0.8, "media": 0.8, "licence": 1.2, "service_quality": 1, "delivery_safety": 1.5},
  "party_weights": {"regulator": 0.4, "tracking": 0.3, "merchant": 0.15, "consumer": 0.15},
  "tracking_weights": {"late_per_10k": 0, "late_share_per_10k": 0.02, "lost_per_10k": 1.0, "damaged_per_10k": 0.5, "complaints_per_million": 0.05, "empty_suspect_per_10k": 1.0},
  "segment_norms": {"pickup": 24, "sorting": 24, "line_haul": 48, "last_mile": 36},
  "prior_mean": 4.2,
  "prior_count": 10,
  "commitment_bonus": 10,
  "bonus_cap": 30,
  "volume_bands": [10000, 100000, 1000000],
  "cutoffs": {"A": 850, "B": 700, "C": 550},
  "rating_edit_hours": 168,
  "burst_count": 5,
  "burst_weight": 0.2,
  "suspect_five_star": 0,
  "burst_scope": "firm_tree",
  "net_bursts_apart": true,
  "lists": {
    "red_consecutive_a": 2,
    "black_consecutive_d": 2,
    "revocation_grade": [{"category": "delivery_safety", "severity": "serious"}],
    "review_decile_periods": 4,
    "sanction_months": {"redlist": 12, "blacklist": 12, "public_exposure": 3, "platform_restriction": 6, "suspension": 3, "revocation_proposal": 0}
  },
  "inspections_by_grade": {"A": 1, "B": 2, "C": 4, "D": 12, "insufficient": 2},
  "evidence": {"exposure_floor": 500, "record_half": 50, "record_unit": 3, "star_variance": 1, "spread": 150, "max_se": 70, "shrink": "peer",
    "timeliness_share": 0.5, "record_error_by_volume": true}
}`

// Method2026_5 is 2026.4 with three amendments from the validity bench (issue 12 item 6;
// METHOD.md): a person's late share taken only from the segments they had in hand
// (staff_carried_share), not from the wait at a site after an arrival they scanned; grade
// cut-offs for the credibility-weighted score of 2026.3 on, which no longer reaches 2026.1's A;
// and bursts of one-star ratings judged by the rater's own pace (burst_pace), so that a busy
// merchant's honest one-star rating hours after a burst is not one of it. Empty-parcel suspects
// weigh as in 2026.2–2026.4, a loss each per 10,000 collected. A new version, not a change of
// 2026.4, which has been published; it takes effect on 2028-01-01, two quarters after 2026.4,
// so that it is published a full quarter before it governs a period.
const Method2026_5 = `{
  "version": "2026.5",
  "effective_from": "2028-01-01T00:00:00+08:00",
  "description": "2026.4 (delay attributed along the custody chain, evidence weighed by its amount) with a person's late share from the segments they had in hand, cut-offs for the credibility-weighted score, and bursts of one-star ratings judged by the rater's own pace",
  "window_months": 24,
  "time_weights": [{"up_to_months": 6, "weight": 3}, {"up_to_months": 12, "weight": 2}, {"up_to_months": 24, "weight": 1}],
  "severity_weights": {"minor": 1, "general": 3, "serious": 8},
  "category_weights": {"supervision": 1, "enforcement": 1.5, "complaint": 0.8, "media": 0.8, "licence": 1.2, "service_quality": 1, "delivery_safety": 1.5},
  "party_weights": {"regulator": 0.4, "tracking": 0.3, "merchant": 0.15, "consumer": 0.15},
  "tracking_weights": {"late_per_10k": 0, "late_share_per_10k": 0.02, "lost_per_10k": 1.0, "damaged_per_10k": 0.5, "complaints_per_million": 0.05, "empty_suspect_per_10k": 1.0},
  "segment_norms": {"pickup": 24, "sorting": 24, "line_haul": 48, "last_mile": 36},
  "staff_carried_share": true,
  "prior_mean": 4.2,
  "prior_count": 10,
  "commitment_bonus": 10,
  "bonus_cap": 30,
  "volume_bands": [10000, 100000, 1000000],
  "cutoffs": {"A": 700, "B": 550, "C": 400},
  "rating_edit_hours": 168,
  "burst_count": 5,
  "burst_weight": 0.2,
  "suspect_five_star": 0,
  "burst_scope": "firm_tree",
  "net_bursts_apart": true,
  "burst_pace": 0.1,
  "lists": {
    "red_consecutive_a": 2,
    "black_consecutive_d": 2,
    "revocation_grade": [{"category": "delivery_safety", "severity": "serious"}],
    "review_decile_periods": 4,
    "sanction_months": {"redlist": 12, "blacklist": 12, "public_exposure": 3, "platform_restriction": 6, "suspension": 3, "revocation_proposal": 0}
  },
  "inspections_by_grade": {"A": 1, "B": 2, "C": 4, "D": 12, "insufficient": 2},
  "evidence": {"exposure_floor": 500, "record_half": 50, "record_unit": 3, "star_variance": 1, "spread": 150, "max_se": 70, "shrink": "peer",
    "timeliness_share": 0.5, "record_error_by_volume": true}
}`

// TrackingNorms are the segment norms m publishes, as tracking measures them (nil when m
// publishes none): cmd wires them into tracking.Options.SegmentNorms.
func (m Methodology) TrackingNorms() map[tracking.SegmentKind]time.Duration {
	if m.SegmentNorms == nil {
		return nil
	}
	out := map[tracking.SegmentKind]time.Duration{}
	for k, h := range m.SegmentNorms {
		out[tracking.SegmentKind(k)] = time.Duration(h * float64(time.Hour))
	}
	return out
}

// ParseMethod reads and validates a methodology document, naming every bad field.
func ParseMethod(doc string) (Methodology, error) {
	var m Methodology
	dec := json.NewDecoder(bytes.NewReader([]byte(doc)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return Methodology{}, credtrace.InvalidField("methodology", "%v", err)
	}
	if dec.More() {
		return Methodology{}, credtrace.InvalidField("methodology", "unexpected data after the JSON document")
	}
	v := &credtrace.Validation{}
	if m.Version == "" {
		v.Add("version", "required")
	}
	if m.WindowMonths < 1 || m.WindowMonths > 60 {
		v.Add("window_months", "must be between 1 and 60")
	}
	last := 0
	for i, b := range m.TimeWeights {
		if b.UpToMonths <= last || b.Weight < 0 {
			v.Add(fmt.Sprintf("time_weights[%d]", i), "bands must grow and weights be non-negative")
		}
		last = b.UpToMonths
	}
	for _, sev := range []string{"minor", "general", "serious"} {
		if m.SeverityWeights[sev] <= 0 {
			v.Add("severity_weights."+sev, "must be positive")
		}
	}
	if m.PartyWeights["regulator"] <= 0 {
		// Every subject has a regulator component (records or none); it anchors the mean.
		v.Add("party_weights.regulator", "must be positive")
	}
	if len(m.TimeWeights) == 0 {
		v.Add("time_weights", "at least one band")
	}
	sum := 0.0
	for _, p := range []string{"regulator", "tracking", "merchant", "consumer"} {
		w, ok := m.PartyWeights[p]
		if !ok || w < 0 {
			v.Add("party_weights."+p, "required and non-negative")
		}
		sum += w
	}
	if sum < 0.999 || sum > 1.001 {
		v.Add("party_weights", "must sum to 1 (got %.3f)", sum)
	}
	if m.PriorMean < 1 || m.PriorMean > 5 {
		v.Add("prior_mean", "must be between 1 and 5")
	}
	if m.PriorCount < 0 {
		v.Add("prior_count", "must not be negative")
	}
	if !(m.Cutoffs["A"] > m.Cutoffs["B"] && m.Cutoffs["B"] > m.Cutoffs["C"] && m.Cutoffs["C"] > 0 && m.Cutoffs["A"] <= 1000) {
		v.Add("cutoffs", "need 1000 >= A > B > C > 0")
	}
	if !sort.IntsAreSorted(m.VolumeBands) {
		v.Add("volume_bands", "must be ascending")
	}
	if m.BurstPace < 0 || m.BurstPace > 1 {
		v.Add("burst_pace", "a share of the rater's pace, between 0 and 1")
	}
	if m.BurstWeight < 0 || m.BurstWeight > 1 || m.SuspectFiveStar < 0 || m.SuspectFiveStar > 1 {
		v.Add("burst_weight", "weights are between 0 and 1")
	}
	if m.BurstScope != "" && m.BurstScope != BurstPerRater && m.BurstScope != BurstPerTree {
		v.Add("burst_scope", "must be %s or %s", BurstPerRater, BurstPerTree)
	}
	if e := m.Evidence; e != nil {
		if e.ExposureFloor < 1 {
			v.Add("evidence.exposure_floor", "must be at least 1 parcel")
		}
		if e.RecordHalf <= 0 || e.RecordUnit <= 0 || e.MaxSE <= 0 || e.StarVariance <= 0 || e.Spread <= 0 {
			v.Add("evidence", "record_half, record_unit, star_variance, spread and max_se must be positive")
		}
		if e.TimelinessShare < 0 || e.TimelinessShare >= 1 {
			v.Add("evidence.timeliness_share", "must be at least 0 and below 1")
		}
		if e.Shrink != "peer" && e.Shrink != "all" {
			v.Add("evidence.shrink", "must be peer or all")
		}
	}
	if m.SegmentNorms != nil || m.TrackingWeights["late_share_per_10k"] > 0 {
		for _, k := range tracking.SegmentKinds {
			if h, ok := m.SegmentNorms[string(k)]; !ok || h <= 0 || h > maxSegmentNorm {
				v.Add("segment_norms."+string(k), "required with late_share_per_10k, in hours, above 0 and at most %g", maxSegmentNorm)
			}
		}
		for k := range m.SegmentNorms {
			if !slices.Contains(tracking.SegmentKinds, tracking.SegmentKind(k)) {
				v.Add("segment_norms."+k, "not a segment kind (pickup, sorting, line_haul, last_mile)")
			}
		}
	}
	if m.Lists.RedConsecutiveA < 1 || m.Lists.BlackConsecutiveD < 1 || m.Lists.ReviewDecile < 1 {
		v.Add("lists", "period counts must be at least 1")
	}
	return m, v.Err()
}

// timeWeight is the weight of a record of the given age in months.
func (m Methodology) timeWeight(ageMonths float64) float64 {
	if ageMonths < 0 {
		return 0
	}
	for _, b := range m.TimeWeights {
		if ageMonths < float64(b.UpToMonths) {
			return b.Weight
		}
	}
	return 0
}

// grade turns a score into a letter.
func (m Methodology) grade(v float64) Grade {
	switch {
	case v >= m.Cutoffs["A"]:
		return GradeA
	case v >= m.Cutoffs["B"]:
		return GradeB
	case v >= m.Cutoffs["C"]:
		return GradeC
	}
	return GradeD
}

// band names a volume band.
func (m Methodology) band(parcels int) string {
	lo := 0
	for _, hi := range m.VolumeBands {
		if parcels < hi {
			return fmt.Sprintf("%d-%d", lo, hi)
		}
		lo = hi
	}
	return fmt.Sprintf("%d+", lo)
}
