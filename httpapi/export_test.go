package httpapi

// Exported for the tests of the dashboard's vocabulary and region names.
var (
	Terms       = terms
	Term        = term
	ReadRegions = readRegions
	WebFS       = webFS
)
