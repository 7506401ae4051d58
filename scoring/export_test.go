package scoring

// Assess and Reassess expose the rating-weight rules to the external tests.
var (
	Assess   = assess
	Reassess = reassess
	Netted   = netted
)
