package scoring

// Assess and Reassess expose the rating-weight rules to the external tests.
var (
	Assess   = assess
	Reassess = reassess
	Netted   = netted
)

// SetPage sets how many subjects a run reads at a time, so that a small fixture spans pages.
func SetPage(s *Service, n int) { s.page = n }
